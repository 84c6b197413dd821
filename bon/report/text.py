"""A finished run's curves, paired differences and instrument checks as plain-text tables (report.txt).

A consumer of stage outputs (STYLE.md 8): cells are the stored means and CI ends, never recomputed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bon.report.titles import main_metrics

def _decimals(values) -> int:
    """Decimals so a block's cells stay ~10 characters: 2 for |x| < 10, 1 below 100, else 0."""
    big = np.nanmax(np.abs(np.asarray(values, dtype=np.float64))) if len(values) else 0.0
    return 2 if not big >= 10 else 1 if big < 100 else 0


def _cell(mean: float, lo: float, hi: float, d: int, star: bool = False) -> str:
    # mean ± half-width of the CI; the bootstrap CI can be asymmetric, the csv keeps the exact ends. No CI (too few
    # items: NaN ends) or a zero-width one prints the point estimate alone, marked, and never a star.
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.{d}f} (no CI)"
    if hi <= lo:
        return f"{mean:.{d}f} (0-width)"
    s = f"{mean:.{d}f}±{(hi - lo) / 2:.{d}f}"
    return s + ("*" if star and (lo > 0 or hi < 0) else "")


def _block(header: str, rows: pd.DataFrame, row_col: str, order: list, star: bool = False) -> list[str]:
    ns = sorted(rows["n"].unique())
    d = _decimals(pd.concat([rows["mean"], rows["ci_low"], rows["ci_high"]]))
    cells = {(r[row_col], r["n"]): _cell(r["mean"], r["ci_low"], r["ci_high"], d, star)
             for r in rows.to_dict("records")}
    w_label = max(len(str(k)) for k in order)
    w = max([len(c) for c in cells.values()] + [len(f"N={n}") for n in ns])
    lines = [header, " " * w_label + "".join(f" {f'N={n}':>{w}}" for n in ns)]
    for k in order:
        lines.append(f"{str(k):<{w_label}}" + "".join(f" {cells.get((k, n), '-'):>{w}}" for n in ns))
    return lines + _ci_notes(rows)


def _ci_notes(rows: pd.DataFrame) -> list[str]:
    """Why some cells of a block carry no interval (bon.estimator.ci_note), one line per reason."""
    from bon.estimator import ci_note

    notes = {}
    for r in rows.to_dict("records"):
        k = int(r["n_items"]) if "n_items" in r and np.isfinite(r["n_items"]) else 0
        why = ci_note(k, r["ci_low"], r["ci_high"], min_items=1)
        if why and why not in notes:
            notes[why] = ("  (no CI): " if "too few" in why else "  (0-width): ") + why
    return list(notes.values())


def _ci_what(rows: pd.DataFrame, star: bool = False) -> str:
    """What a block's cells hold beside the mean: the CI half-width (and the star) only if some cell has a CI; a block
    without one (too few items) mentions neither, so a one-item report carries no `*`."""
    if not (np.isfinite(rows["ci_low"]) & np.isfinite(rows["ci_high"])).any():
        return " (no CI)"
    return " ± CI half-width" + (", * = CI excludes 0" if star else "")


def _items(rows: pd.DataFrame) -> str:
    if "n_items" not in rows.columns:
        return ""
    lo, hi = int(rows["n_items"].min()), int(rows["n_items"].max())
    return f", {lo} items" if lo == hi else f", {lo}-{hi} items"


def format_table(curves: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """Plain-text table: one block per metric, rows = PM variants, columns = N, cells = mean ± CI half-width.

    Args:
        curves: rows of curves.csv.
        metrics: metrics to show, in order; ones absent from `curves` are skipped. None: the main metrics.

    Returns:
        The table; about 95 characters wide for 7 N values.
    """
    metrics = main_metrics() if metrics is None else metrics
    blocks = []
    for metric in metrics:
        rows = curves[curves["metric"] == metric]
        if rows.empty:
            continue
        header = f"{metric}: mean{_ci_what(rows)}{_items(rows)}"
        blocks.append("\n".join(_block(header, rows, "pm", list(dict.fromkeys(rows["pm"])))))
    return "\n\n".join(blocks)


def format_differences(diffs: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """Plain-text table of paired differences: one block per (pm_a, pm_b) pair, rows = metrics, columns = N.

    Cells are mean ± CI half-width of pm_a minus pm_b on the same samples; `*` marks a CI that
    excludes 0.

    Args:
        diffs: rows of differences.csv.
        metrics: metrics to show, in order; ones absent from `diffs` are skipped. None: the main metrics.

    Returns:
        The table.
    """
    metrics = main_metrics() if metrics is None else metrics
    blocks = []
    for (a, b), rows in diffs.groupby(["pm_a", "pm_b"], sort=False):
        order = [m for m in metrics if m in set(rows["metric"])]
        if not order:
            continue
        rows = rows[rows["metric"].isin(order)]
        header = f"{a} - {b}: paired difference, mean{_ci_what(rows, star=True)}{_items(rows)}"
        blocks.append("\n".join(_block(header, rows, "metric", order, star=True)))
    return "\n\n".join(blocks)


def format_checks(checks: dict) -> str:
    """The instrument checks of a run (bon.stages.check), in words: accuracies with CIs, verdicts, and
    whether each PM variant that is meant to be less sycophantic actually prefers truthful replies more often."""
    lines = ["instrument checks (bundled labelled sets, bon/data/labelled/; check your own with "
             "python -m bon.check_judge):"]
    from bon.judges.verdicts import UNIT, check_lines, verdict

    for task in ("answer", "answer_sentence", "answer_judge", "positivity", "are_you_sure"):
        if task in checks:
            lines += check_lines(task, checks[task])
    probe = checks.get("pm") or {}
    if probe:
        lines.append("  PM probe, P(PM scores the truthful reply above the sycophantic one), per variant:")
        for name, c in probe.items():
            kinds = ", ".join(f"{k} {v:.2f}" for k, v in sorted((c.get("by_kind") or {}).items()))
            lines.append(f"    {name}: {c['accuracy']:.2f} [{c['ci_low']:.2f}, {c['ci_high']:.2f}] on {c['n']} "
                         f"held-out {UNIT['pm']}" + (f" ({kinds})" if kinds else "")
                         + (f"; tune {c['accuracy_tune']:.2f} on {c['n_tune']}" if c.get("n_tune") else "")
                         + f"  {c.get('verdict') or verdict(c['accuracy'], c['n'])}")
        if "standard" in probe:
            s = probe["standard"]
            for name, c in probe.items():
                if name == "standard":
                    continue
                if c["accuracy"] <= s["accuracy"]:
                    lines.append(f"  NOTE: variant {name!r} is NOT more truthful than 'standard' on the probe "
                                 f"({c['accuracy']:.2f} vs {s['accuracy']:.2f}): with this PM its prefix does not make "
                                 f"it prefer truthful replies, so a gap between their curves is not evidence about "
                                 f"sycophancy")
                elif c["ci_low"] <= s["ci_high"]:
                    lines.append(f"  NOTE: variant {name!r} is not detectably more truthful than 'standard' on the probe "
                                 f"({c['accuracy']:.2f} vs {s['accuracy']:.2f}, overlapping CIs): a gap between their "
                                 f"curves is weak evidence about sycophancy")
    return "\n".join(lines)
