"""What the curves stage computes around the metrics' own curves, from arrays the earlier stages made (the math is in
bon.estimator; no model is loaded here):

    item_ci, item_difference    the CI of every curves.csv / differences.csv row: a bootstrap over items (the
                                templates of one item resampled together), NaN below min_items_ci items
    kl_pool, kl_pool/tie_free   rows of curves.csv: the plug-in KL of best-of-N on each pool (mean over prompts,
                                bootstrap CI over items) and its value for M distinct rewards (exact: no CI)
    facts["goodhart"]           R(d) = d (alpha - beta d) fitted to the gold gain over N = 1, d = sqrt(KL), for both
                                KL axes (the bound and kl_pool), with CIs by item and the verdict ("overoptimized"
                                only when the drop after the peak has a CI above 0): stored in run.json, where the
                                report's text and its Goodhart panels read it; a fit that fails is "no fit", never an
                                exception
    facts["kl_pool"]            the three KLs at the largest N, per variant
    facts["length_shift"]       relative change of the pick's length from the smallest to the largest N; a change
                                beyond LENGTH_FLAG is flagged in report.txt

The gold/<name> rows themselves come from the `gold` metric (bon/metrics/gold.py, its input in
bon/metrics/inputs.py).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bon.estimator import bootstrap_ci, fit_goodhart, goodhart_bootstrap, kl_pool, kl_pool_tie_free, paired_difference

LENGTH_FLAG = 0.25  # flag a pick length that best-of-N moves by more than this fraction


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


def _jsonable(fit):
    """Infinite peak values (no peak) as None, also inside the CIs, so run.json stays strict JSON."""
    if isinstance(fit, dict):
        return {k: _jsonable(v) for k, v in fit.items()}
    if isinstance(fit, list):
        return [_jsonable(v) for v in fit]
    return None if isinstance(fit, float) and not math.isfinite(fit) else fit
