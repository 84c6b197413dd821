"""The table of a planted-bias sweep (``python -m bon.run -m experiment=planted variants.standard.bias.agree=0,2``):
the effect of the bias against its weight w, at each N, with CIs, over the jobs of the sweep. (The planted weight is
w here, in plots and in the README, so that β keeps its one meaning, the Goodhart fit's coefficient, and λ the
selectors' setting; the config key stays ``variants.<v>.bias.<feature>``.)

The effect is each job's planted contrast, ``<v> - <v>_unbiased`` (bon/bias.py: the same PM variant with and without
the bias, on the same samples), read from the job's differences.csv; w is read from the job's run.json config. The
w = 0 column is exactly 0: the two rewards are the same numbers. Read from stored results, never recomputed; the
multirun's end (bon/sweep.py) prints it and writes ``bias_sweep.csv`` in the sweep folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bon.bias import planted_variants, unbiased_name, variant_bias
from bon.report.titles import main_metrics

COLUMNS = ["metric", "variant", "bias", "n", "mean", "ci_low", "ci_high", "n_items", "job"]


def _label(weights: dict[str, float]) -> str:
    return " ".join(f"w[{k}]={x:g}" for k, x in sorted(weights.items()))


def sweep_rows(job_dirs) -> pd.DataFrame:
    """One row per (metric, planted variant, bias, N) over the jobs: the planted contrast's mean and CI.

    Args:
        job_dirs: run folders of the sweep's jobs (those without run.json or differences.csv are skipped).
    Returns:
        a frame with :data:`COLUMNS` (``bias``: e.g. "w[agree]=2"); empty when no job planted a bias.
    """
    rows = []
    for d in map(Path, job_dirs):
        try:
            run = json.loads((d / "run.json").read_text())
            diffs = pd.read_csv(d / "differences.csv")
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        variants = (run.get("config") or {}).get("variants") or {}
        for v in planted_variants(variants):
            sel = diffs[(diffs["pm_a"] == v) & (diffs["pm_b"] == unbiased_name(v))]
            label = _label(variant_bias(variants[v]))
            for r in sel.itertuples():
                rows.append({"metric": r.metric, "variant": v, "bias": label, "n": int(r.n), "mean": r.mean,
                             "ci_low": r.ci_low, "ci_high": r.ci_high, "n_items": r.n_items, "job": d.name})
    return pd.DataFrame(rows, columns=COLUMNS)


def _cell(r) -> str:
    ci = "" if pd.isna(r.ci_low) else f" [{r.ci_low:+.2f}, {r.ci_high:+.2f}]"
    return f"{r.mean:+.2f}{ci}"


def format_sweep(rows: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """Plain text: per planted variant and metric, a row per N and a column per bias (w ascending); cells are the
    effect ``mean [ci_low, ci_high]``. metrics: the rows to show, in order (default: the main metrics present)."""
    if rows.empty:
        return ""
    metrics = metrics or [m for m in main_metrics() if m in set(rows["metric"])]
    blocks = []
    for v, vrows in rows.groupby("variant", sort=False):
        order = sorted(dict.fromkeys(vrows["bias"]), key=_weight_key)
        head = f"planted bias sweep: effect of the bias = {v} - {unbiased_name(v)} (the same PM variant without " \
               f"it, on the same samples), mean [CI by item]"
        lines = [head]
        for metric in metrics:
            mrows = vrows[vrows["metric"] == metric]
            if mrows.empty:
                continue
            width = max(22, *(len(b) for b in order))
            lines.append(f"  {metric}")
            lines.append("    " + f"{'N':>4}  " + "  ".join(f"{b:<{width}}" for b in order))
            for n, nrows in mrows.groupby("n"):
                cells = {r.bias: _cell(r) for r in nrows.itertuples()}
                lines.append("    " + f"{n:>4}  " + "  ".join(f"{cells.get(b, '-'):<{width}}" for b in order))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _weight_key(label: str) -> tuple:
    """Sort "w[agree]=0" < "w[agree]=2" < "w[agree]=10" by number, then text."""
    nums = []
    for part in label.split():
        try:
            nums.append(float(part.split("=", 1)[1]))
        except (IndexError, ValueError):
            nums.append(float("inf"))
    return tuple(nums), label
