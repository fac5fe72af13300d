"""The GPU path: vLLM's offline engine (`vllm.LLM`), one per GPU worker process.

Written against vLLM's documented offline API: `LLM(model=..., **engine_args)`,
`LLM.chat(conversations, sampling_params)` returning one `RequestOutput` per conversation,
whose `.prompt_token_ids` and `.outputs[i]` (`CompletionOutput`: `.index`, `.text`,
`.token_ids`, `.finish_reason`) are read here, and `SamplingParams(n, temperature, top_p,
max_tokens, seed, stop)`. vLLM seeds the n samples of a request with seed + index, which is
the convention of this package (see its docstring).

vLLM needs a GPU and is an optional extra (`pip install .[gpu]`), so it is imported only when a
backend is built, and the request building and the output mapping are plain functions that
are tested everywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from generation.backends import (
    BackendError,
    Candidate,
    Conversation,
    ReplyStream,
    SamplingParams,
    check_batch,
    elapsed_ms,
    worker_name,
)


def build_sampling_kwargs(params: SamplingParams, *, n: int) -> dict[str, Any]:
    """The keyword arguments of `vllm.SamplingParams` for n samples with `params`."""
    return {
        "n": n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_new_tokens,
        "seed": params.seed,
        "stop": list(params.stop),
    }


def candidates_from_outputs(
    request_outputs: Sequence[Any],
    *,
    params: SamplingParams,
    n: int,
    model: str,
    latency_ms: int,
    worker: str,
) -> list[list[Candidate]]:
    """Candidates from vLLM's RequestOutputs, one list of n per conversation, in order.

    Sample i carries seed + i, the seed vLLM gave that sample.
    """
    batch: list[list[Candidate]] = []
    for request in request_outputs:
        outputs = sorted(request.outputs, key=lambda output: output.index)
        if len(outputs) != n:
            raise BackendError(f"vLLM returned {len(outputs)} outputs for a request of {n}")
        prompt_tokens = len(request.prompt_token_ids or ())
        batch.append(
            [
                Candidate(
                    text=output.text,
                    finish_reason=output.finish_reason or "unknown",
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(output.token_ids),
                    latency_ms=latency_ms,
                    params=(
                        params
                        if params.seed is None
                        else params.with_seed(params.seed + output.index)
                    ),
                    backend=VLLMBackend.name,
                    model=model,
                    worker=worker,
                )
                for output in outputs
            ]
        )
    return batch


class VLLMBackend:
    """A model on this worker's GPU(s) through vLLM.

    Settings: `model` (a local folder or GGUF file, or a model id already in the Hugging Face
    cache: workers never download) and `engine`, keyword arguments for `vllm.LLM`
    (`tensor_parallel_size`, `gpu_memory_utilization`, `dtype`, `max_model_len`, ...).
    """

    name = "vllm"

    def __init__(self, *, model: str, engine: Mapping[str, Any] | None = None) -> None:
        # Before vLLM (and huggingface_hub under it) read it: a worker must never reach the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import vllm
        except ImportError as exc:
            raise BackendError(
                "the vllm backend needs vLLM, on a GPU worker: pip install .[gpu]"
            ) from exc
        self.model = model
        self._vllm = vllm
        self._llm = vllm.LLM(model=model, **dict(engine or {}))

    def generate(
        self, batch: Sequence[Conversation], params: SamplingParams, *, n: int = 1
    ) -> list[list[Candidate]]:
        check_batch(batch, n=n)
        if not batch:
            return []
        params = params.resolved()
        sampling = self._vllm.SamplingParams(**build_sampling_kwargs(params, n=n))
        started = time.perf_counter()
        outputs = self._llm.chat([list(c) for c in batch], sampling_params=sampling, use_tqdm=False)
        return candidates_from_outputs(
            outputs,
            params=params,
            n=n,
            model=self.model,
            latency_ms=elapsed_ms(started),
            worker=worker_name(),
        )

    def stream(self, messages: Conversation, params: SamplingParams) -> ReplyStream:
        """The whole reply as one delta: the offline `LLM` has no token stream.

        Live chat that must stream from a GPU goes through `vllm serve` and the openai
        backend, which streams.
        """
        return ReplyStream(self._stream(messages, params))

    def _stream(
        self, messages: Conversation, params: SamplingParams
    ) -> Generator[str, None, Candidate]:
        [[candidate]] = self.generate([messages], params, n=1)
        if candidate.text:
            yield candidate.text
        return candidate
