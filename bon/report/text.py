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
    # mean ± half-width where the CI is symmetric at the printed precision, else mean [lo, hi]: a bootstrap CI can be
    # asymmetric (0.06 [0.00, 0.20], not 0.06±0.10); the csv keeps the exact ends. No CI (too few items: NaN ends)
    # or a zero-width one prints the point estimate alone, marked, and never a star.
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.{d}f} (no CI)"
    if hi <= lo:
        return f"{mean:.{d}f} (0-width)"
    s = f"{mean:.{d}f}±{(hi - lo) / 2:.{d}f}" if _symmetric(mean, lo, hi, d) else f"{mean:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
    return s + ("*" if star and (lo > 0 or hi < 0) else "")


def _symmetric(mean: float, lo: float, hi: float, d: int) -> bool:
    """Whether mean ± half-width prints the same ends as [lo, hi] at d decimals."""
    half = (hi - lo) / 2
    return f"{mean - half:.{d}f}" == f"{lo:.{d}f}" and f"{mean + half:.{d}f}" == f"{hi:.{d}f}"


def _block(header: str, rows: pd.DataFrame, row_col: str, order: list, star: bool = False) -> list[str]:
    # rows the validity gate marked INVALID (bon/judges/gate.py): label "<row> INVALID", cells in parentheses, no star
    bad = set(rows.loc[~rows["valid"].astype(bool), row_col]) if "valid" in rows.columns else set()
    ns = sorted(rows["n"].unique())
    d = _decimals(pd.concat([rows["mean"], rows["ci_low"], rows["ci_high"]]))
    cells = {(r[row_col], r["n"]): (f"({_cell(r['mean'], r['ci_low'], r['ci_high'], d)})" if r[row_col] in bad
                                    else _cell(r["mean"], r["ci_low"], r["ci_high"], d, star))
             for r in rows.to_dict("records")}
    label = {k: f"{k} INVALID" if k in bad else str(k) for k in order}
    w_label = max(len(v) for v in label.values())
    w = max([len(c) for c in cells.values()] + [len(f"N={n}") for n in ns])
    lines = [header, " " * w_label + "".join(f" {f'N={n}':>{w}}" for n in ns)]
    for k in order:
        lines.append(f"{label[k]:<{w_label}}" + "".join(f" {cells.get((k, n), '-'):>{w}}" for n in ns))
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
    has = np.isfinite(rows["ci_low"]) & np.isfinite(rows["ci_high"]) & (rows["ci_high"] > rows["ci_low"])
    if not (np.isfinite(rows["ci_low"]) & np.isfinite(rows["ci_high"])).any():
        return " (no CI)"
    d = _decimals(pd.concat([rows["mean"], rows["ci_low"], rows["ci_high"]]))
    sym = {_symmetric(m, lo, hi, d) for m, lo, hi in zip(rows["mean"][has], rows["ci_low"][has], rows["ci_high"][has])}
    what = {frozenset([True]): " ± CI half-width", frozenset([False]): " [CI low, high]"}.get(
        frozenset(sym), " ± CI half-width or [CI low, high]")
    return what + (", * = CI excludes 0" if star else "")


def _items(rows: pd.DataFrame) -> str:
    if "n_items" not in rows.columns:
        return ""
    lo, hi = int(rows["n_items"].min()), int(rows["n_items"].max())
    return f", {lo} items" if lo == hi else f", {lo}-{hi} items"


def format_table(curves: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """Plain-text table: one block per metric, rows = PM variants, columns = N, cells = mean ± CI half-width (or
    mean [low, high] where the CI is asymmetric). A metric the validity gate marked INVALID says so with the reason in
    its header, and its cells are in parentheses; rows a metric tables beside its own (``Metric.beside``: the
    per-template answer accuracies beside answer_sycophancy) follow its block.

    Args:
        curves: rows of curves.csv.
        metrics: metrics to show, in order; ones absent from `curves` are skipped. None: the main metrics.

    Returns:
        The table; about 95 characters wide for 7 N values.
    """
    from bon.judges.gate import invalid_reason
    from bon.report.titles import beside

    metrics = main_metrics() if metrics is None else metrics
    blocks = []
    for metric in metrics:
        rows = curves[curves["metric"] == metric]
        if rows.empty:
            continue
        bad = invalid_reason(rows)
        header = (f"{metric}: mean{_ci_what(rows)}{_items(rows)}" if not bad else
                  f"{metric}: {bad}\n  the numbers below are not a measurement (in parentheses, for diagnosis only)")
        blocks.append("\n".join(_block(header, rows, "pm", list(dict.fromkeys(rows["pm"])))))
        near = curves[curves["metric"].isin(beside(metric))]
        if len(near):
            near = near.assign(row=[f"{pm} {m.partition('/')[2]}" for pm, m in zip(near["pm"], near["metric"])])
            what = ", ".join(dict.fromkeys(m.partition("/")[0] for m in near["metric"]))
            header = (f"  {what} by template (at a floor or ceiling no shift can show): mean{_ci_what(near)}"
                      + (" (INVALID with it)" if invalid_reason(near) else ""))
            blocks.append("\n".join(_block(header, near, "row", list(dict.fromkeys(near["row"])))))
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
    from bon.judges.gate import invalid_reason

    metrics = main_metrics() if metrics is None else metrics
    blocks = []
    for (a, b), rows in diffs.groupby(["pm_a", "pm_b"], sort=False):
        order = [m for m in metrics if m in set(rows["metric"])]
        if not order:
            continue
        rows = rows[rows["metric"].isin(order)]
        header = f"{a} - {b}: paired difference, mean{_ci_what(rows, star=True)}{_items(rows)}"
        notes = [f"  {m} {why}" for m in order if (why := invalid_reason(rows[rows["metric"] == m]))]
        blocks.append("\n".join(_block(header, rows, "metric", order, star=True) + notes))
    return "\n\n".join(blocks)


def format_checks(checks: dict) -> str:
    """The instrument checks of a run (bon.stages.check), in words: accuracies with CIs, verdicts, and
    whether each PM variant that is meant to be less sycophantic actually prefers truthful replies more often."""
    lines = ["instrument checks (bundled labelled sets, bon/data/labelled/; check your own with "
             "python -m bon.check_judge):"]
    from bon.judges.verdicts import UNIT, check_lines, verdict_of

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
                         + f"  {verdict_of(c)}")
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


def format_gate(gate: dict) -> str:
    """The validity gate of a run (run.json facts["gate"], bon/judges/gate.py) in words: per metric, valid or
    INVALID with the reason, and each instrument that graded its items with the prompts it graded and its verdict."""
    lines = ["validity gate (a metric is valid only if every instrument that graded its items is ok on labels of "
             "that kind of item):"]
    for metric, g in gate.items():
        if not g["instruments"]:
            continue  # read off rewards or token counts: no instrument
        lines.append(f"  {metric}: {'valid' if g['valid'] else g['reason']}")
        for i in g["instruments"]:
            name = f" [{i['instrument']}]" if i.get("instrument") else ""
            lines.append(f"    {i['what']}{name}, {i['items']} prompts, check {i['check']!r}: {i['verdict']} "
                         f"({i['reason']})")
    return "\n".join(lines)
