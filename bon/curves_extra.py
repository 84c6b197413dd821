"""What the curves stage adds beyond the sycophancy metrics: KL measured on the pool, gold-vs-proxy (Goodhart)
curves and their fit, and the length-shift flag. Called from `bon.pipeline.curves_stage`; pure bookkeeping over
arrays the earlier stages made (the math is in bon.estimator), no model is loaded here.

    item_ci, item_difference    the CI of every curves.csv / differences.csv row: a bootstrap over items (the
                                templates of one item resampled together), NaN below min_items_ci items
    kl_pool, kl_pool/tie_free   rows of curves.csv: the plug-in KL of best-of-N on each pool (mean over prompts,
                                bootstrap CI over items) and its value for M distinct rewards (exact: no CI)
    gold/<name>                 rows of curves.csv: the gold score of each proxy variant's pick (Gao et al. 2022);
                                made by the `gold` metric from the source the `gold` config node names
    facts["goodhart"]           R(d) = d (alpha - beta d) fitted to the gold gain over N = 1, d = sqrt(KL), for both
                                KL axes (the bound and kl_pool), with CIs by item and the verdict ("overoptimized"
                                only when the drop after the peak has a CI above 0): run.json, and report.txt via
                                `format_facts`; a fit that fails is "no fit", never an exception
    facts["kl_pool"]            the three KLs at the largest N, per variant
    facts["length_shift"]       relative change of the pick's length from the smallest to the largest N; a change
                                beyond LENGTH_FLAG is flagged in report.txt
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from bon.estimator import (bootstrap_ci, fit_goodhart, goodhart_bootstrap, kl_pool, kl_pool_tie_free,
                           paired_difference)

LENGTH_FLAG = 0.25  # flag a pick length that best-of-N moves by more than this fraction


# ----------------------------------------------------------------------------- inputs of the metrics


def gold_metric(cfg, metrics: list, make: Callable[[str], Any]):
    """The `gold` metric the `gold` config node asks for, or None (no node, or source null).

    Args:
        cfg: the run config. metrics: the run's metrics (a metric source is shared if present).
        make: name -> a metric built with the run's arguments for it (for a metric source not in the run).
    """
    from bon.metrics.gold import GOLD_SOURCES

    g = cfg.get("gold")
    if g is None or g.source is None:
        return None
    return GOLD_SOURCES.get(g.source).metric(g, metrics, make)


def metric_input(cfg, metric, sel: list[int], examples, replies, judged: dict, samples: pd.DataFrame | None,
                 rewards: dict, sample_values: dict):
    """The `judged` argument of metric.sample_values for the prompts `sel`: a judge task's values, a column of the
    sampler's table (metric.sample_column), the gold source (the gold metric), or None."""
    if metric.judge_task:
        return judged.get(metric.judge_task)
    column = getattr(metric, "sample_column", None)
    if column:
        if samples is None or column not in samples.columns:
            raise ValueError(f"metric {metric.name} reads the samples' {column!r} column, which the sample stage "
                             f"table lacks (columns: {None if samples is None else list(samples.columns)})")
        return sample_matrix(samples, [examples[i].key for i in sel], cfg.m, column)
    if metric.name.startswith("gold/"):
        from bon.metrics.gold import GOLD_SOURCES

        return GOLD_SOURCES.get(cfg.gold.source).values(cfg.gold, metric, sel, examples, replies, judged, rewards,
                                                        sample_values)
    return None


def sample_matrix(samples: pd.DataFrame, keys: list[str], m: int, column: str) -> np.ndarray:
    """(P, M) object array of samples[column] for the prompts `keys`, in order; raises if a sample is missing."""
    pos = {k: i for i, k in enumerate(keys)}
    rows = samples[samples["key"].isin(pos)]
    out = np.empty((len(keys), m), dtype=object)
    filled = np.zeros((len(keys), m), dtype=bool)
    p, j = rows["key"].map(pos).to_numpy(), rows["sample"].to_numpy()
    out[p, j] = rows[column].to_numpy()
    filled[p, j] = True
    if not filled.all():
        p0, j0 = np.argwhere(~filled)[0]
        raise ValueError(f"samples table lacks {column!r} for prompt {keys[p0]}, sample {j0}")
    return out


# ----------------------------------------------------------------------------- rows of curves.csv


def item_ci(arr: np.ndarray, groups, cfg, alpha: float):
    """Mean, CI and item count of a (L, n_cols) row: the bootstrap resamples items (columns sharing a name in
    ``groups`` go together); below cfg.min_items_ci items, or too few distinct resamples, the CI is NaN.

    Returns:
        (mean, lo, hi) of shape (L,), and the number of independent items.
    """
    min_items = cfg.get("min_items_ci", 5)
    mean, lo, hi = bootstrap_ci(arr, n_boot=cfg.n_boot, alpha=alpha, seed=cfg.seed, groups=groups, min_items=min_items)
    return mean, lo, hi, n_items(arr.shape[-1], groups)


def item_difference(a: np.ndarray, b: np.ndarray, groups, cfg, alpha: float):
    """`item_ci` of the paired difference a - b (two variants on the same columns)."""
    min_items = cfg.get("min_items_ci", 5)
    mean, lo, hi = paired_difference(a, b, n_boot=cfg.n_boot, alpha=alpha, seed=cfg.seed, groups=groups,
                                     min_items=min_items)
    return mean, lo, hi, n_items(a.shape[-1], groups)


def n_items(n_cols: int, groups) -> int:
    """Independent items behind n_cols columns named by ``groups`` (None: one item per column)."""
    return n_cols if groups is None else len(set(groups))



def kl_pool_rows(rewards: dict, ns: list[int], kl: np.ndarray, n_boot: int, alpha: float, seed: int,
                 groups=None, min_items: int = 1) -> tuple[list[dict], dict]:
    """curves.csv rows kl_pool (mean over prompts, bootstrap CI over items) and kl_pool/tie_free, per variant; and
    the facts.

    The `kl` column keeps the bound, as on every row, so kl_pool can be read against it. groups: the item of each
    prompt (rows of the rewards), resampled together; min_items: fewest items for a CI (NaN below)."""
    rows, facts = [], {}
    m = next(iter(rewards.values())).shape[1]
    free = kl_pool_tie_free(m, ns)  # (L,)
    for vname, r in rewards.items():
        per_prompt = kl_pool(r, ns)  # (L, P)
        mean, lo, hi = bootstrap_ci(per_prompt, n_boot=n_boot, alpha=alpha, seed=seed, groups=groups,
                                    min_items=min_items)
        for k, n in enumerate(ns):
            base = {"pm": vname, "n": n, "kl": kl[k], "n_items": n_items(r.shape[0], groups)}
            rows.append({"metric": "kl_pool", **base, "mean": mean[k], "ci_low": lo[k], "ci_high": hi[k]})
            # an exact function of M and N, not an estimate: no interval (a zero-width one would read as certainty
            # about the data)
            rows.append({"metric": "kl_pool/tie_free", **base, "mean": free[k], "ci_low": np.nan,
                         "ci_high": np.nan})
        last = int(np.argmax(ns))
        facts[vname] = {"n": int(ns[last]), "m": int(m), "bound": float(kl[last]), "tie_free": float(free[last]),
                        "kl_pool": float(mean[last]), "prompts_with_ties": int((np.diff(np.sort(r, axis=1), axis=1)
                                                                                 == 0).any(axis=1).sum())}
    return rows, facts


# ----------------------------------------------------------------------------- facts from the curves


def goodhart_fits(curves: pd.DataFrame, per_item: dict | None = None, groups: dict | None = None,
                  n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, min_items: int = 5) -> dict:
    """Fit R(d) = d (alpha - beta d) to each gold/<name> row and proxy variant, d = sqrt(KL), for both KL axes.

    R is the gold gain over N = 1 (mean over prompts); the bound axis uses the `kl` column, the pool axis the
    variant's kl_pool row. With the per-prompt gold curves, the fit gets CIs and a verdict that resample items
    (`bon.estimator.goodhart_bootstrap`): "overoptimized" only when the drop from the best N to the largest N has
    a CI above 0. A fit that fails (a non-finite axis, a singular grid) is {"skipped": "no fit: ..."}, never an
    exception: the curves are written whatever the fit does.

    Args:
        curves: the curves.csv rows. per_item: (row, variant) -> (L, n_cols) per-prompt values of each gold row.
        groups: row -> the item id of each column. n_boot, alpha, seed, min_items: as in `bootstrap_ci`.

    Returns:
        {row: {variant: {"kl": fit, "kl_pool": fit}}} (infinite values written as null), or a {"skipped": why}
        entry where the grid cannot be fitted.
    """
    out: dict = {}
    for row in [m for m in dict.fromkeys(curves["metric"]) if str(m).startswith("gold/")]:
        for pm, g in curves[curves["metric"] == row].groupby("pm", sort=False):
            run_order = np.argsort(g["n"].to_numpy(), kind="stable")  # per_item rows follow the run's grid order
            g = g.sort_values("n", kind="stable")
            ns = g["n"].to_numpy()
            if ns[0] != 1 or len(ns) < 3:
                out.setdefault(row, {})[pm] = {"skipped": "the fit needs N = 1 and at least 3 grid points"}
                continue
            axes = {"kl": g["kl"].to_numpy()}
            pool = curves[(curves["metric"] == "kl_pool") & (curves["pm"] == pm)].set_index("n")["mean"]
            if set(ns) <= set(pool.index):
                axes["kl_pool"] = pool.reindex(ns).to_numpy()
            values = (per_item or {}).get((row, pm))
            fits = {}
            for x, v in axes.items():
                try:
                    d = np.sqrt(np.maximum(np.asarray(v, dtype=np.float64), 0.0))
                    if values is None:
                        gain = g["mean"].to_numpy() - g["mean"].iloc[0]
                        fits[x] = _jsonable(fit_goodhart(d, gain, ns))
                    else:
                        fits[x] = _jsonable(goodhart_bootstrap(d, np.asarray(values)[run_order], ns,
                                                               (groups or {}).get(row),
                                                               n_boot=n_boot, alpha=alpha, seed=seed,
                                                               min_items=min_items))
                except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
                    fits[x] = {"skipped": f"no fit: {e}"}
            out.setdefault(row, {})[pm] = fits
    return out


def length_shifts(curves: pd.DataFrame) -> list[dict]:
    """Relative change of each length row (length, length/<kind>) per variant from the smallest to the largest N."""
    out = []
    for row in [m for m in dict.fromkeys(curves["metric"]) if m == "length" or str(m).startswith("length/")]:
        for pm, g in curves[curves["metric"] == row].groupby("pm", sort=False):
            g = g.sort_values("n")
            a, b = float(g["mean"].iloc[0]), float(g["mean"].iloc[-1])
            change = (b - a) / a if a > 0 else (math.inf if b > 0 else 0.0)
            out.append({"row": row, "pm": pm, "n_from": int(g["n"].iloc[0]), "n_to": int(g["n"].iloc[-1]),
                        "from": a, "to": b, "change": change if math.isfinite(change) else None,
                        "flag": bool(not math.isfinite(change) or abs(change) > LENGTH_FLAG)})
    return out


def format_facts(facts: dict) -> list[str]:
    """report.txt lines (indented, under "run facts") for the facts this module adds."""
    lines = []
    for pm, f in (facts.get("kl_pool") or {}).items():
        lines.append(f"  KL(BoN || base) at N={f['n']}, {pm}: bound {f['bound']:.3f}, tie-free pool of M={f['m']} "
                     f"{f['tie_free']:.3f}, measured on the pool (kl_pool) {f['kl_pool']:.3f} "
                     f"({f['prompts_with_ties']} prompts with tied rewards)")
    for row, by_pm in (facts.get("goodhart") or {}).items():
        for pm, fits in by_pm.items():
            if "skipped" in fits:
                lines.append(f"  Goodhart fit of {row} under proxy {pm}: skipped ({fits['skipped']})")
                continue
            for x, f in fits.items():
                lines.append(goodhart_line(row, pm, x, f))
    for s in facts.get("length_shift") or []:
        if s["flag"]:
            change = "from 0" if s["change"] is None else f"{100 * s['change']:+.0f}%"
            lines.append(f"  FLAG length: {s['row']} of {s['pm']}'s pick moves {change} from N={s['n_from']} "
                         f"({s['from']:.1f} tokens) to N={s['n_to']} ({s['to']:.1f}): best-of-N is buying length"
                         if (s["change"] or 1) > 0 else
                         f"  FLAG length: {s['row']} of {s['pm']}'s pick moves {change} from N={s['n_from']} "
                         f"({s['from']:.1f} tokens) to N={s['n_to']} ({s['to']:.1f}): best-of-N is cutting length")
    return lines


def goodhart_line(row: str, pm: str, x: str, f: dict) -> str:
    """One report line for a Goodhart fit: the fitted form, its peak, and the verdict with the drop's CI."""
    axis = "sqrt(KL bound)" if x == "kl" else "sqrt(kl_pool)"
    head = f"  Goodhart fit of {row} under proxy {pm} vs {axis}"
    if "skipped" in f:
        return f"{head}: {f['skipped']}"
    if f["d_peak"] is None:  # beta <= 0: the peak is at infinity
        peak = "no peak (beta <= 0: the fitted gain bends upward)"
    elif f["d_peak"] == 0:
        peak = "falls from N=1 on (alpha <= 0: best-of-N only lowers the gold score)"
    else:
        n_peak = (f"N~{f['n_peak']:.3g}" if f.get("n_peak") is not None
                  else f"log N~{f['log_n_peak']:.3g}" if f.get("log_n_peak") is not None else "N unknown")
        peak = f"fitted peak at {n_peak} (d={f['d_peak']:.3g}), " + ("inside the grid" if f["inside"] else
                                                                      "outside the grid")
    sign = "-" if f["beta"] >= 0 else "+"
    few = " (N = 1 and two more points for 2 parameters: exact, no test of the form)" if f["n_points"] <= 3 else ""
    line = (f"{head}: gain = d ({f['alpha']:.3g} {sign} {abs(f['beta']):.3g} d), {peak}, rmse {f['rmse']:.2g} "
            f"over {f['n_points']} N{few}")
    if "verdict" not in f:
        return line + "; no per-item curves: no verdict"
    ci = f.get("ci")
    if ci is None:
        return line + f"; drop from the best N to the largest {f['drop']:.3g}, {f['verdict']}: no verdict"
    verdict = ("OVEROPTIMIZED: the gold score falls after its peak (drop CI above 0)" if f["overoptimized"] else
               "no overoptimization shown (drop CI reaches 0)")
    return (line + f"; drop from the best N to the largest {f['drop']:.3g} [{ci['drop'][0]:.3g}, "
            f"{ci['drop'][1]:.3g}] over {f['n_items']} items: {verdict}; beta [{ci['beta'][0]:.3g}, "
            f"{ci['beta'][1]:.3g}]")


def _jsonable(fit):
    """Infinite peak values (no peak) as None, also inside the CIs, so run.json stays strict JSON."""
    if isinstance(fit, dict):
        return {k: _jsonable(v) for k, v in fit.items()}
    if isinstance(fit, list):
        return [_jsonable(v) for v in fit]
    return None if isinstance(fit, float) and not math.isfinite(fit) else fit
