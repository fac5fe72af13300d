"""Small real files for the multimodal tests, made with Pillow."""

import base64
import io
import json

from PIL import Image


def png(width: int = 40, height: int = 30, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def wav() -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 200)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_prompt_line(data: bytes = b"", **extra) -> str:
    """A prompt about an image, with two answers and reference facts."""
    return json.dumps(
        {
            "id": "img-1",
            "prompt": "What colour is the square in this picture?",
            "images": [{"data": "data:image/png;base64," + b64(data or png()), "name": "sq.png"}],
            "reference": {
                "caption": "A teal square.",
                "answer": "Teal",
                "documents": [{"title": "Colours", "text": "Teal is a blue-green."}],
            },
            "responses": [
                {"text": "It is teal.", "model": "model-a"},
                {"text": "It is red.", "model": "model-b"},
            ],
            **extra,
        }
    )
