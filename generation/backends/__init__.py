"""Generation backends: messages in, candidates out.

A layer of its own because the Celery tasks, the live chat and the benchmark all ask the same
thing ("k replies to each of these conversations, and exactly how each was made") whether the
model runs in this process (`transformers`), on a GPU worker (`vllm`) or behind an HTTP endpoint
(`openai`). Nothing here touches the ORM or Agora's models, so a backend can be tested and
benchmarked on its own, and a worker imports only the backend it serves: the modules are
imported lazily by `backend_for`.

Seeds: a call's `SamplingParams.seed` is a base seed. Sample j of each conversation is drawn
with seed + j and its `Candidate.params` carries that seed, so `generate([conversation],
candidate.params, n=1)` asks for that sample again (vLLM seeds its n samples the same way). A
call without a seed gets a random one, which is recorded all the same.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import io
import json
import math
import secrets
import socket
import threading
import time
from collections.abc import Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendError",
    "Candidate",
    "Conversation",
    "ImageData",
    "Message",
    "ReplyStream",
    "SamplingParams",
    "backend_cache_clear",
    "backend_for",
    "backends_loaded",
]

ROLES = frozenset({"system", "user", "assistant"})
# Seeds travel through torch, vLLM and JSON APIs; keeping them below 2**63 suits all three.
SEED_LIMIT = 2**63
# A drawn seed stays short enough to read and to type back in.
_DRAWN_SEED_LIMIT = 2**31


@dataclass(frozen=True, slots=True)
class ImageData:
    """An image a message carries: the file's bytes (PNG, JPEG, GIF or WebP, checked when it
    was uploaded) and its content type."""

    data: bytes
    content_type: str

    def data_url(self) -> str:
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode()}"

    def pil(self) -> PILImage.Image:
        """The image decoded, in RGB (what image processors take)."""
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as image:
            return image.convert("RGB")


class Message(TypedDict):
    role: str
    content: str
    images: NotRequired[Sequence[ImageData]]


Conversation = Sequence[Message]


def text_only_refusal(model: str) -> str:
    """Why a text-only model does not answer a conversation with an image."""
    return (
        f"{model} is a text-only model and this prompt has an image, which it cannot see: "
        "it was not asked to answer. Generate for this campaign with a vision-language model, "
        'or, if this model is one, set "vision": true in its settings.'
    )


def chat_parts(conversation: Conversation) -> tuple[list[dict[str, Any]], list[PILImage.Image]]:
    """The conversation as the chat templates of vision-language processors take it: each
    message's content a list of parts, its images first (`{"type": "image"}` placeholders)
    then its text; and the images, decoded, in the order of their placeholders."""
    chat: list[dict[str, Any]] = []
    images: list[PILImage.Image] = []
    for m in conversation:
        pictures = list(m.get("images") or ())
        parts: list[dict[str, Any]] = [{"type": "image"} for _ in pictures]
        parts.append({"type": "text", "text": m["content"]})
        chat.append({"role": m["role"], "content": parts})
        images.extend(p.pil() for p in pictures)
    return chat, images


def has_images(conversation: Conversation) -> bool:
    return any(m.get("images") for m in conversation)


class BackendError(Exception):
    """Why a backend could not give candidates.

    `transient` marks what a retry may cure (rate limits, 5xx, timeouts, a refused connection),
    so the Celery task retries those with backoff and fails the rest at once; `status` is the
    HTTP status where there was one, `retry_after` the server's Retry-After in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to sample; frozen so the params stored beside a candidate are the ones used."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # JSON from the database brings a list (or one string); keep a tuple so the
        # dataclass stays hashable and a string is never split into characters.
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        object.__setattr__(self, "stop", stop)
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"stop must hold non-empty strings, got {stop!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
            "stop": list(self.stop),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SamplingParams:
        """Params from a JSON field; an unknown key is an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown sampling parameters: {', '.join(sorted(unknown))}"
                f" (known: {', '.join(sorted(known))})"
            )
        return cls(**data)

    def with_seed(self, seed: int) -> SamplingParams:
        return dataclasses.replace(self, seed=seed)

    def resolved(self) -> SamplingParams:
        """These params with a concrete seed, so even an unseeded sample can be redrawn."""
        if self.seed is not None:
            return self
        return self.with_seed(secrets.randbelow(_DRAWN_SEED_LIMIT))

    def per_sample(self, n: int) -> list[SamplingParams]:
        """The params of samples 0..n-1: seed, seed + 1, ... (see the module docstring)."""
        base = self.resolved()
        assert base.seed is not None
        if base.seed + n > SEED_LIMIT:
            raise ValueError(f"seed {base.seed} + {n} samples passes 2**63")
        return [base.with_seed(base.seed + j) for j in range(n)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One generated reply and everything about how it was made.

    `finish_reason` is "stop" (end of turn or a stop string) or "length" (max_new_tokens was
    hit), or what a server said otherwise. Token counts are None only where an HTTP server did
    not report them. `latency_ms` is the wall time of the call that produced it; a batch's
    candidates share their batch's time.
    """

    text: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int
    params: SamplingParams
    backend: str
    model: str
    worker: str

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["params"] = self.params.to_dict()
        return data


class ReplyStream(Iterator[str]):
    """The text deltas of one reply; after the last one, `candidate` describes the reply.

    Not a bare iterator of strings because a streamed live-chat turn is stored with the same
    metadata (token counts, finish reason, seed, latency) as a batch candidate.
    """

    def __init__(self, deltas: Generator[str, None, Candidate]) -> None:
        self._deltas = deltas
        self.candidate: Candidate | None = None

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._deltas)
        except StopIteration as end:
            if self.candidate is None:
                self.candidate = end.value
            raise

    def close(self) -> None:
        """Stop generating: the consumer (say, a closed browser tab) is gone."""
        self._deltas.close()


class Backend(Protocol):
    """What every backend does. `name` is the backend, `model` the model it serves, `vision`
    whether it sees the images of a conversation (else it refuses them)."""

    name: str
    model: str
    vision: bool

    def generate(
        self, batch: Sequence[Conversation], params: SamplingParams, *, n: int = 1
    ) -> list[list[Candidate]]:
        """n candidates for each conversation, in the order of `batch`."""
        ...

    def stream(self, messages: Conversation, params: SamplingParams) -> ReplyStream:
        """One reply to `messages`, as text deltas."""
        ...


def check_batch(
    batch: Sequence[Conversation], *, n: int, vision: bool = False, model: str = "this model"
) -> None:
    """Refuse malformed input here, with a message, rather than deep inside a model; and a
    conversation with an image when the model is text-only (`vision` false)."""
    if n < 1:
        raise BackendError(f"n must be >= 1, got {n}")
    for i, conversation in enumerate(batch):
        if not conversation:
            raise BackendError(f"conversation {i} has no messages")
        for message in conversation:
            if message.get("role") not in ROLES or not isinstance(message.get("content"), str):
                raise BackendError(
                    f"conversation {i}: each message needs a role in {sorted(ROLES)}"
                    f" and a string content, got {message!r}"
                )
            images = message.get("images") or ()
            if not all(isinstance(image, ImageData) for image in images):
                raise BackendError(f"conversation {i}: images must be ImageData, got {images!r}")
            if images and not vision:
                raise BackendError(text_only_refusal(model))


def worker_name() -> str:
    """The host a candidate was made on, kept with it."""
    return socket.gethostname()


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started`, a `time.perf_counter()` reading."""
    return round((time.perf_counter() - started) * 1000)


# name -> "module:class"; imported on first use so a web process never loads torch.
_BACKENDS = {
    "transformers": "generation.backends.transformers:TransformersBackend",
    "vllm": "generation.backends.vllm:VLLMBackend",
    "openai": "generation.backends.openai:OpenAIBackend",
}
BACKEND_NAMES = tuple(_BACKENDS)

# Settings that must never come from a model's (database-stored) settings.
_REFUSED_SETTINGS = {
    "api_key": "an API key never goes in the backend settings: put it in an environment"
    " variable and name that variable in api_key_env",
    "allowed_base_urls": "the allow-list comes from the deployment's settings"
    " (AGORA_OPENAI_ALLOWED_BASE_URLS), not from a model's settings",
}


def settings_refused(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first setting a model's stored settings may never hold, and why; None if none."""
    for refused, why in _REFUSED_SETTINGS.items():
        if refused in settings:
            return refused, why
    return None


_loaded: dict[tuple[str, str, tuple[str, ...]], Backend] = {}
_loading = threading.Lock()


def backend_for(
    name: str,
    settings: Mapping[str, Any] | None = None,
    *,
    allowed_base_urls: Collection[str] = (),
) -> Backend:
    """The backend `name` with `settings`, loaded once per process and then reused.

    Loading a model takes seconds to minutes and its memory, so a worker keeps one per
    (name, settings). `allowed_base_urls` is the deployment's allow-list for the openai
    backend (AGORA_OPENAI_ALLOWED_BASE_URLS); it is an argument, not a setting, so a model's
    stored settings can never widen it.
    """
    if name not in _BACKENDS:
        raise BackendError(f"unknown backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    settings = dict(settings or {})
    if refused := settings_refused(settings):
        raise BackendError(f"setting {refused[0]!r} refused: {refused[1]}")
    allowed = tuple(sorted(allowed_base_urls)) if name == "openai" else ()
    key = (name, json.dumps(settings, sort_keys=True, default=str), allowed)
    # One lock for all loads: two threads asking for the same model must not load it twice,
    # and loads are rare enough that serialising them costs nothing.
    with _loading:
        backend = _loaded.get(key)
        if backend is None:
            backend = _load(name, settings, allowed)
            _loaded[key] = backend
    return backend


def backends_loaded() -> list[Backend]:
    """The backends this process keeps loaded (backend_for's cache)."""
    with _loading:
        return list(_loaded.values())


def backend_cache_clear() -> None:
    """Forget loaded backends (tests; a worker reloading its models)."""
    with _loading:
        _loaded.clear()


def _load(name: str, settings: dict[str, Any], allowed: tuple[str, ...]) -> Backend:
    module_name, class_name = _BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    accepted = set(inspect.signature(cls).parameters) - {"allowed_base_urls"}
    unknown = set(settings) - accepted
    if unknown:
        raise BackendError(
            f"unknown settings for backend {name!r}: {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(accepted))})"
        )
    extra = {"allowed_base_urls": allowed} if name == "openai" else {}
    backend: Backend = cls(**settings, **extra)
    return backend
