"""Files a message carries (multimodal prompts): what makes a file acceptable.

An image must open with Pillow as PNG, JPEG, GIF or WebP (its declared name or type is not
trusted); audio and video, where the campaign allows them, must start like a file of a known
container. Every file is at most AGORA_ATTACHMENT_MAX_BYTES. services.attachments keeps them.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from PIL import Image, UnidentifiedImageError

from annotation.errors import RuleError
from annotation.models import Attachment

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
IMAGE_MAX_PIXELS = 50_000_000  # past this, a small file may still be a decompression bomb
# (leading bytes, content type, extension) of the audio and video containers accepted.
AUDIO_SIGNATURES = [
    (b"RIFF", "audio/wav", "wav"),
    (b"ID3", "audio/mpeg", "mp3"),
    (b"\xff\xfb", "audio/mpeg", "mp3"),
    (b"OggS", "audio/ogg", "ogg"),
    (b"fLaC", "audio/flac", "flac"),
]
VIDEO_SIGNATURES = [(b"\x1a\x45\xdf\xa3", "video/webm", "webm")]


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    data: bytes
    name: str
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None


def _image(data: bytes, field: str) -> tuple[str, str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt, (width, height) = probe.format, probe.size
            if fmt not in IMAGE_FORMATS:
                raise RuleError(
                    f"{field} is a {fmt} image; use PNG, JPEG, GIF or WebP.", field=field
                )
            if width * height > IMAGE_MAX_PIXELS:
                raise RuleError(f"{field} has too many pixels ({width}×{height}).", field=field)
            probe.verify()  # reads the whole file: a truncated or corrupt image fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise RuleError(
            gettext("%(field)s is not an image (it could not be read as PNG, JPEG, GIF or WebP).")
            % {"field": field},
            field=field,
        ) from None
    assert fmt is not None
    return IMAGE_FORMATS[fmt], fmt.lower().replace("jpeg", "jpg"), width, height


def _signature(data: bytes, kind: str, field: str) -> tuple[str, str]:
    if kind == "video" and data[4:8] == b"ftyp":
        return "video/mp4", "mp4"
    signatures = AUDIO_SIGNATURES if kind == "audio" else VIDEO_SIGNATURES
    for lead, content_type, extension in signatures:
        if data.startswith(lead):
            if lead == b"RIFF" and data[8:12] != b"WAVE":
                continue
            return content_type, extension
    known = ", ".join(
        sorted({e for _, _, e in signatures} | ({"mp4"} if kind == "video" else set()))
    )
    raise RuleError(f"{field} is not {kind} this campaign accepts ({known}).", field=field)


def attachment_check(
    data: bytes,
    *,
    kind: str,
    name: str = "",
    allowed: Sequence[str] = ("image",),
    field: str,
    size: int | None = None,
) -> CheckedFile:
    """The file, checked for what it claims to be and for size; RuleError names the field.
    `size`: the upload's size where the caller did not read a file past the limit."""
    if kind not in Attachment.Kind.values:
        raise RuleError(f"{field}: there is no kind of file {kind!r}.", field=field)
    if kind not in allowed:
        raise RuleError(f"{field}: this campaign does not accept {kind} files.", field=field)
    limit = settings.AGORA_ATTACHMENT_MAX_BYTES
    size = len(data) if size is None else size
    if size > limit:
        raise RuleError(
            gettext("%(field)s is %(size)s; the limit is %(limit)s.")
            % {"field": field, "size": filesizeformat(size), "limit": filesizeformat(limit)},
            field=field,
        )
    if not data:
        raise RuleError(gettext("%(field)s is empty.") % {"field": field}, field=field)
    name = (name or "").replace("/", "_").replace("\\", "_")[:200]
    if kind == "image":
        content_type, extension, width, height = _image(data, field)
        return CheckedFile(kind, data, name, content_type, extension, width, height)
    content_type, extension = _signature(data, kind, field)
    return CheckedFile(kind, data, name, content_type, extension)


def base64_decode(value: Any, field: str) -> bytes:
    """Base64 text, or a data URL (`data:image/png;base64,...`), as bytes."""
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{field} must be base64 text or a data URL.", field=field)
    if value.startswith("data:"):
        head, _, value = value.partition(",")
        if not head.endswith(";base64"):
            raise RuleError(f"{field} must be a base64 data URL.", field=field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RuleError(f"{field} is not valid base64.", field=field) from None
