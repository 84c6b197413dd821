"""Best-of-N beyond the pool, wired to the run: the backtest of every curves.csv row on sub-pools of M / 4, the
extrapolated rows (N in (M, extrapolate.n_max]) of the rows that pass it, and the Goodhart fit on an extrapolated gold
curve. The math is bon/estimator/extrapolate.py; this file only walks the rows and applies the config.

    backtest table      per metric row: M' = M // 4, the N fitted and tested, the mean absolute error of the
                        predicted mean curve over variants and tested N, the share of tested points inside the
                        predicted 95% CI, the threshold and the verdict (backtest.csv, run.json facts, report.txt)
    extrapolated rows   curves.csv rows with extrapolated = True, only for rows whose error is below the threshold
    form                extrapolate.form = auto (default): per row, logit for a rate (every value in [0, 1]), else
                        normal (bon/estimator/extrapolate.py)
    goodhart            gold rows that pass: R(d) = d (alpha - beta d) fitted on the exact and extrapolated mean N
                        (a point fit), where the peak falls, and whether it lies inside the backtested range
                        (N <= M * M / M')
"""
from __future__ import annotations

import math

import numpy as np

from bon.estimator import bon_kl, fit_goodhart
from bon.estimator.extrapolate import applicable_forms, backtest, extrapolate_ci, extrapolation_grid


def n_max_of(cfg) -> int:
    """extrapolate.n_max resolved: null = 8 * M, 0 = off."""
    ext = cfg.get("extrapolate") or {}
    n_max = ext.get("n_max")
    return 8 * int(cfg.m) if n_max is None else int(n_max)


def extrapolate_rows(per_item: dict, groups: dict, curves, ns, cfg, alpha: float) -> tuple[list[dict], dict]:
    """Backtest every (row, variant) curve; extrapolate the rows that pass.

    Args:
        per_item: (row, variant) -> (L, n_cols) exact per-column curves on ns. groups: row -> item of each column.
        curves: the exact curves.csv rows (for the threshold: the CI half-widths of each row).
        ns: the run's N grid. cfg: the run config. alpha: 1 - cfg.ci.

    Returns:
        (curves.csv rows with extrapolated = True, facts["extrapolation"]); ([], {"off": ...}) when n_max <= M.
    """
    m, n_max = int(cfg.m), n_max_of(cfg)
    ext = cfg.get("extrapolate") or {}
    degree = int(ext.get("degree", 1))
    form = str(ext.get("form", "auto"))
    grid = extrapolation_grid(m, n_max) if n_max > m else []
    if not grid:
        return [], {"off": f"extrapolate.n_max = {n_max} <= M = {m}"}
    ns = np.asarray(ns)
    boot = {"n_boot": int(cfg.n_boot), "alpha": alpha, "seed": int(cfg.seed),
            "min_items": int(cfg.get("min_items_ci", 5))}
    rows_out, table, gold_fits = [], [], {}
    for row in dict.fromkeys(r for r, _ in per_item):
        variants = [v for r, v in per_item if r == row]
        # auto: logit for a rate (every value in [0, 1]), else normal. Chosen by the row's range, not by the lowest
        # backtest error: with M' = 2 that choice is noise (scripts/extrapolation_study.py; README)
        rates = all(applicable_forms(per_item[(row, v)])[-1] == "logit" for v in variants)
        f = form if form != "auto" else "logit" if rates else "normal"
        try:  # a row that cannot be fitted fails its backtest with the reason; the curves are written regardless
            tests = {v: backtest(ns, per_item[(row, v)], m, degree, groups.get(row), form=f, **boot)
                     for v in variants}
            entry = _verdict(row, tests, curves, ext.get("max_error")) | {"form": f}
            new, fits = _extrapolate(row, variants, per_item, groups.get(row), ns, grid, degree, f, m, boot) \
                if entry["passed"] else ([], {})
        except (ValueError, np.linalg.LinAlgError) as e:
            entry = _verdict(row, {}, curves, None) | {"form": f, "why": f"no fit: {e}"}
            new, fits = [], {}
        table.append(entry)
        rows_out += new
        if fits:
            gold_fits[row] = fits
    facts = {"n_max": n_max, "m": m, "m_sub": m // 4, "degree": degree, "form": form, "grid": grid, "backtest": table,
             "goodhart": gold_fits}
    return rows_out, facts


def _extrapolate(row, variants, per_item, groups, ns, grid, degree, form, m, boot) -> tuple[list[dict], dict]:
    """The extrapolated curves.csv rows of one row that passed, per variant; for a gold row, the Goodhart fits."""
    kl = bon_kl(np.array(grid))
    rows, fits = [], {}
    for v in variants:
        arr = per_item[(row, v)]
        mean, lo, hi = extrapolate_ci(ns, arr, grid, degree, groups, form=form, **boot)
        n_items = arr.shape[1] if groups is None else len(set(groups))
        rows += [{"metric": row, "pm": v, "n": n, "kl": kl[k], "mean": mean[k], "ci_low": lo[k], "ci_high": hi[k],
                  "n_items": n_items, "extrapolated": True} for k, n in enumerate(grid)]
        if str(row).startswith("gold/"):
            fits[v] = _goodhart(ns, arr.mean(axis=1), grid, mean, m)
    return rows, fits


def _verdict(row: str, tests: dict, curves, max_error) -> dict:
    """One line of the backtest table: pooled error and coverage over variants and tested N, threshold, verdict."""
    done = {v: t for v, t in tests.items() if t is not None}
    entry = {"metric": row, "m_sub": None, "ns_fit": None, "ns_test": None, "mae": None, "coverage": None,
             "n_points": 0, "threshold": None, "passed": False, "why": None}
    if not done:
        entry["why"] = ("the N grid has too few points at or below M / 4 to backtest (M >= 8 with N = 1, 2 in the "
                        "grid) or none above it")
        return entry
    first = next(iter(done.values()))
    errs = [e for t in done.values() for e in t["abs_error"]]
    cov = [c for t in done.values() for c in t["covered"] if c is not None]
    entry.update({"m_sub": first["m_sub"], "ns_fit": first["ns_fit"], "ns_test": first["ns_test"],
                  "mae": float(np.mean(errs)), "coverage": float(np.mean(cov)) if cov else None,
                  "n_points": len(errs)})
    if max_error is None:
        exact = curves[curves["metric"] == row]
        half = ((exact["ci_high"] - exact["ci_low"]) / 2).to_numpy(dtype=np.float64)
        half = half[np.isfinite(half)]
        if not half.size:
            entry["why"] = "no CI on the exact rows (too few items) to set the threshold against"
            return entry
        threshold = 0.5 * float(np.median(half))
    else:
        threshold = float(max_error)
    entry["threshold"] = threshold
    entry["passed"] = bool(entry["mae"] < threshold)
    if not entry["passed"]:
        entry["why"] = f"backtest error {entry['mae']:.3g} >= threshold {threshold:.3g}"
    return entry


def _goodhart(ns, exact_mean, grid, predicted, m) -> dict:
    """Goodhart's form (a point fit, `fit_goodhart`) on the exact and extrapolated mean gold curve of one variant, and
    where its peak falls. No bootstrap verdict: past N = M the curve is a prediction, not a measurement."""
    ns_all = np.concatenate([ns, grid]).astype(np.float64)
    curve = np.concatenate([exact_mean, predicted])
    order = np.argsort(ns_all, kind="stable")
    ns_all, curve = ns_all[order], curve[order]
    backtested = m * (m / max(m // 4, 1))  # the backtest checked a factor M / M' beyond the fitted pool
    try:
        fit = fit_goodhart(np.sqrt(bon_kl(ns_all)), curve - curve[0], ns_all)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:
        return {"skipped": f"no fit: {e}"}
    n_peak = fit.get("n_peak")
    return {"n_peak": n_peak if n_peak is not None and math.isfinite(n_peak) else None,
            "beta": fit["beta"], "n_backtested": backtested, "n_max": int(max(grid)),
            "peak_inside_backtested": bool(n_peak is not None and math.isfinite(n_peak) and n_peak <= backtested)}
