"""Measure the share of the bundled policy's replies that a given ``sampler.max_new_tokens`` would cut off.

Method: sample every selected prompt once at a large budget (--cap) with bon's HF sampler (temperature 1, top_p 1,
as the default config samples), and read each reply's length in tokens (counting the stop token, as the sampler
does). A reply of natural length L is cut off at budget B exactly when L > B (or when it already hit the cap), so one
sampling pass gives the truncation share at every budget up to the cap. Items are taken with a stride through each
file (TruthfulQA's file is ordered by category), every template of an item kept.

    python scripts/measure_truncation.py --quick     # a handful of prompts, to check the script runs
    python scripts/measure_truncation.py --items 12 --truthfulqa /work/shared/data/truthfulqa/answer.jsonl

Prints one line per data set and, last, one JSON object: {set: {budget: share cut off}, ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon

from bon.chat import Prompt  # noqa: E402
from bon.data import bundled_dir, load  # noqa: E402
from bon.sampling import make_sampler  # noqa: E402

MODEL = "bundled:smollm2-135m-instruct"
BUDGETS = (40, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024)


def strided_items(examples, per_kind: int):
    """Every template of ``per_kind`` items per kind, taken with an even stride through the file order."""
    by_kind: dict[str, list[str]] = {}
    for e in examples:
        ids = by_kind.setdefault(e.kind, [])
        if e.item_id not in ids:
            ids.append(e.item_id)
    keep = set()
    for kind, ids in by_kind.items():
        step = max(1, len(ids) // per_kind)
        keep |= {(kind, i) for i in ids[::step][:per_kind]}
    return [e for e in examples if (e.kind, e.item_id) in keep]


def shares(lengths: list[int], capped: list[bool], budgets) -> dict[int, float]:
    """Share of replies cut off at each budget: natural length (stop token included) above it, or capped."""
    n = len(lengths)
    return {b: sum(c or L > b for L, c in zip(lengths, capped)) / n for b in budgets}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=12, help="items per kind and data set")
    ap.add_argument("--m", type=int, default=2, help="samples per prompt")
    ap.add_argument("--cap", type=int, default=512, help="the budget sampled at (largest budget measured)")
    ap.add_argument("--truthfulqa", default=None, help="TruthfulQA answer.jsonl (sentence answers)")
    ap.add_argument("--quick", action="store_true", help="2 items per kind, cap 128")
    args = ap.parse_args()
    if args.quick:
        args.items, args.cap = 2, 128
    budgets = [b for b in BUDGETS if b <= args.cap]
    sets = {"truthfulqa": [args.truthfulqa]} if args.truthfulqa else {}
    sets["bundled"] = [str(bundled_dir())]
    sampler = make_sampler("hf", model=MODEL, temperature=1.0, top_p=1.0, max_new_tokens=args.cap,
                           overlength="skip", prompts_per_batch=24, device="cpu", dtype="auto", max_model_len=None)
    result = {}
    for name, paths in sets.items():
        exs = strided_items(load(paths, kinds=["answer", "feedback", "mimicry"]).examples, args.items)
        t = time.time()
        outs = sampler.sample([Prompt.of(e.conversation, e.prefill, e.key) for e in exs], m=args.m, seed=0,
                              progress=False)
        by_kind: dict[str, tuple[list, list]] = {}
        for e, comps in zip(exs, outs):
            for c in comps:
                for k in ("all", e.kind):
                    L, C = by_kind.setdefault(k, ([], []))
                    L.append(c.n_tokens)
                    C.append(c.finish_reason == "length")
        result[name] = {k: {"replies": len(L), "cut_off": {str(b): round(s, 3) for b, s in
                                                          shares(L, C, budgets).items()}}
                        for k, (L, C) in by_kind.items()}
        print(f"{name}: {len(exs)} prompts x {args.m} in {time.time() - t:.0f}s: "
              + json.dumps(result[name]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
