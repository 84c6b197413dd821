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
from bon.estimator.selection import SelectorUnsupported
from bon.metrics.base import column_item
from bon.metrics import metric_from_config
from bon.stages.selection import agreement, check_monte_carlo, plan_rows, selector_facts, selector_plans

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
    # the per-sample agreement feature (the penalty's A, the drift table), and how each curve family picks
    ctx.selection["agree"] = agreement(ctx, metrics, examples, replies, judged, samples)
    plans = selector_plans(ctx, rewards, examples, ctx.selection["agree"])
    mc_facts: dict[str, dict] = {}  # selector -> its Monte Carlo rows against the 1/10-of-CI rule
    from bon.bias import planted_variants, unbiased_name, variant_pairs

    stored_of = {unbiased_name(v): v for v in planted_variants(cfg.variants)}  # a planted contrast's counterpart -> variant
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
        for plan, vname, rank, picks in [(p, v, *p.variants[v]) for p in plans for v in rewards]:
            r_sel = rank[sel]  # what the pick ranks by: the curves' rewards, or a selector's (penalty)
            # whose stored rewards these are (are_you_sure first_turn=best_of_n picks turn 1 by them)
            metric.variant = stored_of.get(vname, vname)
            try:  # picks None: hard best-of-N
                rows = plan_rows(metric, plan, vname, picks, exs, r_sel, rewards[vname][sel] if values is None
                                 else values, ns)
            except SelectorUnsupported as e:
                log.info("%s: no %s rows (%s)", plan.label, metric.name, e)
                continue
            for row, arr in rows.items():
                per_item[(row, vname) if plan.label == "bon" else (row, vname, plan.label)] = arr
                owner[row] = metric.name
                groups[row] = metric.item_ids.get(row)  # the item of each column: the bootstrap resamples items
                mean, lo, hi, n_items = extra.item_ci(arr, groups[row], cfg, alpha)
                check_monte_carlo(plan, row, vname, lo, hi, mc_facts.setdefault(plan.selector.name, {}))
                for k, n in enumerate(ns):
                    curve_rows.append({"metric": row, "pm": vname, "n": n, "kl": kl[k], "mean": mean[k],
                                       "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items,
                                       "selector": plan.label})
        dropped = getattr(metric, "dropped_items", 0)
        if dropped:
            ctx.facts.setdefault("dropped_items", {})[metric.name] = dropped
    kl_rows, ctx.facts["kl_pool"] = extra.kl_pool_rows(rewards, ns, kl, cfg.n_boot, alpha, cfg.seed,
                                                       [column_item(e) for e in examples], cfg.get("min_items_ci", 5))
    curve_rows += [{**r, "selector": "bon"} for r in kl_rows]  # the pool's KL is hard best-of-N's
    variants = list(rewards)
    rows_names = list(dict.fromkeys(k[0] for k in per_item))  # metric order, first seen first
    for plan in plans:
        key = (lambda row, v: (row, v)) if plan.label == "bon" else (lambda row, v: (row, v, plan.label))
        for a, b in variant_pairs(cfg, variants):  # a planted variant against itself unbiased first
            for row in rows_names:
                if key(row, a) not in per_item or key(row, b) not in per_item or row in UNPAIRED:
                    continue
                mean, lo, hi, n_items = extra.item_difference(per_item[key(row, a)], per_item[key(row, b)],
                                                              groups[row], cfg, alpha)
                for k, n in enumerate(ns):
                    diff_rows.append({"metric": row, "pm_a": a, "pm_b": b, "n": n, "kl": kl[k], "mean": mean[k],
                                      "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items, "selector": plan.label})
    ctx.facts["selectors"] = selector_facts(plans)
    for name, f in mc_facts.items():
        ctx.facts["selectors"][name].update(f)
    ctx.selection.update(per_item=per_item, groups=groups, plans=plans)  # for the Pareto table and the drift table (bon/report/)
    # the validity gate (bon/judges/gate.py): each row carries its metric's verdict, INVALID with the reason
    from bon.judges.gate import annotate, gate

    ctx.facts["gate"] = gate(instruments, ctx.checks)
    curves = annotate(pd.DataFrame(curve_rows), owner, ctx.facts["gate"])
    diffs = annotate(pd.DataFrame(diff_rows), owner, ctx.facts["gate"])
    hard = curves[curves["selector"] == "bon"]  # the Goodhart fits and length flags read hard best-of-N's rows
    ctx.facts["goodhart"] = extra.goodhart_fits(hard, per_item, groups, cfg.n_boot, alpha, cfg.seed,
                                                cfg.get("min_items_ci", 5))
    ctx.facts["length_shift"] = extra.length_shifts(hard)
    # N beyond the pool (bon/curve_extrapolate.py), hard best-of-N only: rows extrapolated = True, only for rows
    # that pass the backtest
    from bon.curve_extrapolate import extrapolate_rows

    curves["extrapolated"] = False
    hard_items = {k: v for k, v in per_item.items() if len(k) == 2}  # (row, variant): the selector bon's curves
    ext_rows, ctx.facts["extrapolation"] = extrapolate_rows(hard_items, groups, hard, ns, cfg, alpha)
    if ext_rows:
        ext = annotate(pd.DataFrame(ext_rows).assign(selector="bon"), owner, ctx.facts["gate"])
        curves = pd.concat([curves, ext], ignore_index=True)
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
