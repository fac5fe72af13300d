"""`make bench-generate`: tokens per second of the default model through a Celery worker,
against the same model called directly with transformers in the same run.

Both sides generate the same work: R prompts x B samples x up to T new tokens, sampled. The
direct side calls `model.generate` on the GGUF weights in this process; the worker side
enqueues generation requests to a real `celery worker` process over the configured broker and
counts the tokens the stored messages report, from the first enqueue to the last reply stored.
One JSON line per side and one with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import time

from tests.bench.common import PY, ROOT, emit

PROMPTS = [
    "Give me three tips for writing clear emails.",
    "Explain what a hash table is in two sentences.",
    "Suggest a name for a small bakery.",
    "What should I pack for a day hike?",
    "Write a haiku about autumn rain.",
    "How do I boil an egg?",
    "Summarise the plot of Romeo and Juliet briefly.",
    "Why is the sky blue?",
]


def direct(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generation.backends.transformers import default_model_files

    torch.set_num_threads(args.threads)
    folder, gguf, _ = default_model_files()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, local_files_only=True)
    model.eval()
    tokens = 0
    started = time.perf_counter()
    for i, prompt in enumerate(PROMPTS[: args.prompts]):
        ids = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True,
            return_tensors="pt", return_dict=True,
        )  # fmt: skip
        torch.manual_seed(i)
        with torch.no_grad():
            out = model.generate(
                **ids, do_sample=True, temperature=0.7, top_p=1.0,
                max_new_tokens=args.max_new_tokens, num_return_sequences=args.samples,
                pad_token_id=tok.pad_token_id or tok.eos_token_id,
            )  # fmt: skip
        new = out[:, ids["input_ids"].shape[1] :]
        for row in new.tolist():
            # Up to and including the first end-of-turn token, as the backend counts.
            end = next((k + 1 for k, t in enumerate(row) if t == tok.eos_token_id), len(row))
            tokens += end
    seconds = time.perf_counter() - started
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def through_worker(args: argparse.Namespace) -> dict:
    var = ROOT / "var" / "bench-generate"
    shutil.rmtree(var, ignore_errors=True)
    env = {**os.environ, "AGORA_VAR_DIR": str(var), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)  # a SQLite file of its own, shared with the worker
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    worker = subprocess.Popen(
        [PY, "-m", "celery", "-A", "webapp", "worker", "--pool", "solo", "-Q", "default",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        out = subprocess.run(
            [PY, "-m", "tests.bench.generate_client", "--prompts", str(args.prompts),
             "--samples", str(args.samples), "--max-new-tokens", str(args.max_new_tokens),
             "--threads", str(args.threads)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)


def main(args: argparse.Namespace) -> None:
    common = {"prompts": args.prompts, "samples_per_prompt": args.samples,
              "max_new_tokens": args.max_new_tokens, "torch_threads": args.threads}  # fmt: skip
    d = direct(args)
    emit(bench="generate", path="direct transformers", **common, **d)
    w = through_worker(args)
    emit(bench="generate", path="celery worker", **common, **w)
    emit(
        bench="generate",
        path="worker vs direct",
        worker_over_direct=round(w["tokens_per_s"] / d["tokens_per_s"], 3),
        target="worker loses less than 10%",
        met=w["tokens_per_s"] >= 0.9 * d["tokens_per_s"],
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--samples", type=int, default=4, help="samples per prompt (batch size)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    main(p.parse_args())
