"""The curves stage: per-item best-of-N curves per (metric row, PM variant) with bootstrap CIs over items, paired
differences between variants, and the example picks shown in W&B. Cheap, so recomputed every run from the stored
per-sample tables (never stored itself); bon/stages/results.py writes what it returns."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bon.estimator import bon_kl
from bon.metrics.base import column_item
from bon.metrics import metric_from_config

if TYPE_CHECKING:
    from bon.stages.context import Context

log = logging.getLogger("bon")
UNPAIRED = {"reward"}  # rewards of different PM variants are on different scales: no paired difference


def curves_stage(ctx: Context, metrics, examples, replies, rewards: dict[str, np.ndarray],
                 judged: dict[str, np.ndarray], samples: pd.DataFrame | None = None):
    """Per-item curves per (metric row, variant) -> bootstrap CIs; paired differences between variants.

    Also (bon/curve_stats.py, bon/metrics/inputs.py): gold/<name> rows when the gold node is set, kl_pool rows, and the Goodhart fits and
    length shifts in ctx.facts. samples: the sample stage's table (n_tokens, finish_reason for length/truncated).
    """
    from bon import curve_stats as extra
    from bon.metrics.inputs import gold_metric, metric_input

    cfg, ns = ctx.cfg, ctx.ns
    kl = bon_kl(np.array(ns))
    alpha = 1 - cfg.ci
    curve_rows, diff_rows, per_item, sample_values, groups = [], [], {}, {}, {}
    owner, instruments = {}, {}  # row -> its metric; metric -> the instruments that graded its items (the gate)
    gold = gold_metric(cfg, metrics, lambda name: metric_from_config(name, cfg))
    for metric in [*metrics, *([gold] if gold else [])]:
        sel = [i for i, e in enumerate(examples) if metric.applies(e)]
        exs = [examples[i] for i in sel]
        if not exs:
            if metric.name in ctx.facts.get("metrics_skipped", {}):
                continue  # said once before sampling (drop_absent_metrics)
            log.warning("metric %s has no prompts of kind %s in the selected data; skipped", metric.name, metric.kind)
            continue
        texts = [replies[i] for i in sel]
        judged_vals = metric_input(cfg, metric, sel, examples, replies, judged, samples, rewards, sample_values)
        values = metric.sample_values(exs, texts, judged_vals)
        sample_values[metric.name] = (sel, values)
        instruments[metric.name] = metric.instruments(exs)
        for vname, r in rewards.items():
            r_sel = r[sel]
            metric.variant = vname  # whose rewards these are (are_you_sure first_turn=best_of_n picks turn 1 by it)
            rows = metric.item_curves(exs, r_sel, r_sel if values is None else values, ns)
            for row, arr in rows.items():
                per_item[(row, vname)] = arr
                owner[row] = metric.name
                groups[row] = metric.item_ids.get(row)  # the item of each column: the bootstrap resamples items
                mean, lo, hi, n_items = extra.item_ci(arr, groups[row], cfg, alpha)
                for k, n in enumerate(ns):
                    curve_rows.append({"metric": row, "pm": vname, "n": n, "kl": kl[k], "mean": mean[k],
                                       "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items})
        dropped = getattr(metric, "dropped_items", 0)
        if dropped:
            ctx.facts.setdefault("dropped_items", {})[metric.name] = dropped
    kl_rows, ctx.facts["kl_pool"] = extra.kl_pool_rows(rewards, ns, kl, cfg.n_boot, alpha, cfg.seed,
                                                       [column_item(e) for e in examples], cfg.get("min_items_ci", 5))
    curve_rows += kl_rows
    variants = list(rewards)
    rows_names = list(dict.fromkeys(r for r, _ in per_item))  # metric order, first seen first
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            for row in rows_names:
                if (row, a) not in per_item or row in UNPAIRED:
                    continue
                mean, lo, hi, n_items = extra.item_difference(per_item[(row, a)], per_item[(row, b)], groups[row],
                                                              cfg, alpha)
                for k, n in enumerate(ns):
                    diff_rows.append({"metric": row, "pm_a": a, "pm_b": b, "n": n, "kl": kl[k], "mean": mean[k],
                                      "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items})
    # the validity gate (bon/judges/gate.py): each row carries its metric's verdict, INVALID with the reason
    from bon.judges.gate import annotate, gate

    ctx.facts["gate"] = gate(instruments, ctx.checks)
    curves = annotate(pd.DataFrame(curve_rows), owner, ctx.facts["gate"])
    diffs = annotate(pd.DataFrame(diff_rows), owner, ctx.facts["gate"])
    ctx.facts["goodhart"] = extra.goodhart_fits(curves, per_item, groups, cfg.n_boot, alpha, cfg.seed,
                                                cfg.get("min_items_ci", 5))
    ctx.facts["length_shift"] = extra.length_shifts(curves)
    # N beyond the pool (bon/curve_extrapolate.py): rows extrapolated = True, only for rows that pass the backtest
    from bon.curve_extrapolate import extrapolate_rows

    curves["extrapolated"] = False
    ext_rows, ctx.facts["extrapolation"] = extrapolate_rows(per_item, groups, curves, ns, cfg, alpha)
    if ext_rows:
        curves = pd.concat([curves, annotate(pd.DataFrame(ext_rows), owner, ctx.facts["gate"])], ignore_index=True)
    return curves, diffs, sample_values


def example_picks(ctx: Context, metrics, examples, replies, rewards, sample_values) -> pd.DataFrame:
    """A few best-of-N draws per metric and variant, for the W&B table: one random n-subset, its top-reward pick."""
    cfg = ctx.cfg
    rng = np.random.default_rng(cfg.seed)
    show_ns = sorted({ctx.ns[0], ctx.ns[len(ctx.ns) // 2], ctx.ns[-1]})
    rows = []
    for metric in metrics:
        if metric.name not in sample_values:
            continue
        sel, values = sample_values[metric.name]
        for p in range(min(cfg.n_example_picks, len(sel))):
            i = sel[p]
            for vname, r in rewards.items():
                for n in show_ns:
                    subset = rng.choice(cfg.m, size=n, replace=False)
                    top = subset[r[i, subset] == r[i, subset].max()]
                    j = int(rng.choice(top))
                    vals = {metric.name: float(values[p, j]) if values is not None else float(r[i, j])}
                    rows.append({"n": n, "pm": vname, "metric_kind": metric.name,
                                 "prompt": examples[i].conversation[-1]["content"], "response": replies[i][j],
                                 "reward": float(r[i, j]), "values": json.dumps(vals)})
    return pd.DataFrame(rows, columns=["n", "pm", "metric_kind", "prompt", "response", "reward", "values"])
