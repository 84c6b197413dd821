"""Which metrics a run can compute from the data it selected, and how many of its replies were cut off.

Every kind of item is optional: TruthfulQA's file holds answer items only, and ``dataset.kinds`` may leave kinds
out. A metric whose items are absent is dropped BEFORE sampling (no judge stage, no instrument check is built for
it), and the run says once, in the log and in the report, which items are missing and why. A run with no prompt at
all is a config error.

Reply truncation: the ``truncated`` rows of curves.csv hold the share of best-of-N picks that hit
``sampler.max_new_tokens``; the report shows it at N = 1 and at the largest N per variant, and warns above
:data:`TRUNCATION_WARN` at N = 1 (a judge then grades cut-off replies, and length effects are confounded).
"""
from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

TRUNCATION_WARN = 0.10  # share of N = 1 replies cut off above which the report warns


def missing_reason(cfg, kind: str | None, examples: Sequence) -> str:
    """Why the selected prompts hold no item a metric of ``kind`` reads, in words naming the config key.

    Args:
        cfg: the run config (dataset node, shard node).
        kind: Example.kind the metric reads (None: any prompt).
        examples: the selected prompts (after sharding).

    Returns:
        The reason, e.g. "dataset.kinds=[answer, mimicry] leaves out feedback".
    """
    kinds = list(cfg.dataset.kinds)
    paths = list(cfg.dataset.paths) or ["the bundled data"]
    if kind is None:
        return f"no prompt of dataset.kinds=[{', '.join(kinds)}] in {', '.join(map(str, paths))}"
    if kind not in kinds:
        return f"dataset.kinds=[{', '.join(kinds)}] leaves out {kind}"
    shard = cfg.get("shard")
    if shard is not None and shard.count > 1:
        return f"shard {shard.index} of {shard.count} got no {kind} item (the other shards may have some)"
    where = cfg.dataset.get("where") or {}
    if where:  # bon/data/choose.py: a filter on base fields may leave a kind out
        return (f"no {kind} item in {', '.join(map(str, paths))} with "
                + " and ".join(f"base.{f} = {list(v) if not isinstance(v, (str, int, float)) else v}"
                               for f, v in where.items()) + " (dataset.where)")
    if kind == "feedback" and cfg.dataset.feedback_datasets:
        return (f"no feedback item of dataset.feedback_datasets=[{', '.join(cfg.dataset.feedback_datasets)}] in "
                f"{', '.join(map(str, paths))}")
    return f"no {kind} item in {', '.join(map(str, paths))}"


def present_metrics(cfg, metrics: list, examples: Sequence, make: Callable[[str], object] | None = None
                    ) -> tuple[list, dict[str, str]]:
    """Split the configured metrics into those with at least one prompt to read and those without.

    Args:
        cfg: the run config.
        metrics: the metrics built from cfg.metrics.
        examples: the selected prompts.
        make: name -> metric built with the run's arguments (to resolve a gold source not in the run); with None
            the gold node is not looked at.

    Returns:
        (the metrics to compute, in order; {metric name: "needs <kind> items: <why>"} for the others, the gold row
        ``gold/<name>`` included when its source has no items).
    """
    kept, skipped = [], {}
    for m in metrics:
        if any(m.applies(e) for e in examples):
            kept.append(m)
        else:
            skipped[m.name] = f"needs {m.kind or 'any'} items: {missing_reason(cfg, m.kind, examples)}"
    if make is not None:
        from bon.metrics.inputs import gold_metric

        gold = gold_metric(cfg, kept, make)
        if gold is not None and not any(gold.applies(e) for e in examples):
            skipped[gold.name] = f"needs {gold.kind} items: {missing_reason(cfg, gold.kind, examples)}"
    return kept, skipped


def format_skipped(skipped: dict[str, str]) -> list[str]:
    """report.txt lines (under "run facts") for the metrics a run could not compute."""
    return [f"  not computed: {name} ({why})" for name, why in skipped.items()]


def truncation_shares(curves: pd.DataFrame) -> dict[str, dict]:
    """Per variant: the share of best-of-N picks cut off at max_new_tokens at the smallest and largest N.

    Args:
        curves: rows of curves.csv; the ``truncated`` rows (over every prompt) are read.

    Returns:
        variant -> {"n_first", "first", "n_last", "last"}; empty when the run has no truncated rows.
    """
    if curves.empty or "metric" not in curves:
        return {}
    rows = curves[curves["metric"] == "truncated"]
    out = {}
    for pm, g in rows.groupby("pm", sort=False):
        g = g.sort_values("n")
        out[str(pm)] = {"n_first": int(g["n"].iloc[0]), "first": float(g["mean"].iloc[0]),
                        "n_last": int(g["n"].iloc[-1]), "last": float(g["mean"].iloc[-1])}
    return out


def format_truncation(shares: dict[str, dict], max_new_tokens: int | None) -> list[str]:
    """report.txt lines: the reply truncation share per variant, and a warning above TRUNCATION_WARN at N = 1."""
    if not shares:
        return []
    budget = f"max_new_tokens={max_new_tokens}" if max_new_tokens is not None else "max_new_tokens"
    lines = [f"  replies cut off at {budget}: " + "; ".join(
        f"{pm} {100 * s['first']:.0f}% at N={s['n_first']}, {100 * s['last']:.0f}% at N={s['n_last']}"
        for pm, s in shares.items())]
    worst = max(s["first"] for s in shares.values() if s["n_first"] == 1) if any(
        s["n_first"] == 1 for s in shares.values()) else None
    if worst is not None and worst > TRUNCATION_WARN:
        more = f" (e.g. sampler.max_new_tokens={2 * max_new_tokens})" if max_new_tokens else ""
        lines.append(f"  WARNING: {100 * worst:.0f}% of N=1 replies were cut off (above {100 * TRUNCATION_WARN:.0f}%): "
                     f"the judges grade unfinished replies and length effects are confounded; raise "
                     f"sampler.max_new_tokens{more}")
    return lines


def format_facts(facts: dict) -> list[str]:
    """report.txt lines (under "run facts") for the facts this module adds: reply truncation, skipped metrics."""
    t = facts.get("truncation") or {}
    return format_truncation(t.get("shares") or {}, t.get("max_new_tokens")) + \
        format_skipped(facts.get("metrics_skipped") or {})
