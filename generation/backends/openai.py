"""Any OpenAI-compatible chat completions endpoint over HTTP: a `vllm serve` fleet, a hosted API.

Only base URLs on the deployment's allow-list (AGORA_OPENAI_ALLOWED_BASE_URLS) are used, and
that is checked before any request, so a model's settings cannot make a worker call an
arbitrary host. The API key is read from the environment variable named in the settings at
request time; it never sits in the database. Redirects are not followed, so an allowed host
cannot hand the key on to another one.

Each sample is its own request (n=1, seed + j) rather than one request with n: a response
reports one usage for all its choices and one seed for the request, and Agora keeps exact token
counts and the seed of every candidate. Prefix caching on the server (vLLM's default) keeps the
repeated prompt cheap; the requests run concurrently.

A message with images is sent as content parts, its images first as `image_url` parts holding
a data URL (`data:image/png;base64,...`), then its text. Whether the served model sees images
cannot be asked of the endpoint, so it is the model's `vision` setting (false by default: a
conversation with an image is refused before any request).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx

from generation.backends import (
    BackendError,
    Candidate,
    Conversation,
    Message,
    ReplyStream,
    SamplingParams,
    check_batch,
    elapsed_ms,
    worker_name,
)

ALLOW_LIST_SETTING = "AGORA_OPENAI_ALLOWED_BASE_URLS"
# What a retry may cure: timeouts, "too early", rate limits; and any 5xx (checked below).
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


def normalize_base_url(url: str) -> str:
    """The form base URLs are compared in: lower-case scheme and host, no default port, no
    trailing slash. Comparing whole normalized URLs (never prefixes) means
    https://api.example.com.evil.test cannot pass for https://api.example.com."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError as exc:
        raise BackendError(f"base URL {url!r} has an invalid port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendError(f"base URL {url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BackendError(f"base URL {url!r} must not carry credentials, a query or a fragment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = 443 if parts.scheme == "https" else 80
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def chat_message(message: Message) -> dict[str, Any]:
    """A message as the chat completions API takes it: text alone, or with images, content
    parts (each image an `image_url` part with a data URL, then the text)."""
    images = message.get("images") or ()
    if not images:
        return {"role": message["role"], "content": message["content"]}
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": image.data_url()}} for image in images
    ]
    parts.append({"type": "text", "text": message["content"]})
    return {"role": message["role"], "content": parts}


def check_base_url(url: str, allowed: Collection[str]) -> str:
    """`url`, normalized, if it is on the allow-list; else a clear BackendError."""
    normalized = normalize_base_url(url)
    if normalized not in {normalize_base_url(a) for a in allowed}:
        listed = ", ".join(sorted(allowed)) or "nothing"
        raise BackendError(
            f"base URL {url!r} is not on the allow-list {ALLOW_LIST_SETTING}"
            f" (it allows: {listed}); add it there to use it"
        )
    return normalized


class OpenAIBackend:
    """A model behind an OpenAI-compatible `/chat/completions` endpoint.

    Settings: `base_url` (e.g. "http://gpu-1:8000/v1"; must be on the allow-list), `model`
    (the name the server knows), `api_key_env` (the environment variable holding the key, if
    the server wants one), `timeout_s` (per request), `max_concurrency` (requests in flight
    per call) and `vision` (whether the served model sees images; false by default).
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        allowed_base_urls: Collection[str],
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        max_concurrency: int = 4,
        vision: bool = False,
    ) -> None:
        self.base_url = check_base_url(base_url, allowed_base_urls)
        self._allowed = tuple(allowed_base_urls)
        self.model = model
        self.vision = vision
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_concurrency = max(1, max_concurrency)
        self._url = f"{self.base_url}/chat/completions"
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def generate(
        self, batch: Sequence[Conversation], params: SamplingParams, *, n: int = 1
    ) -> list[list[Candidate]]:
        check_batch(batch, n=n, vision=self.vision, model=self.model)
        if not batch:
            return []
        jobs = [(c, p) for c in batch for p in params.per_sample(n)]
        headers = self._headers()  # a missing key fails here, before any request
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(jobs))) as pool:
            candidates = list(pool.map(lambda job: self._complete(*job, headers=headers), jobs))
        return [candidates[i : i + n] for i in range(0, len(candidates), n)]

    def stream(self, messages: Conversation, params: SamplingParams) -> ReplyStream:
        check_batch([messages], n=1, vision=self.vision, model=self.model)
        return ReplyStream(self._stream(messages, params.resolved(), headers=self._headers()))

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise BackendError(
                f"the environment variable {self.api_key_env} (api_key_env of {self.base_url})"
                " is not set"
            )
        return {"Authorization": f"Bearer {key}"}

    def _body(self, messages: Conversation, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [chat_message(m) for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
            "seed": params.seed,
            "n": 1,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    def _complete(
        self, messages: Conversation, params: SamplingParams, *, headers: dict[str, str]
    ) -> Candidate:
        # Checked again at the request itself: the allow-list guards every request, not
        # only the construction of the backend.
        check_base_url(self.base_url, self._allowed)
        started = time.perf_counter()
        try:
            response = self._client.post(
                self._url, json=self._body(messages, params), headers=headers
            )
        except httpx.HTTPError as exc:
            self._raise_unreachable(exc)
        if response.is_error:
            raise self._error(response)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendError(
                f"{self._url} answered {response.status_code} with no chat completion:"
                f" {response.text[:300]!r}"
            ) from exc
        usage = data.get("usage") or {}
        return Candidate(
            text=text,
            finish_reason=choice.get("finish_reason") or "unknown",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_ms=elapsed_ms(started),
            params=params,
            backend=self.name,
            model=data.get("model") or self.model,
            worker=worker_name(),
        )

    def _stream(
        self, messages: Conversation, params: SamplingParams, *, headers: dict[str, str]
    ) -> Generator[str, None, Candidate]:
        check_base_url(self.base_url, self._allowed)
        body = {
            **self._body(messages, params),
            "stream": True,
            # The last chunk then carries the token counts the stored reply needs.
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        parts: list[str] = []
        finish_reason, model = "unknown", self.model
        usage: dict[str, Any] = {}
        try:
            with self._client.stream("POST", self._url, json=body, headers=headers) as response:
                if response.is_error:
                    response.read()
                    raise self._error(response)
                for line in response.iter_lines():
                    # Server-sent events: only "data:" lines matter; blank lines separate
                    # events and ":" lines are comments (keep-alives).
                    if not line.startswith("data:"):
                        continue
                    payload = line[len("data:") :].strip()
                    if payload == "[DONE]":
                        break
                    chunk = self._chunk(payload)
                    usage = chunk.get("usage") or usage
                    model = chunk.get("model") or model
                    for choice in chunk.get("choices") or []:
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            parts.append(delta)
                            yield delta
                        finish_reason = choice.get("finish_reason") or finish_reason
        except httpx.HTTPError as exc:
            self._raise_unreachable(exc)
        return Candidate(
            text="".join(parts),
            finish_reason=finish_reason,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_ms=elapsed_ms(started),
            params=params,
            backend=self.name,
            model=model,
            worker=worker_name(),
        )

    def _chunk(self, payload: str) -> dict[str, Any]:
        try:
            chunk = json.loads(payload)
        except ValueError as exc:
            raise BackendError(
                f"{self._url} streamed a line that is not JSON: {payload[:300]!r}"
            ) from exc
        if not isinstance(chunk, dict):
            raise BackendError(f"{self._url} streamed {payload[:300]!r}, not a JSON object")
        if "error" in chunk:
            # vLLM reports an error found mid-stream as a chunk, after the 200.
            raise BackendError(f"{self._url} failed while streaming: {_message(chunk)}")
        return chunk

    def _raise_unreachable(self, exc: httpx.HTTPError) -> NoReturn:
        if isinstance(exc, httpx.TimeoutException):
            raise BackendError(
                f"{self._url} did not answer within {self.timeout_s:g}s", transient=True
            ) from exc
        if isinstance(exc, httpx.TransportError):
            raise BackendError(f"could not reach {self._url}: {exc}", transient=True) from exc
        raise BackendError(f"request to {self._url} failed: {exc}") from exc

    def _error(self, response: httpx.Response) -> BackendError:
        status = response.status_code
        try:
            message = _message(response.json())
        except ValueError:
            message = response.text[:500] or response.reason_phrase
        retry_after = response.headers.get("Retry-After", "")
        return BackendError(
            f"{self._url} answered {status}: {message}",
            transient=status in _TRANSIENT_STATUSES or status >= 500,
            status=status,
            # Seconds in ASCII digits ("²" passes isdigit() and fails float()).
            retry_after=float(retry_after)
            if retry_after.isascii() and retry_after.isdigit() and len(retry_after) <= 9
            else None,
        )


def _message(body: Any) -> str:
    """The message of an error body: OpenAI's {"error": {"message"}}, vLLM's older
    {"message"}, or the body itself."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("message"):
            return str(body["message"])
    return json.dumps(body)[:500]
