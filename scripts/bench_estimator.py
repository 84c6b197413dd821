"""Time bon.estimator.expected_best_of_n at the target size: P=10,000 prompts, M=1,024 samples, all n.

Two cases: continuous rewards (no ties, tie averaging is skipped) and rewards rounded to 1 decimal
(heavy ties, every row averages values within tied blocks). Target: < 1 s each.

    python scripts/bench_estimator.py          # full size, best of 3, rewrites BENCHMARKS.md "estimator"
    python scripts/bench_estimator.py --quick  # P=1,000, 1 repeat, no BENCHMARKS.md
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib

import numpy as np

from benchlib import emit, update_section
from bon.estimator import default_ns, expected_best_of_n

TARGET_S = 1.0


def best_time(rewards, values, ns, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = expected_best_of_n(rewards, values, ns)
        times.append(time.perf_counter() - t0)
    assert out.shape == (len(ns), rewards.shape[0])  # sanity, not validation
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="P=1,000 and 1 repeat; do not touch BENCHMARKS.md")
    args = ap.parse_args()
    P, M = (1_000 if args.quick else 10_000), 1_024
    repeats = 1 if args.quick else 3
    ns = default_ns(M)  # 1, 2, 4, ..., 1024
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(P, M))  # (P, M) continuous: no ties
    values = rng.normal(size=(P, M))
    rewards_ties = np.round(rewards, 1)  # ~60 distinct levels per row: heavy ties
    expected_best_of_n(rewards[:10], values[:10], ns)  # warm-up: imports, first-call allocations
    t = best_time(rewards, values, ns, repeats)
    t_ties = best_time(rewards_ties, values, ns, repeats)
    for case, s in (("no ties", t), ("ties (rounded to 0.1)", t_ties)):
        print(f"{case:>24}: P={P} M={M} len(ns)={len(ns)} {s:.3f} s (best of {repeats}, target < {TARGET_S} s)")
    if not args.quick:
        rows = "\n".join(
            f"| {case} | {P:,} | {M:,} | {len(ns)} | {s:.3f} | < {TARGET_S:g} s |"
            for case, s in (("continuous rewards (no ties)", t), ("rewards rounded to 0.1 (heavy ties)", t_ties))
        )
        body = (
            "## estimator: `expected_best_of_n`\n\n"
            f"values (P, M) float64, ns = {ns[0]}, {ns[1]}, {ns[2]}, ..., {ns[-1]}; best of {repeats} runs.\n\n"
            "| case | P | M | len(ns) | seconds | target |\n|---|---:|---:|---:|---:|---|\n" + rows
        )
        update_section("estimator", body)
    emit({"seconds": round(t, 4), "seconds_ties": round(t_ties, 4), "P": P, "M": M, "target_s": TARGET_S, "quick": args.quick})


if __name__ == "__main__":
    main()
