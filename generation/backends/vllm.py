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

A conversation with images goes through `LLM.generate` with vLLM's documented multimodal
prompt, `{"prompt": ..., "multi_modal_data": {"image": ...}}` (`build_prompt`): the prompt is
the model's chat template, rendered by its Hugging Face processor with an image placeholder
per image, and `image` the decoded images (one, or a list for several; more than one per
prompt needs the engine's `limit_mm_per_prompt`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from generation.backends import (
    BackendError,
    Candidate,
    Conversation,
    ReplyStream,
    SamplingParams,
    chat_parts,
    check_batch,
    elapsed_ms,
    has_images,
    worker_name,
)

# Renders a chat (content as lists of parts) to the model's prompt text, with the generation
# prompt: the processor's `apply_chat_template(chat, tokenize=False, add_generation_prompt=True)`.
Render = Callable[[list[dict[str, Any]]], str]


def build_prompt(conversation: Conversation, render: Render) -> dict[str, Any]:
    """One conversation as a prompt of `LLM.generate`: its rendered text, and its images as
    `multi_modal_data` (a single image as itself, several as a list, as vLLM documents)."""
    chat, images = chat_parts(conversation)
    prompt: dict[str, Any] = {"prompt": render(chat)}
    if images:
        prompt["multi_modal_data"] = {"image": images[0] if len(images) == 1 else images}
    return prompt


def vision_of_engine(llm: Any) -> bool:
    """Whether vLLM loaded the model as a multimodal one (False where it cannot say)."""
    config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    return bool(getattr(config, "is_multimodal_model", False))


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
    cache: workers never download), `engine`, keyword arguments for `vllm.LLM`
    (`tensor_parallel_size`, `gpu_memory_utilization`, `dtype`, `max_model_len`,
    `limit_mm_per_prompt`, ...) and `vision` (whether the model sees images; by default what
    vLLM says of the model it loaded).
    """

    name = "vllm"

    def __init__(
        self,
        *,
        model: str,
        engine: Mapping[str, Any] | None = None,
        vision: bool | None = None,
    ) -> None:
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
        self.vision = vision_of_engine(self._llm) if vision is None else vision
        self._processor: Any = None

    def _render(self, chat: list[dict[str, Any]]) -> str:
        if self._processor is None:
            from transformers import AutoProcessor

            self._processor = AutoProcessor.from_pretrained(self.model, local_files_only=True)
        text = self._processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        assert isinstance(text, str)
        return text

    def generate(
        self, batch: Sequence[Conversation], params: SamplingParams, *, n: int = 1
    ) -> list[list[Candidate]]:
        check_batch(batch, n=n, vision=self.vision, model=self.model)
        if not batch:
            return []
        params = params.resolved()
        sampling = self._vllm.SamplingParams(**build_sampling_kwargs(params, n=n))
        started = time.perf_counter()
        if any(has_images(c) for c in batch):
            prompts = [build_prompt(c, self._render) for c in batch]
            outputs = self._llm.generate(prompts, sampling_params=sampling, use_tqdm=False)
        else:
            chats = [[{"role": m["role"], "content": m["content"]} for m in c] for c in batch]
            outputs = self._llm.chat(chats, sampling_params=sampling, use_tqdm=False)
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
