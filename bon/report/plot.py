"""The sycophancy-vs-N curves of a finished run as a PNG.

A consumer of stage outputs (STYLE.md 8): it reads `curves.csv` / `differences.csv` from a run
directory and draws them; it never recomputes a metric. The figure mirrors Sharma et al.
2023 ("Towards Understanding Sycophancy in Language Models", sec 4.2, fig. 6): one panel per
sycophancy metric, one line per preference-model (PM) variant, N on a log2 axis with
KL(best-of-N || base) <= log N - (N-1)/N on a second axis above it.

Matplotlib is used through `Figure` + the Agg canvas, never pyplot, so importing this module leaves
the global backend alone and plotting works headless and in threads.
"""
from __future__ import annotations

import json
import os
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from bon.judges.gate import invalid_reason
from bon.report.titles import main_metrics, metric_text

DPI = 130
INVALID_KEY = "bon-invalid-panels"  # PNG text chunk: JSON {metric: INVALID reason} of the panels drawn greyed
_LINESTYLES = ["-", "--", ":", "-."]


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


def plot_curves(curves: pd.DataFrame, path, title: str | None = None, label_col: str = "pm",
                per_template: bool = False, metrics: list[str] | None = None,
                color_col: str | None = None, style_col: str | None = None, x: str = "kl",
                fits: dict | None = None) -> Path:
    """Draw one panel per metric, one line (with CI band) per label, and save a PNG atomically.

    Args:
        curves: rows of curves.csv (columns metric, n, kl, mean, ci_low, ci_high and `label_col`).
        path: output PNG path; written to a temp file in the same folder, then renamed.
        title: figure title; default "Best-of-N sycophancy curves".
        label_col: column naming each line (the PM variant, or "run:pm" for overlays).
        per_template: also draw the per-template rows (e.g. answer_accuracy/bare) after the main ones.
        metrics: explicit metric list (overrides the main metrics / per_template); unknown ones raise.
        color_col: column picking the line colour (default `label_col`), e.g. the run in an overlay.
        style_col: column picking the line style (default: all solid), e.g. the PM in an overlay.
        x: the KL shown: "kl" (the bound log N - (N-1)/N, the default) or "kl_pool" (the pool's measured KL, from
            the kl_pool rows). It labels the top axis of the N panels and is the x-axis of the Goodhart panels.
        fits: the Goodhart fits the curves stage stored (run.json facts["goodhart"]: gold row -> line label ->
            {"kl": fit, "kl_pool": fit}); None draws the gold points without a fit.

    gold/<name> rows (the gold score of each proxy's pick) get a Goodhart panel after the others: gold against
    d = sqrt(KL), with the stored fit R = gold(N=1) + d (alpha - beta d) (Gao et al. 2022) drawn dashed and its peak
    marked. A plot never refits: a line without a stored fit for the axis x has none drawn.

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
        main = main_metrics()
        panels = [m for m in main if m in present]
        if per_template:
            panels += [m for m in present if m not in main]  # file order
        panels += [m for m in present if _is_gold(m) and m not in panels]  # Goodhart panels
    if x not in ("kl", "kl_pool"):
        raise ValueError(f"plot_curves: x must be kl or kl_pool, got {x!r}")
    if x == "kl_pool" and "kl_pool" not in present:
        raise ValueError("plot_curves: x='kl_pool' needs the kl_pool rows of curves.csv (runs made before they "
                         "existed lack them); use x='kl'")
    panels = [m for m in panels if not _is_gold(m)] + [m for m in panels if _is_gold(m)]
    if not panels:
        raise ValueError(f"plot_curves: no metric to plot; curves has {present}, main metrics are {main_metrics()}")

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
    handles, invalid = {}, {}
    for ax, metric in zip(axes, panels):
        rows = curves[curves["metric"] == metric]
        if (why := invalid_reason(rows)) is not None:
            invalid[metric] = why
            _mark_invalid(ax, why)
        if _is_gold(metric):
            _goodhart_panel(ax, _exact(curves), metric, label_col, colors, color_col, styles, style_col, x, handles,
                            (fits or {}).get(metric) or {})
            if metric in invalid:
                ax.set_title("INVALID: " + ax.get_title(), fontsize=11, color="firebrick")
            continue
        for label, g in rows.groupby(label_col, sort=False):
            g = g.sort_values("n")
            g, beyond = _exact(g), g[_extrapolated(g)]
            first = g.iloc[0]
            (line,) = ax.plot(g["n"], g["mean"], marker="o", ms=3.5, lw=1.6, label=str(label),
                              color=colors[first[color_col]],
                              ls=styles.get(first[style_col], "-") if style_col else "-")
            ax.fill_between(g["n"], g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2, lw=0)
            handles.setdefault(str(label), line)
            if len(beyond):  # predicted beyond the pool: dashed from the last measured point, a fainter band
                both = pd.concat([g.iloc[[-1]], beyond])
                ax.plot(both["n"], both["mean"], marker="o", ms=3, mfc="none", lw=1.3, ls="--",
                        color=line.get_color())
                ax.fill_between(beyond["n"], beyond["ci_low"], beyond["ci_high"], color=line.get_color(), alpha=0.08,
                                lw=0)
        if _extrapolated(rows).any():  # where the measured curve ends and the prediction starts: N = M
            ax.axvline(float(_exact(rows)["n"].max()), color="0.4", ls=":", lw=1.0, zorder=0)
            ax.text(0.99, 0.02, "dashed: extrapolated", transform=ax.transAxes, ha="right", fontsize=7,
                    color="0.4")
        if "sycophancy" in metric:
            ax.axhline(0.0, color="0.3", ls="--", lw=0.9, zorder=0)
        panel_title, ylabel = metric_text(metric)
        ax.set_title(("INVALID: " if metric in invalid else "") + panel_title, fontsize=11,
                     **({"color": "firebrick"} if metric in invalid else {}))
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
    # as many legend columns as the labels' length lets fit in the figure's width (~13 characters an inch at this
    # size), so that an overlay's long "<run>:<pm>" labels wrap into rows instead of running off both edges
    longest = max((len(k) for k in handles), default=1)
    fits = max(1, int(fig.get_figwidth() * 13 // (longest + 6)))
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
               ncols=max(1, min(len(handles), 4, fits)), frameon=False,
               title="PM variant" if label_col == "pm" else None)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder so os.replace is an atomic rename; own name per writer so concurrent plots of
    # one path never share a temp file. open(.., "xb") keeps the umask permissions (mkstemp: 0600).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:  # the INVALID panels and reasons also go in a PNG text chunk, for tools and tests
            # bbox_inches="tight": nothing drawn outside the figure (a long legend) is cut off
            fig.savefig(f, format="png", dpi=DPI, metadata={INVALID_KEY: json.dumps(invalid)}, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _mark_invalid(ax, why: str) -> None:
    """Grey and hatch a panel whose metric failed the validity gate (bon/judges/gate.py), its reason printed in it."""
    from matplotlib.patches import Rectangle

    ax.set_facecolor("0.9")
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, hatch="//", edgecolor="0.75", lw=0,
                           zorder=0))
    ax.text(0.5, 0.5, textwrap.fill(why, 58), transform=ax.transAxes, ha="center", va="center", fontsize=7.5,
            color="firebrick", zorder=5, bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "firebrick"})


def _extrapolated(rows: pd.DataFrame) -> pd.Series:
    """Which rows are predicted beyond the pool (curves.csv `extrapolated`; all False for files without it)."""
    if "extrapolated" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return rows["extrapolated"].astype(str).str.lower().isin(["true", "1"])


def _exact(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~_extrapolated(rows)]


def _is_gold(metric) -> bool:
    return str(metric).startswith("gold/")


def _measured_top_axis(ax, ns, kls):
    """Top axis of an N panel labelled with the KL measured on the pool at each N (not a function of N alone)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    top = ax.secondary_xaxis("top")
    top.xaxis.set_major_locator(FixedLocator(ns))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xticklabels([f"{k:.2g}" if np.isfinite(k) else "" for k in kls], fontsize=8)  # none beyond N = M
    top.set_xlabel("KL measured on the pool (kl_pool), nats", fontsize=9)
    return top


def _goodhart_panel(ax, curves, metric, label_col, colors, color_col, styles, style_col, x, handles, fits: dict):
    """Gold score of each proxy's pick against d = sqrt(KL), with the stored fit gold(1) + d (alpha - beta d) (Gao et
    al.). fits: line label -> {"kl": fit, "kl_pool": fit} as bon.curve_stats.goodhart_fits made them."""
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
        fit = (fits.get(label) or {}).get(x)
        if not fit or "alpha" not in fit:  # none stored, or {"skipped": why}: nothing to draw
            continue
        base = float(g["mean"].iloc[0])  # the fit is anchored at N = 1 (d = 0)
        dd = np.linspace(0.0, d.max() * 1.05, 100)
        ax.plot(dd, base + dd * (fit["alpha"] - fit["beta"] * dd), color=color, ls="--", lw=1.0, alpha=0.8)
        if fit["inside"]:
            ax.plot([fit["d_peak"]], [base + fit["r_peak"]], marker="*", ms=10, color=color, ls="none")
    axis = "sqrt(KL bound)" if x == "kl" else "sqrt(KL measured on the pool)"
    ax.set_title(f"Goodhart: {metric} of the proxy's pick", fontsize=11)
    ax.set_xlabel(f"d = {axis}, nats^1/2   (dashed: fit d(α − βd), ★ peak)")
    ax.set_ylabel(f"mean {metric.partition('/')[2]} (gold)")
    ax.grid(True, alpha=0.3)
