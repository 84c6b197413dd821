"""The trade-off a selector buys: mean PM reward of the pick (x) against each sycophancy metric (y), for every
selector, setting, PM variant and n, with CIs by item (pareto.csv, pareto.png). Read from curves.csv's rows only.

A penalty row's sycophancy moves because A (the agreement the penalty subtracts) is graded by an instrument: the
``a_graded_by`` column names the metric whose instrument graded A on that metric's prompts, so a row can carry that
instrument's validity verdict (the one place that maps a Pareto row to it: :func:`a_graded_by`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["selector", "pm", "n", "metric", "reward", "reward_ci_low", "reward_ci_high", "mean", "ci_low", "ci_high",
           "n_items", "a_graded_by"]


def sycophancy_metrics(curves: pd.DataFrame) -> list[str]:
    """The main sycophancy rows present in curves (registered metrics with higher_is_more_sycophantic)."""
    from bon.metrics import METRICS

    return [name for name, cls in METRICS.items() if cls.higher_is_more_sycophantic and cls.main
            and name in set(curves["metric"])]


def a_graded_by(selector: str, metric: str) -> str:
    """The metric whose instrument graded the penalty's A on ``metric``'s prompts ("" for other selectors)."""
    from bon.metrics import METRICS
    from bon.selectors.penalty import A_GRADED_BY

    if not selector.startswith("penalty") or metric not in METRICS:
        return ""
    return A_GRADED_BY.get(METRICS.get(metric).kind, "")


def pareto_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per (selector, variant, n, sycophancy metric): the reward row's mean and CI beside the metric's."""
    if "selector" not in curves or "reward" not in set(curves["metric"]):
        return pd.DataFrame(columns=COLUMNS)
    key = ["selector", "pm", "n"]
    rw = curves[curves["metric"] == "reward"].set_index(key)[["mean", "ci_low", "ci_high"]]
    rw.columns = ["reward", "reward_ci_low", "reward_ci_high"]
    rows = []
    for metric in sycophancy_metrics(curves):
        sub = curves[curves["metric"] == metric].join(rw, on=key, how="inner")
        sub = sub.assign(a_graded_by=[a_graded_by(s, metric) for s in sub["selector"]])
        rows.append(sub[COLUMNS])
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)


def plot_pareto(table: pd.DataFrame, path: Path, title: str = "") -> None:
    """pareto.png: one panel per sycophancy metric; one line per (selector setting, variant) through its n, reward on
    x and the metric on y, CI bars on both; the n = 1 point (the policy) is shared by every selector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(table["metric"]))
    cols = min(2, max(1, len(metrics)))
    rows = -(-max(1, len(metrics)) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows + 1.2), squeeze=False)
    labels = list(dict.fromkeys(table["selector"]))
    pms = list(dict.fromkeys(table["pm"]))
    colors = plt.get_cmap("tab10")
    styles = ["-", "--", ":", "-."]
    for ax, metric in zip(axes.ravel(), metrics):
        for si, sel in enumerate(labels):
            for pi, pm in enumerate(pms):
                d = table[(table["metric"] == metric) & (table["selector"] == sel) & (table["pm"] == pm)]
                if d.empty:
                    continue
                d = d.sort_values("n")
                xerr = _err(d["reward"], d["reward_ci_low"], d["reward_ci_high"])
                yerr = _err(d["mean"], d["ci_low"], d["ci_high"])
                ax.errorbar(d["reward"], d["mean"], xerr=xerr, yerr=yerr, color=colors(si % 10),
                            ls=styles[pi % len(styles)], marker="o", ms=3, lw=1.2, elinewidth=0.6, capsize=0,
                            alpha=0.9, label=f"{sel} / {pm}")
                last = d.iloc[-1]
                ax.annotate(f"{int(last['n'])}", (last["reward"], last["mean"]), fontsize=6, color=colors(si % 10))
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("mean PM reward of the pick", fontsize=9)
        ax.set_ylabel("sycophancy of the pick", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncols=min(4, max(1, len(names))), fontsize=7, frameon=False)
    fig.suptitle((title + "\n" if title else "") + "selectors: reward bought against sycophancy (points: n; "
                 "poisson: 1 + mu; bars: 95% CI by item)", fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.025 * -(-len(labels) * len(pms) // 4), 1, 1))
    _save(fig, Path(path))
    plt.close(fig)


def _save(fig, path: Path) -> None:
    """Atomic, as curves.png (bon/report/plot.py): a temp file of this writer's own, then os.replace."""
    import os
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            fig.savefig(f, format="png", dpi=130)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _err(mean, lo, hi):
    m, lo, hi = (np.asarray(x, dtype=np.float64) for x in (mean, lo, hi))
    if not np.isfinite(lo).any():
        return None
    return np.vstack([np.where(np.isfinite(lo), m - lo, 0.0), np.where(np.isfinite(hi), hi - m, 0.0)])
