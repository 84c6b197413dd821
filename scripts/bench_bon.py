"""The cost of a whole best-of-N curve: ``bon`` (one pool, exact estimator) against naive regeneration.

Curves for N = 1, 2, 4, ..., 32 and two PM variants (``standard`` and ``non_sycophantic`` of
conf/variants/paper.yaml), on the same bundled prompts (answer and mimicry items), with the same policy and PM
(bundled SmolLM2-135M-Instruct on CPU; the sampler is ``make_sampler("auto")``, vLLM where it imports, used for
every approach). Three ways:

- ``bon``: draw M=32 samples per prompt once, score them under both variants with our engine (prefix reuse,
  length buckets), then the exact best-of-N estimator for every N (bon.estimator via the metrics' item_curves).
- ``naive``: what the peers do (TRL's removed BestOfNSampler, OpenRLHF's removed --best_of_n, its_hub's per-budget
  runs): for each N and each variant draw N fresh samples per prompt and keep the highest-reward one. The PM scores
  full inputs (prompt + response) in fixed-size unsorted batches of 8 (our engine in ``mode="naive"``: no prefix
  reuse, no length buckets).
- ``naive + our scorer``: the same regenerated samples, scored by our engine (``mode="cached"``). Its samples are the
  naive ones (drawn once, timed once): its wall time is that sampling time plus its own scoring and estimate time.
  This splits the gain of the estimator + sample reuse from the gain of the scorer.

The answers are graded by string matching (answer_sycophancy, grading="string") and mimicry by the metric's own
string rule, so no LM judge runs here (a naive run would judge only its picks anyway). CIs: percentile bootstrap
over items (bon.estimator.bootstrap_ci, same resamples count and seed); for ``naive`` the per-item values are the
single draw's pick at each N. Model loading and one warm-up call are outside every timing. Target: bon >= 3.5x less
wall time than naive, CI half-widths no wider (ci_ratio <= 1).

    python scripts/bench_bon.py --quick   # 2 answer items (8 prompts) + 2 mimicry prompts, max_new_tokens 12: ~10 min
    python scripts/bench_bon.py           # 4 answer items + 4 mimicry prompts, max_new_tokens 32; records
    python scripts/bench_bon.py --tiny    # smoke test (max_new_tokens 4); --record writes BENCHMARKS.md from any size

Most of the naive cost is its PM: every regenerated sample is scored on its full input (the judge wrapper, the
non-sycophantic variant's two extra turns and the prompt are re-run for every sample), so a small prompt set is the
only way to keep --quick under 15 minutes on 2 cores. The quick CIs rest on 2 answer items and 2 mimicry prompts
(10 prompts for the reward row): they show the direction, not a precise ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve each other on 2 vCPUs
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib

import numpy as np  # noqa: E402

from benchlib import emit, update_section  # noqa: E402

MODEL = "bundled:smollm2-135m-instruct"
M, SEED, NAIVE_BATCH, N_BOOT = 32, 0, 8, 2000
NS = [1, 2, 4, 8, 16, 32]
METRICS = ("answer_sycophancy", "mimicry_sycophancy", "reward")
SIZES = {  # answer items (4 prompts each), mimicry prompts, max_new_tokens
    "tiny": (2, 2, 4),
    "quick": (2, 2, 12),
    "full": (4, 4, 32),
}
TARGET_SPEEDUP = 3.5
HF_ROWS = 64  # HF fallback: rows per generate call, the same for every N (prompts_per_batch = HF_ROWS // n)


class Clock:
    """Wall and process-CPU seconds per (approach, phase). The vLLM engine and torch run in this process, so CPU
    time counts their work and barely moves when other jobs hold the cores; wall time is the headline."""

    def __init__(self):
        self.wall = defaultdict(float)
        self.cpu = defaultdict(float)

    def __call__(self, approach: str, phase: str, fn):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        self.wall[approach, phase] += time.perf_counter() - w
        self.cpu[approach, phase] += time.process_time() - c
        return out

    def total(self, approach: str, kind: str = "wall") -> float:
        d = self.wall if kind == "wall" else self.cpu
        return sum(v for (a, _), v in d.items() if a == approach)


def select_examples(n_answer: int, n_mimicry: int):
    """The first n_answer answer items (all 4 templates each) and the first n_mimicry mimicry prompts, bundled."""
    from bon.data import bundled_dir, load

    out = []
    for kind, n in (("answer", n_answer), ("mimicry", n_mimicry)):
        items: list[str] = []
        for e in load([bundled_dir()], kinds=[kind]).examples:
            if e.item_id not in items:
                if len(items) >= n:
                    continue
                items.append(e.item_id)
            out.append(e)
    return out


def load_variants():
    """The PM variants of conf/variants/paper.yaml, composed as a run composes them and built as the pipeline builds
    them."""
    from hydra import compose, initialize_config_module

    from bon.config import CONF_PACKAGE, register_configs
    from bon.scoring import Variant

    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["variants=paper"])
    out = []
    for name, v in cfg.variants.items():
        v = v or {}
        out.append(Variant(name=str(name), prefix=[dict(t) for t in v.get("prefix") or []], system=v.get("system")))
    return out


def draw(sampler, backend: str, prompts, n: int, seed: int):
    """n completions per prompt; raises when a prompt was skipped (every approach must see every prompt)."""
    if backend == "hf":  # keep rows per generate call the same for every n, so small n is not starved of batching
        sampler.prompts_per_batch = max(1, HF_ROWS // n)
    out = sampler.sample(prompts, m=n, seed=seed, progress=False)
    bad = [p.key for p, cs in zip(prompts, out) if len(cs) != n]
    if bad:
        raise RuntimeError(f"sampler returned fewer than {n} completions for prompt(s) {bad[:3]}; "
                           "lower max_new_tokens or pick shorter prompts")
    return out


def score(pm, mode: str, prompts, completions, variant, counters: dict) -> np.ndarray:
    """(P, n) rewards; the engine's token counters are added to ``counters``."""
    pm.engine.mode = mode
    pm.engine.reset_stats()
    r = np.stack(pm.score_groups(prompts, completions, variant, progress=False)).astype(np.float64)
    st = pm.stats
    for k in ("tokens_computed", "tokens_real", "forwards", "sequences"):
        counters[k] += st[k]
    return r


def item_values(metrics, examples, replies, rewards: np.ndarray, ns) -> dict[str, np.ndarray]:
    """{metric: (len(ns), n_items)} expected pick values per item, through each metric's own item_curves.

    With a pool of exactly n samples and ns=[n] this is the single draw's pick (the highest-reward sample), which
    is what a naive run observes.
    """
    out = {}
    for name, metric in metrics.items():
        sel = [i for i, e in enumerate(examples) if metric.applies(e)]
        exs = [examples[i] for i in sel]
        vals = metric.sample_values(exs, [replies[i] for i in sel])
        r = rewards[sel]
        out[name] = metric.item_curves(exs, r, r if vals is None else vals, ns)[name]
    return out


def half_widths(per_item: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{metric: (len(ns),) half-width of the 95% bootstrap CI over items}."""
    from bon.estimator import bootstrap_ci

    out = {}
    for name, arr in per_item.items():
        _, lo, hi = bootstrap_ci(arr, n_boot=N_BOOT, alpha=0.05, seed=SEED)
        out[name] = (np.asarray(hi) - np.asarray(lo)) / 2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small prompt set and max_new_tokens (< 15 min on 2 CPUs)")
    ap.add_argument("--tiny", action="store_true", help="smoke test: 2 answer items, 2 mimicry prompts, 4 tokens")
    ap.add_argument("--backend", default="auto", help="sampler backend for every approach: auto, vllm or hf")
    ap.add_argument("--record", action="store_true",
                    help="rewrite BENCHMARKS.md section 'bon' (default: full runs only)")
    args = ap.parse_args()
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    n_answer, n_mimicry, max_new = SIZES[size]
    record = args.record or size == "full"

    from bon.chat import Prompt
    from bon.metrics import make_metric
    from bon.sampling import make_sampler, resolve_backend
    from bon.scoring import make_pm

    t_start = time.perf_counter()
    examples = select_examples(n_answer, n_mimicry)
    prompts = [Prompt.of(e.conversation, e.prefill, e.key) for e in examples]
    variants = load_variants()
    metrics = {name: make_metric(name) for name in METRICS}
    backend = resolve_backend(args.backend)
    P = len(prompts)
    print(f"{P} prompts ({n_answer} answer items, {n_mimicry} mimicry), M={M}, ns={NS}, variants "
          f"{[v.name for v in variants]}, max_new_tokens={max_new}, sampler {backend}", file=sys.stderr)

    t = time.perf_counter()
    kw = {"prompts_per_batch": max(1, HF_ROWS // M), "device": "cpu"} if backend == "hf" else {}
    sampler = make_sampler(backend, model=MODEL, temperature=1.0, top_p=1.0, max_new_tokens=max_new, **kw)
    pm = make_pm("prompted", model=MODEL, device="cpu", naive_batch_size=NAIVE_BATCH)
    # Warm-up, outside the timings: vLLM's engine start and first-call costs, the PM's first allocations.
    warm = draw(sampler, backend, prompts[:1], 2, SEED + 999)
    for mode in ("naive", "cached"):
        score(pm, mode, prompts[:1], [[c.text for c in warm[0]]], variants[0], defaultdict(int))
    load_s = time.perf_counter() - t
    print(f"models loaded and warmed up in {load_s:.1f}s", file=sys.stderr)

    clock = Clock()
    gen_tokens = defaultdict(int)  # approach -> generated tokens
    samples = defaultdict(int)  # approach -> generated samples
    pm_tok = {a: defaultdict(int) for a in ("bon", "naive", "naive+ours")}

    # ---- bon: one pool of M per prompt, both variants, every N from the estimator
    pool = clock("bon", "sample", lambda: draw(sampler, backend, prompts, M, SEED))
    gen_tokens["bon"] = sum(c.n_tokens for cs in pool for c in cs)
    samples["bon"] = P * M
    comps = [[c.text for c in cs] for cs in pool]
    replies = [[e.prefill + c for c in cs] for e, cs in zip(examples, comps)]
    bon_items = {}
    for v in variants:
        r = clock("bon", "score", lambda: score(pm, "cached", prompts, comps, v, pm_tok["bon"]))
        bon_items[v.name] = clock("bon", "estimate", lambda: item_values(metrics, examples, replies, r, NS))
    bon_hw = clock("bon", "estimate", lambda: {v: half_widths(items) for v, items in bon_items.items()})
    print(f"bon done: {clock.total('bon'):.1f}s wall", file=sys.stderr)

    # ---- naive and naive + our scorer: N fresh samples per prompt for every (N, variant)
    naive_items = {a: {v.name: defaultdict(list) for v in variants} for a in ("naive", "naive+ours")}
    pick_disagreements, max_diff = 0, 0.0
    for k, n in enumerate(NS):
        for vi, v in enumerate(variants):
            seed = SEED + 1 + k * len(variants) + vi  # a fresh draw for every (N, variant)
            fresh = clock("naive", "sample", lambda: draw(sampler, backend, prompts, n, seed))
            gen_tokens["naive"] += sum(c.n_tokens for cs in fresh for c in cs)
            samples["naive"] += P * n
            comps_n = [[c.text for c in cs] for cs in fresh]
            replies_n = [[e.prefill + c for c in cs] for e, cs in zip(examples, comps_n)]
            rewards = {}
            for a, mode in ((("naive", "naive"), ("naive+ours", "cached")) if (k + vi) % 2 == 0
                            else (("naive+ours", "cached"), ("naive", "naive"))):  # alternate: fair under drift
                rewards[a] = clock(a, "score", lambda: score(pm, mode, prompts, comps_n, v, pm_tok[a]))
                items = clock(a, "estimate", lambda: item_values(metrics, examples, replies_n, rewards[a], [n]))
                for name, arr in items.items():
                    naive_items[a][v.name][name].append(arr[0])
            pick_disagreements += int((rewards["naive"].argmax(1) != rewards["naive+ours"].argmax(1)).sum())
            max_diff = max(max_diff, float(np.abs(rewards["naive"] - rewards["naive+ours"]).max()))
        print(f"naive N={n} done: {clock.total('naive'):.1f}s wall so far", file=sys.stderr)
    for (a, phase), s in list(clock.wall.items()):  # naive + ours reuses the naive draws: charge it their time
        if (a, phase) == ("naive", "sample"):
            clock.wall["naive+ours", "sample"] += s
            clock.cpu["naive+ours", "sample"] += clock.cpu[a, phase]
    gen_tokens["naive+ours"], samples["naive+ours"] = gen_tokens["naive"], samples["naive"]
    naive_hw = {}
    for a in ("naive", "naive+ours"):
        stacked = {v: {name: np.stack(rows) for name, rows in d.items()} for v, d in naive_items[a].items()}
        naive_hw[a] = clock(a, "estimate", lambda: {v: half_widths(items) for v, items in stacked.items()})
    if hasattr(sampler, "close"):
        sampler.close()

    # ---- report
    approaches = ("bon", "naive", "naive+ours")
    wall = {a: clock.total(a) for a in approaches}
    cpu = {a: clock.total(a, "cpu") for a in approaches}
    speedup = wall["naive"] / wall["bon"]
    speedup_cpu = cpu["naive"] / cpu["bon"]
    speedup_ours = wall["naive+ours"] / wall["bon"]
    ci = {}  # (metric, N) -> (bon mean hw over variants, naive mean hw over variants)
    for name in METRICS:
        for n in (8, 32):
            k = NS.index(n)
            b = float(np.mean([bon_hw[v.name][name][k] for v in variants]))
            nv = float(np.mean([naive_hw["naive"][v.name][name][k] for v in variants]))
            ci[name, n] = (b, nv)

    def ratio(n):
        rs = [ci[name, n][0] / ci[name, n][1] for name in METRICS if ci[name, n][1] > 0]
        return float(np.mean(rs)) if rs else float("nan")

    ci_ratio, ci_ratio_32 = ratio(8), ratio(32)
    phases = ("sample", "score", "estimate")
    md = [
        "## bon: a whole best-of-N curve against naive regeneration",
        "",
        f"N = {', '.join(map(str, NS))} for 2 PM variants ({', '.join(v.name for v in variants)}; "
        "conf/variants/paper.yaml) on the same "
        f"{P} bundled prompts ({n_answer} answer items x 4 templates, {n_mimicry} mimicry prompts), policy and PM "
        f"{MODEL} (prompted PM, fp32, CPU), sampler `{backend}` for every approach, temperature 1, "
        f"max_new_tokens={max_new} (`--{size}`). `bon`: M={M} drawn once, scored under both variants by our engine, "
        "exact estimator. `naive`: N fresh samples per prompt for each (N, variant), best kept; PM on full inputs "
        f"in unsorted batches of {NAIVE_BATCH}. `naive + our scorer`: the same fresh samples (drawn and timed once, "
        "charged to both) scored by our engine. Model load and warm-up excluded "
        f"({load_s:.0f} s). Answers graded by string matching, so no LM judge runs.",
        "",
        "| approach | wall s | CPU s | sample s | score s | estimate s | samples | generated tokens | "
        "PM tokens computed | PM tokens real | wall ratio vs bon |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a in approaches:
        md.append(f"| {a} | {wall[a]:.1f} | {cpu[a]:.1f} | " + " | ".join(f"{clock.wall[a, p]:.1f}" for p in phases)
                  + f" | {samples[a]:,} | {gen_tokens[a]:,} | {pm_tok[a]['tokens_computed']:,} | "
                  f"{pm_tok[a]['tokens_real']:,} | {wall[a] / wall['bon']:.2f} |")
    md += ["", "95% bootstrap CI half-width over items, mean of the two variants (bon: exact estimator on the pool; "
           "naive: the single draw's pick):", "",
           "| metric | items | bon N=8 | naive N=8 | ratio N=8 | bon N=32 | naive N=32 | ratio N=32 |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in METRICS:
        n_items = bon_items[variants[0].name][name].shape[-1]
        cells = []
        for n in (8, 32):
            b, nv = ci[name, n]
            if np.isnan(b) or np.isnan(nv):  # bootstrap_ci gives no interval on too few items (enough_resamples)
                cells += [f"n/a ({n_items} items: too few for a 95% interval)", "n/a", "n/a"]
                continue
            cells += [f"{b:.3f}", f"{nv:.3f}", f"{b / nv:.2f}" if nv > 0 else "n/a (both 0)" if b == 0 else "inf"]
        md.append(f"| {name} | {n_items} | " + " | ".join(cells) + " |")
    hit = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
    md += ["", f"Speedup (ratios, comparable anywhere): **{speedup:.2f}x** wall vs naive (target >= {TARGET_SPEEDUP}x: "
           f"{hit}), {speedup_cpu:.2f}x CPU time; {speedup_ours:.2f}x wall vs naive + our scorer. "
           f"ci_ratio (bon / naive half-width, mean over the metrics with an interval) **{ci_ratio:.2f}** at N=8, {ci_ratio_32:.2f} at N=32 "
           "(target <= 1). Generated samples differ by "
           f"{samples['naive'] / samples['bon']:.2f}x, generated tokens by "
           f"{gen_tokens['naive'] / gen_tokens['bon']:.2f}x, "
           f"PM tokens computed by {pm_tok['naive']['tokens_computed'] / pm_tok['bon']['tokens_computed']:.2f}x "
           f"(naive) and {pm_tok['naive+ours']['tokens_computed'] / pm_tok['bon']['tokens_computed']:.2f}x "
           f"(naive + our scorer). Picks that differ between the two scorers of the same draws: {pick_disagreements} "
           f"(max |reward difference| {max_diff:.1e}). Seconds and tokens/s are absolute (this machine only); 1-min load average at "
           f"the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; total run "
           f"{time.perf_counter() - t_start:.0f} s."]
    shares = "; ".join(f"{a}: " + ", ".join(f"{p} {clock.wall[a, p] / wall[a]:.0%}" for p in phases)
                       for a in approaches)
    md += ["", f"Where the wall time goes: {shares}."]
    if clock.wall["naive", "score"] > clock.wall["naive", "sample"]:
        md[-1] += (" Most of the naive cost is its PM: every regenerated sample is scored on its full input (judge "
                   "wrapper, the non-sycophantic variant's two extra turns, the prompt), so its PM tokens grow with "
                   "the sample count times the input length, while bon scores each prompt's prefix once per variant "
                   "and then only the continuations.")
    if speedup < TARGET_SPEEDUP:
        md += ["", f"**Target missed** ({speedup:.2f}x < {TARGET_SPEEDUP}x). Bound: the wall-time ratio cannot beat "
               "the ratio of the dominant phase's work; with sampling dominant that is the sample-count ratio "
               f"({samples['naive'] / samples['bon']:.2f}x), less the fixed per-call costs bon pays too. What would "
               "move it: longer PM inputs relative to the responses (real prompts, not these short ones) raise "
               "naive's scoring share; a faster sampler raises the scoring share of both."]
    print("\n".join(md), file=sys.stderr)
    if record:
        update_section("bon", "\n".join(md))
    emit({"speedup": round(speedup, 3), "speedup_cpu": round(speedup_cpu, 3),
          "speedup_vs_naive_ours": round(speedup_ours, 3), "ci_ratio": round(ci_ratio, 3),
          "ci_ratio_32": round(ci_ratio_32, 3), "wall_s": {a: round(wall[a], 2) for a in approaches},
          "generated_tokens": dict(gen_tokens), "pm_tokens": {a: pm_tok[a]["tokens_computed"] for a in approaches},
          "ci_half_width": {f"{name}@{n}": [round(x, 4) for x in ci[name, n]] for name, n in ci},
          "pick_disagreements": pick_disagreements, "backend": backend, "size": size, "quick": args.quick})


if __name__ == "__main__":
    main()
