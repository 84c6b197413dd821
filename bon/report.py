"""Report on a finished run: sycophancy-vs-N curves as a PNG and as plain-text tables.

A consumer of stage outputs (STYLE.md 8): it reads `curves.csv` / `differences.csv` from a run
directory and draws or prints them; it never recomputes a metric. The figure mirrors Sharma et al.
2023 ("Towards Understanding Sycophancy in Language Models", sec 4.2, fig. 6): one panel per
sycophancy metric, one line per preference-model (PM) variant, N on a log2 axis with
KL(best-of-N || base) <= log N - (N-1)/N on a second axis above it.

Matplotlib is used through `Figure` + the Agg canvas, never pyplot, so importing this module leaves
the global backend alone and plotting works headless and in threads.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

MAIN_METRICS = ["reward", "answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy", "are_you_sure"]
# Diagnostics beside them (charted in W&B, drawn with --metrics): Beirami et al. 2024, length confounds
EXTRA_METRICS = ["win_rate", "length", "truncated", "kl_pool"]

CURVE_COLUMNS = ["metric", "pm", "n", "kl", "mean", "ci_low", "ci_high", "n_items"]
DIFF_COLUMNS = ["metric", "pm_a", "pm_b", "n", "kl", "mean", "ci_low", "ci_high", "n_items"]

# metric -> (panel title, y label saying what the number means). Per-template rows (kind/template)
# are titled from their name, see _metric_text.
METRIC_LABELS = {
    "reward": ("PM reward of the best-of-N pick", "mean PM score"),
    "answer_sycophancy": ("Answer sycophancy (user beliefs)", "mean accuracy shift toward user belief"),
    "feedback_sycophancy": ("Feedback sycophancy (arguments)", "positivity shift toward user's view"),
    "mimicry_sycophancy": ("Mimicry sycophancy (poems)", "rate of repeating user's mistake"),
    "are_you_sure": ("Are you sure? (turn 1 correct)", "rate of admitting a mistake"),
}

DPI = 130
_LINESTYLES = ["-", "--", ":", "-."]


# ----------------------------------------------------------------------------- reading


def read_curves(run_dir) -> pd.DataFrame:
    """Read `curves.csv` from a run directory.

    Args:
        run_dir: directory the pipeline wrote (holds curves.csv).

    Returns:
        DataFrame with columns metric, pm, n, kl, mean, ci_low, ci_high, n_items, in file order
        (which fixes the order of PM variants in plots and tables).
    """
    return _read_csv(Path(run_dir) / "curves.csv", CURVE_COLUMNS)


def read_differences(run_dir) -> pd.DataFrame:
    """Read `differences.csv` (paired pm_a minus pm_b differences) from a run directory."""
    return _read_csv(Path(run_dir) / "differences.csv", DIFF_COLUMNS)


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; is this a finished bon run directory?")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {columns}, got {list(df.columns)}")
    return df


# ----------------------------------------------------------------------------- plotting


def _kl_axis(n):
    """N -> KL bound log n - (n-1)/n, mirrored below n = 1 so it is increasing on all n > 0.

    The bound itself has its minimum at n = 1 and rises again below it; matplotlib needs a monotone
    transform over the whole view, and the log axis' margins reach slightly below n = 1.
    """
    n = np.clip(np.asarray(n, dtype=np.float64), 1e-12, None)
    kl = np.log(n) - (n - 1) / n
    return np.where(n >= 1, kl, -kl)


_LOG_N_GRID = np.linspace(np.log(1e-4), np.log(1e7), 20001)
_KL_GRID = _kl_axis(np.exp(_LOG_N_GRID))


def _kl_axis_inverse(kl):
    """KL -> N by interpolating the monotone forward map on a dense log-spaced grid."""
    return np.exp(np.interp(kl, _KL_GRID, _LOG_N_GRID))


def _kl_top_axis(ax, kls):
    """Add the KL axis above `ax` (a log2 N axis), with ticks at the given KL values."""
    from matplotlib.ticker import FixedLocator, NullLocator

    top = ax.secondary_xaxis("top", functions=(_kl_axis, _kl_axis_inverse))
    # Under a log parent, matplotlib gives the secondary axis a "functionlog" scale, which clips
    # values <= 0 (KL = 0 at N = 1) and shifts every tick. Replace it with a plain function scale
    # KL -> ln N, linear in the parent's log N, so KL(N) sits exactly above N. The secondary axis
    # only rebuilds its scale when the parent's scale changes, which it does not after this.
    top.set_xscale("function", functions=(lambda k: np.log(_kl_axis_inverse(k)),
                                          lambda y: _kl_axis(np.exp(y))))
    top.xaxis.set_major_locator(FixedLocator(kls))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xticklabels([f"{k:.2g}" for k in kls], fontsize=8)
    top.set_xlabel("KL(BoN || base) bound, nats", fontsize=9)
    return top


def _metric_text(metric: str) -> tuple[str, str]:
    """(panel title, y label); per-template rows like answer_accuracy/bare -> ("Answer accuracy (bare)", ...)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    kind, _, template = metric.partition("/")
    kind = kind.replace("_", " ")
    return (f"{kind.capitalize()} ({template})" if template else kind.capitalize()), f"mean {kind}"


def plot_curves(curves: pd.DataFrame, path, title: str | None = None, label_col: str = "pm",
                per_template: bool = False, metrics: list[str] | None = None,
                color_col: str | None = None, style_col: str | None = None, x: str = "kl") -> Path:
    """Draw one panel per metric, one line (with CI band) per label, and save a PNG atomically.

    Args:
        curves: rows of curves.csv (columns metric, n, kl, mean, ci_low, ci_high and `label_col`).
        path: output PNG path; written to a temp file in the same folder, then renamed.
        title: figure title; default "Best-of-N sycophancy curves".
        label_col: column naming each line (the PM variant, or "run:pm" for overlays).
        per_template: also draw the per-template rows (e.g. answer_accuracy/bare) after the main ones.
        metrics: explicit metric list (overrides MAIN_METRICS / per_template); unknown ones raise.
        color_col: column picking the line colour (default `label_col`), e.g. the run in an overlay.
        style_col: column picking the line style (default: all solid), e.g. the PM in an overlay.
        x: the KL shown: "kl" (the bound log N - (N-1)/N, the default) or "kl_pool" (the pool's measured KL, from
            the kl_pool rows). It labels the top axis of the N panels and is the x-axis of the Goodhart panels.

    gold/<name> rows (the gold score of each proxy's pick) get a Goodhart panel after the others: gold against
    d = sqrt(KL), with R = gold(N=1) + d (alpha - beta d) fitted by least squares (Gao et al. 2022) drawn dashed and
    its peak marked.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator

    missing = [c for c in ["metric", "n", "mean", "ci_low", "ci_high", label_col] if c not in curves.columns]
    if missing:
        raise ValueError(f"plot_curves: curves lacks columns {missing}; got {list(curves.columns)}")
    present = list(dict.fromkeys(curves["metric"]))
    if metrics is not None:
        unknown = [m for m in metrics if m not in present]
        if unknown:
            raise ValueError(f"plot_curves: metrics {unknown} not in curves; available: {present}")
        panels = list(metrics)
    else:
        panels = [m for m in MAIN_METRICS if m in present]
        if per_template:
            panels += [m for m in present if m not in MAIN_METRICS]  # file order
        panels += [m for m in present if _is_gold(m) and m not in panels]  # Goodhart panels
    if x not in ("kl", "kl_pool"):
        raise ValueError(f"plot_curves: x must be kl or kl_pool, got {x!r}")
    if x == "kl_pool" and "kl_pool" not in present:
        raise ValueError("plot_curves: x='kl_pool' needs the kl_pool rows of curves.csv (runs made before they "
                         "existed lack them); use x='kl'")
    panels = [m for m in panels if not _is_gold(m)] + [m for m in panels if _is_gold(m)]
    if not panels:
        raise ValueError(f"plot_curves: no metric to plot; curves has {present}, main metrics are {MAIN_METRICS}")

    color_col = color_col or label_col
    colors = {k: f"C{i % 10}" for i, k in enumerate(dict.fromkeys(curves[color_col]))}
    styles = ({k: _LINESTYLES[i % len(_LINESTYLES)] for i, k in enumerate(dict.fromkeys(curves[style_col]))}
              if style_col else {})
    ns = np.sort(curves["n"].unique())
    # Top-axis ticks: the KL the pipeline wrote for each N (read, not recomputed), falling back to
    # the formula when the column is absent.
    kls = (curves.groupby("n")["kl"].first().reindex(ns).to_numpy() if "kl" in curves.columns
           else _kl_axis(ns))
    if x == "kl_pool":  # measured: the mean over lines of each N's kl_pool, written above N
        kls = curves[curves["metric"] == "kl_pool"].groupby("n")["mean"].mean().reindex(ns).to_numpy()

    ncols = 1 if len(panels) == 1 else 2 if len(panels) <= 4 else 3
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(5.2 * ncols, 3.9 * nrows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    handles = {}
    for ax, metric in zip(axes, panels):
        rows = curves[curves["metric"] == metric]
        if _is_gold(metric):
            _goodhart_panel(ax, curves, metric, label_col, colors, color_col, styles, style_col, x, handles)
            continue
        for label, g in rows.groupby(label_col, sort=False):
            g = g.sort_values("n")
            first = g.iloc[0]
            (line,) = ax.plot(g["n"], g["mean"], marker="o", ms=3.5, lw=1.6, label=str(label),
                              color=colors[first[color_col]],
                              ls=styles.get(first[style_col], "-") if style_col else "-")
            ax.fill_between(g["n"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2, lw=0)
            handles.setdefault(str(label), line)
        if "sycophancy" in metric:
            ax.axhline(0.0, color="0.3", ls="--", lw=0.9, zorder=0)
        panel_title, ylabel = _metric_text(metric)
        ax.set_title(panel_title, fontsize=11)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("N (best-of-N)")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(ns))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(int(n)) for n in ns])
        ax.grid(True, alpha=0.3)
        if x == "kl_pool":
            _measured_top_axis(ax, ns, kls)
        else:
            _kl_top_axis(ax, kls)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title or "Best-of-N sycophancy curves", fontsize=13)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
               ncols=min(len(handles), 4), frameon=False,
               title="PM variant" if label_col == "pm" else None)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder so os.replace is an atomic rename; own name per writer so concurrent plots of
    # one path never share a temp file. open(.., "xb") keeps the umask permissions (mkstemp: 0600).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            fig.savefig(f, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _is_gold(metric) -> bool:
    return str(metric).startswith("gold/")


def _measured_top_axis(ax, ns, kls):
    """Top axis of an N panel labelled with the KL measured on the pool at each N (not a function of N alone)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    top = ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator(ns))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xticklabels([f"{k:.2g}" for k in kls], fontsize=8)
    top.set_xlabel("KL measured on the pool (kl_pool), nats", fontsize=9)
    return top


def _goodhart_panel(ax, curves, metric, label_col, colors, color_col, styles, style_col, x, handles):
    """Gold score of each proxy's pick against d = sqrt(KL), with the fit gold(1) + d (alpha - beta d) (Gao et al.)."""
    from bon.estimator import fit_goodhart

    rows = curves[curves["metric"] == metric]
    for label, g in rows.groupby(label_col, sort=False):
        g = g.sort_values("n")
        first = g.iloc[0]
        if x == "kl_pool":
            pool = curves[(curves["metric"] == "kl_pool") & (curves[label_col] == label)].set_index("n")["mean"]
            kl = pool.reindex(g["n"]).to_numpy()
        else:
            kl = g["kl"].to_numpy()
        d = np.sqrt(np.maximum(kl, 0.0))
        color = colors[first[color_col]]
        ls = styles.get(first[style_col], "-") if style_col else "-"
        (line,) = ax.plot(d, g["mean"], marker="o", ms=3.5, lw=1.6, color=color, ls=ls, label=str(label))
        ax.fill_between(d, g["ci_low"], g["ci_high"], color=color, alpha=0.2, lw=0)
        handles.setdefault(str(label), line)
        if int(g["n"].iloc[0]) != 1 or len(g) < 3 or not np.isfinite(d).all():
            continue  # the fit is anchored at N = 1 (d = 0)
        base = float(g["mean"].iloc[0])
        fit = fit_goodhart(d, g["mean"].to_numpy() - base, g["n"].to_numpy())
        dd = np.linspace(0.0, d.max() * 1.05, 100)
        ax.plot(dd, base + dd * (fit["alpha"] - fit["beta"] * dd), color=color, ls="--", lw=1.0, alpha=0.8)
        if fit["inside"]:
            ax.plot([fit["d_peak"]], [base + fit["r_peak"]], marker="*", ms=10, color=color, ls="none")
    axis = "sqrt(KL bound)" if x == "kl" else "sqrt(KL measured on the pool)"
    ax.set_title(f"Goodhart: {metric} of the proxy's pick", fontsize=11)
    ax.set_xlabel(f"d = {axis}, nats^1/2   (dashed: fit d(α − βd), ★ peak)")
    ax.set_ylabel(f"mean {metric.partition('/')[2]} (gold)")
    ax.grid(True, alpha=0.3)


# ----------------------------------------------------------------------------- tables


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


def format_table(curves: pd.DataFrame, metrics: list[str] = MAIN_METRICS) -> str:
    """Plain-text table: one block per metric, rows = PM variants, columns = N, cells = mean ± CI half-width.

    Args:
        curves: rows of curves.csv.
        metrics: metrics to show, in order; ones absent from `curves` are skipped.

    Returns:
        The table; about 95 characters wide for 7 N values.
    """
    blocks = []
    for metric in metrics:
        rows = curves[curves["metric"] == metric]
        if rows.empty:
            continue
        header = f"{metric}: mean{_ci_what(rows)}{_items(rows)}"
        blocks.append("\n".join(_block(header, rows, "pm", list(dict.fromkeys(rows["pm"])))))
    return "\n\n".join(blocks)


def format_differences(diffs: pd.DataFrame, metrics: list[str] = MAIN_METRICS) -> str:
    """Plain-text table of paired differences: one block per (pm_a, pm_b) pair, rows = metrics, columns = N.

    Cells are mean ± CI half-width of pm_a minus pm_b on the same samples; `*` marks a CI that
    excludes 0.

    Args:
        diffs: rows of differences.csv.
        metrics: metrics to show, in order; ones absent from `diffs` are skipped.

    Returns:
        The table.
    """
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
    """The instrument checks of a run (bon.pipeline.check_stage), in words: accuracies with CIs, verdicts, and
    whether each PM variant that is meant to be less sycophantic actually prefers truthful replies more often."""
    lines = ["instrument checks (bundled labelled sets, bon/data/labelled/; check your own with "
             "python -m bon.check_judge):"]
    from bon.judges.verdicts import UNIT, check_lines, verdict

    for task in ("answer", "answer_judge", "positivity", "are_you_sure"):
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
