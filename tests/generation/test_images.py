"""Prompts with images reach the models that see them, and a text-only model refuses them.

The refusal runs the real default model (SmolLM2, text-only). No vision-language model's
weights are available offline, so the transformers vision path runs a tiny Llava built here
with random weights (its processor from SmolLM2's tokenizer and a CLIP image processor): the
replies are noise, but the request building, the processor, the pixels and generation are the
real code. vLLM cannot run here: its request building is tested as plain functions. The
OpenAI-compatible path is in test_backends.py (a loopback server stands in for the remote
endpoint).
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
import torch
from django.urls import reverse
from PIL import Image

from annotation.models import Message
from annotation.services import prompts_import
from generation.backends import (
    BackendError,
    ImageData,
    SamplingParams,
    backend_for,
    chat_parts,
)
from generation.backends.transformers import (
    TransformersBackend,
    default_model_files,
    vision_detected,
    vision_inputs,
)
from generation.backends.vllm import build_prompt, vision_of_engine
from generation.models import GenerationRequest, LanguageModel
from generation.services import generation_request_create
from generation.services.candidates import conversation_for_model
from generation.tasks import generate_candidates_task
from tests.trees.media import b64

TINY = {"max_new_tokens": 4, "temperature": 0.7, "seed": 11}
# The chat template of the tiny model: an image part renders as the processor's <image>.
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>"
    "{% else %}{{ p['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def picture(colour: str = "teal", size: tuple[int, int] = (3, 2)) -> bytes:
    image = Image.new("RGB", size, colour)
    image.putpixel((0, 0), (250, 10, 20))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def asking(*images: bytes, text: str = "What colour is the square?") -> list:
    return [
        {"role": "user", "content": text, "images": [ImageData(i, "image/png") for i in images]}
    ]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def smollm(db):
    return LanguageModel.objects.create(
        name="smollm2-135m", backend="transformers", settings={"threads": 1}, sampling_params=TINY
    )


@pytest.fixture
def image_campaign(make_campaign, alice, smollm):
    campaign = make_campaign(members=[alice], responses_per_prompt=2, overlap=1)
    campaign.language_models.add(smollm)
    lines = [
        {"id": "pic", "prompt": "What colour is the square?",
         "images": [{"data": "data:image/png;base64," + b64(picture()), "name": "sq.png"}]},
        {"id": "txt", "prompt": "Name a colour."},
    ]  # fmt: skip
    report = prompts_import(campaign=campaign, content="\n".join(json.dumps(x) for x in lines))
    assert report.ok, report.lines
    return campaign


def prompt_of(campaign, external_id: str) -> Message:
    return Message.objects.get(
        conversation__campaign=campaign, conversation__external_id=external_id, role="user"
    )


# --- what a backend is given -----------------------------------------------------------------


def test_the_conversation_a_model_gets_carries_the_prompts_images(image_campaign):
    [message] = conversation_for_model(parent=prompt_of(image_campaign, "pic"))
    assert message["content"] == "What colour is the square?"
    [image] = message["images"]
    assert image.content_type == "image/png" and _pixels(image.data) == _pixels(picture())
    assert conversation_for_model(parent=prompt_of(image_campaign, "txt")) == [
        {"role": "user", "content": "Name a colour."}
    ]


def test_chat_parts_put_a_placeholder_per_image_before_the_text():
    two = asking(picture(), picture("navy"), text="Which is darker?")
    chat, images = chat_parts([{"role": "system", "content": "Be brief."}, *two])
    assert chat == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "image"}, {"type": "image"}, {"type": "text", "text": "Which is darker?"}
            ],
        },
    ]  # fmt: skip
    assert [i.tobytes() for i in images] == [_pixels(picture()), _pixels(picture("navy"))]


# --- a text-only model refuses, with the real default model ----------------------------------


def test_the_default_model_is_text_only_and_refuses_an_image_it_cannot_see(default_model):
    assert default_model.vision is False
    with pytest.raises(BackendError) as refused:
        default_model.generate([asking(picture())], SamplingParams(**TINY))
    assert "text-only" in str(refused.value) and '"vision": true' in str(refused.value)
    assert not refused.value.transient  # no retry cures it
    with pytest.raises(BackendError, match="text-only"):
        default_model.stream(asking(picture()), SamplingParams(**TINY))
    # Without the image, the same question is answered.
    [[reply]] = default_model.generate(
        [[{"role": "user", "content": "What colour is the sky?"}]], SamplingParams(**TINY)
    )
    assert reply.text


def test_the_request_fails_at_once_with_the_reason_on_the_generation_page(
    image_campaign, smollm, default_model, client, carol
):
    request, _ = generation_request_create(
        campaign=image_campaign,
        parent=prompt_of(image_campaign, "pic"),
        language_model=smollm,
        n=2,
        enqueue=False,
    )
    generate_candidates_task.apply(args=[request.id])
    request.refresh_from_db()
    assert (request.state, request.attempts) == (GenerationRequest.State.FAILED, 1)
    assert "text-only model" in request.error and "cannot see" in request.error
    assert not Message.objects.filter(parent=request.parent, role="assistant").exists()
    # The text prompt of the same campaign is answered by the same model.
    text, _ = generation_request_create(
        campaign=image_campaign,
        parent=prompt_of(image_campaign, "txt"),
        language_model=smollm,
        n=2,
        enqueue=False,
    )
    generate_candidates_task.apply(args=[text.id])
    text.refresh_from_db()
    assert text.state == GenerationRequest.State.DONE, text.error

    client.force_login(carol)
    html = client.get(reverse("dashboard:generation", args=[image_campaign.id])).content.decode()
    failures = html.split('data-testid="generation-failures"')[1].split("</table>")[0]
    assert (
        "smollm2-135m" in failures
        and "is a text-only model and this prompt has an image" in failures
    )


def test_the_default_model_cannot_be_declared_a_vision_model():
    with pytest.raises(BackendError, match="text-only"):
        backend_for("transformers", {"threads": 1, "vision": True})


# --- transformers: a vision-language model (tiny, random weights, built offline) -------------


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    """A Llava of one layer a side with random weights, and its processor, saved as a model
    folder: the shape of a real image-text-to-text model, built without any download."""
    from transformers import (
        AutoTokenizer,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder, gguf, _ = default_model_files()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf, local_files_only=True)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}
        ),
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=TEMPLATE,
        image_token="<image>",
    )
    torch.manual_seed(0)
    config = LlavaConfig(
        text_config=LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
            max_position_embeddings=256, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        ),
        vision_config=CLIPVisionConfig(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            image_size=28, patch_size=14, projection_dim=16,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
    )  # fmt: skip
    out = tmp_path_factory.mktemp("tiny-llava")
    LlavaForConditionalGeneration(config).save_pretrained(out)
    processor.save_pretrained(out)
    return SimpleNamespace(path=str(out), processor=processor, image_token=config.image_token_index)


def test_the_processor_gets_the_image_placeholders_and_pixels(tiny_llava):
    inputs = vision_inputs(
        tiny_llava.processor,
        [
            asking(picture()),
            asking(picture(), picture("navy")),
            [{"role": "user", "content": "Hi"}],
        ],
    )
    # 2x2 patches of 14 pixels: four image tokens per image, in the right row.
    assert (inputs["input_ids"] == tiny_llava.image_token).sum(dim=1).tolist() == [4, 8, 0]
    assert tuple(inputs["pixel_values"].shape) == (3, 3, 28, 28)  # three images in all
    assert inputs["attention_mask"][:, -1].tolist() == [1, 1, 1]  # left-padded


def _scores(backend: TransformersBackend, conversation: list) -> torch.Tensor:
    """The model's scores for the next token, from the backend's own request building."""
    params = [SamplingParams(temperature=0, seed=1)]
    inputs, *_ = backend._thread.submit(backend._prepare, [conversation], params).result()
    with torch.inference_mode():
        return backend._thread.submit(lambda: backend._model(**inputs).logits[0, -1]).result()


def test_a_vision_model_is_detected_from_its_config_and_answers_about_the_image(tiny_llava):
    from transformers import AutoConfig

    assert vision_detected(AutoConfig.from_pretrained(tiny_llava.path, local_files_only=True))
    backend = TransformersBackend(model=tiny_llava.path, threads=1)
    assert backend.vision is True
    greedy = SamplingParams(temperature=0, max_new_tokens=6, seed=3)
    [[teal]] = backend.generate([asking(picture())], greedy)
    [[navy]] = backend.generate([asking(picture("navy"))], greedy)
    [[none]] = backend.generate(
        [[{"role": "user", "content": "What colour is the square?"}]], greedy
    )
    assert teal.backend == "transformers" and teal.completion_tokens
    # The four image tokens are in the prompt, and the model computes on the pixels: its
    # next-token scores differ with the picture (random weights: the sampled words need not).
    assert teal.prompt_tokens == navy.prompt_tokens == none.prompt_tokens + 4
    assert not torch.allclose(
        _scores(backend, asking(picture())), _scores(backend, asking(picture("navy")))
    )
    stream = backend.stream(asking(picture()), greedy)
    assert "".join(stream) == teal.text and stream.candidate is not None
    # Declared text-only, the same model refuses the image.
    refusing = TransformersBackend(model=tiny_llava.path, threads=1, vision=False)
    with pytest.raises(BackendError, match="text-only"):
        refusing.generate([asking(picture())], greedy)


# --- vLLM: request building (vLLM cannot run here) -------------------------------------------


def test_vllm_gets_its_documented_multimodal_prompt(tiny_llava):
    def render(chat):
        return tiny_llava.processor.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True
        )

    one = build_prompt(asking(picture()), render)
    assert one["prompt"] == (
        "<|im_start|>user\n<image>What colour is the square?<|im_end|>\n<|im_start|>assistant\n"
    )
    image = one["multi_modal_data"]["image"]
    assert isinstance(image, Image.Image) and image.tobytes() == _pixels(picture())
    two = build_prompt(asking(picture(), picture("navy")), render)
    assert two["prompt"].count("<image>") == 2
    assert [i.tobytes() for i in two["multi_modal_data"]["image"]] == [
        _pixels(picture()), _pixels(picture("navy"))
    ]  # fmt: skip
    assert build_prompt([{"role": "user", "content": "Hi"}], render) == {
        "prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    }


def test_vllm_says_whether_the_model_it_loaded_is_multimodal():
    def engine(multimodal):
        return SimpleNamespace(
            llm_engine=SimpleNamespace(model_config=SimpleNamespace(is_multimodal_model=multimodal))
        )

    assert vision_of_engine(engine(True)) is True
    assert vision_of_engine(engine(False)) is False
    assert vision_of_engine(SimpleNamespace()) is False  # cannot say: text-only
