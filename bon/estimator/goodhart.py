"""Gao et al.'s (2022) overoptimization form R(d) = d (alpha - beta d), d = sqrt(KL), fitted to a gold-reward curve,
and its CIs and verdict from the one bootstrap over items."""
from __future__ import annotations

import math

import numpy as np

from bon.estimator.bootstrap import enough_resamples, expanded_alpha, group_sums, resample_counts
from bon.estimator.validate import check_array, check_finite
def fit_goodhart(d, r, ns=None) -> dict:
    """Least-squares fit of the best-of-n overoptimization form R(d) = d (alpha - beta d), d = sqrt(KL).

    Gao et al. 2022 ("Scaling laws for reward model overoptimization") fit this form to the gold reward
    of the proxy's best-of-n pick, measured from its value at n = 1, against d = sqrt(KL(BoN || base)).
    beta > 0 means the fitted gold reward peaks at d* = alpha / (2 beta) and falls after it. The fit alone is no
    evidence of overoptimization (2 parameters on a handful of noisy points): `goodhart_bootstrap` gives its
    CIs by item and the verdict. The form has no intercept, so pass r as the gain over n = 1 (r = 0 where d = 0).

    Args:
        d: (L,) sqrt(KL) at each grid point, finite, >= 0.
        r: (L,) gold reward gain at each grid point, finite.
        ns: optional (L,) best-of-n grid of d; gives the N of the peak.

    Returns:
        dict with alpha, beta; d_peak (inf if beta <= 0: no peak; the fitted R rises for ever), kl_peak = d_peak^2,
        r_peak (the fitted gain there); inside (whether min(d) < d_peak < max(d): the peak is seen in the grid);
        n_peak and log_n_peak (with ns: N at the peak, log N interpolated linearly in d inside the grid, the KL bound
        `bon_kl` inverted in log space outside it, so a far peak gives a finite log_n_peak and n_peak = inf rather
        than an overflow; 1 when alpha <= 0 < beta; inf without a peak; None without ns); rmse of the fit;
        n_points = L.
    """
    d, r = check_array("d", d), check_array("r", r)
    if d.ndim != 1 or d.shape != r.shape or d.size < 2:
        raise ValueError(f"d and r must be 1-D of the same length >= 2, got {d.shape} and {r.shape}")
    check_finite("d", d)
    check_finite("r", r)
    if (d < 0).any():
        raise ValueError(f"d = sqrt(KL) must be >= 0, got {d.min()}")
    X = np.stack([d, -d * d], axis=1)  # (L, 2): R = alpha d - beta d^2
    (alpha, beta), *_ = np.linalg.lstsq(X, r, rcond=None)
    alpha, beta = float(alpha), float(beta)
    d_peak = float(_peak(np.array([alpha]), np.array([beta]))[0])
    r_peak = d_peak * (alpha - beta * d_peak) if math.isfinite(d_peak) else math.inf
    inside = bool(d.min() < d_peak < d.max())
    out = {"alpha": alpha, "beta": beta, "d_peak": d_peak, "kl_peak": d_peak ** 2, "r_peak": r_peak,
           "inside": inside, "n_peak": None, "log_n_peak": None,
           "rmse": float(np.sqrt(np.mean((X @ [alpha, beta] - r) ** 2))), "n_points": int(d.size)}
    if ns is not None:
        ns = np.asarray(ns, dtype=np.float64)
        if ns.shape != d.shape:
            raise ValueError(f"ns must have the shape of d {d.shape}, got {ns.shape}")
        log_n = float(_log_n_at(np.array([d_peak]), d, ns)[0])
        out["log_n_peak"] = log_n
        with np.errstate(over="ignore"):
            out["n_peak"] = float(np.exp(log_n))  # inf past ~1e308, never an OverflowError
    return out


def goodhart_bootstrap(d, values, ns, groups=None, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                       min_items: int = 5) -> dict:
    """`fit_goodhart` on the mean gold curve, with CIs that resample items, and the overoptimization verdict.

    The drop is max over N of the mean gold minus the mean gold at the largest N (>= 0; 0 when the curve peaks at
    the end). Best-of-N is called overoptimized only when the drop's bootstrap CI (items resampled with all their
    columns, the same resamples for every N) excludes 0, i.e. its lower end is above 0: a peak inside the grid that
    the data show, not one a 2-parameter fit draws through noise. The fit's alpha, beta, d_peak and N of the peak
    get percentile CIs from the same resamples (d held at its value: the KL axis is not resampled).

    Args:
        d: (L,) sqrt(KL) of each N, finite, >= 0.
        values: (L, n_cols) finite gold value of the pick, one column per prompt (or item).
        ns: (L,) the best-of-N grid, ascending, starting at 1 (the gain is measured from N = 1).
        groups: (n_cols,) item id of each column (None: each column its own item).
        n_boot, alpha, seed: as in `bootstrap_ci`. min_items: fewest items for a CI and a verdict.

    Returns:
        fit_goodhart's dict plus drop (float); n_items; ci: None (too few items, see ``verdict``) or
        {alpha, beta, d_peak, n_peak, drop: [lo, hi]} (peak ends may be inf: no peak in those resamples);
        overoptimized (bool); verdict: "overoptimized", "not shown" or "n = k items: too few for a CI".
    """
    values = check_array("values", values)
    d = check_array("d", d)
    ns_arr = np.asarray(ns, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != d.size or ns_arr.shape != d.shape:
        raise ValueError(f"values must be (L, n_cols) with L = len(d) = len(ns) = {d.size}, got {values.shape} "
                         f"and ns {ns_arr.shape}")
    check_finite("values", values)
    if ns_arr[0] != 1 or (np.diff(ns_arr) <= 0).any():
        raise ValueError(f"ns must be ascending and start at N = 1, got {ns_arr.tolist()}")
    curve = values.mean(axis=1)
    out = fit_goodhart(d, curve - curve[0], ns_arr)
    out["drop"] = float(curve.max() - curve[-1])
    sums, sizes = group_sums(values, groups)
    g = sizes.size
    out["n_items"] = int(g)
    out["ci"], out["overoptimized"] = None, False
    if g < max(min_items, 1) or not enough_resamples(g, alpha):
        out["verdict"] = f"n = {g} items: too few for a CI"
        return out
    counts = resample_counts(g, n_boot, seed)
    boot = (sums @ counts.T) / (counts @ sizes)  # (L, n_boot) resampled mean gold curves
    X = np.stack([d, -d * d], axis=1)
    coef = np.linalg.pinv(X) @ (boot - boot[0])  # (2, n_boot): the least-squares fit of every resample at once
    d_peak = _peak(coef[0], coef[1])
    log_n = _log_n_at(d_peak, d, ns_arr)
    drop = boot.max(axis=0) - boot[-1]
    a = expanded_alpha(g, alpha)
    q = [a / 2, 1 - a / 2]
    # The drop's lower end: the largest Bonferroni lower end over N < N_max of gold(N) - gold(N_max). Each holds with
    # probability 1 - alpha / (2 (L - 1)), so all hold together with probability >= 1 - alpha / 2, and the true drop
    # max_N (gold(N) - gold(N_max)) is at least every one of them. The percentile end of the maximum itself is not a
    # valid bound: the max picks whichever N is highest by chance (8% false alarms in the null simulations).
    diffs = boot[:-1] - boot[-1]  # (L - 1, n_boot)
    drop_lo = float(np.max(np.quantile(diffs, expanded_alpha(g, alpha / max(len(d) - 1, 1)) / 2, axis=1,
                                       method="nearest")))

    def ends(x):  # "nearest": no interpolation between a finite end and inf
        return [float(v) for v in np.quantile(x, q, method="nearest")]

    with np.errstate(over="ignore"):
        n_peak = np.exp(log_n)
    out["ci"] = {"alpha": ends(coef[0]), "beta": ends(coef[1]), "d_peak": ends(d_peak), "n_peak": ends(n_peak),
                 "drop": [max(drop_lo, 0.0), ends(drop)[1]]}
    out["overoptimized"] = bool(out["ci"]["drop"][0] > 0)
    out["verdict"] = "overoptimized" if out["overoptimized"] else "not shown"
    return out


def _peak(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """d at the maximum of d (alpha - beta d) over d >= 0: alpha / (2 beta) for beta > 0 (0 when alpha <= 0),
    inf when beta <= 0 (no maximum)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(beta > 0, np.maximum(alpha / np.where(beta > 0, 2 * beta, 1.0), 0.0), np.inf)


def _log_n_at(d_peak: np.ndarray, d: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """log N of each peak: 0 at d = 0, interpolated linearly in d inside the grid, the inverted KL bound outside
    (inf for an infinite peak)."""
    order = np.argsort(d, kind="stable")
    ds, ln = d[order], np.log(ns[order])
    inside = (ds[0] < d_peak) & (d_peak < ds[-1])
    out = _bon_kl_inverse_log(np.square(d_peak))
    if inside.any():
        out = np.where(inside, np.interp(np.where(inside, d_peak, ds[0]), ds, ln), out)
    return np.where(d_peak == 0, 0.0, out)


def _bon_kl_inverse_log(kl: np.ndarray) -> np.ndarray:
    """x = log n >= 0 with x - (1 - e^-x) = kl (the bound `bon_kl` in log n), elementwise; inf for kl = inf.

    Newton's method from x = kl + 1, above the root (x - 1 < kl below it): the function is convex and increasing
    in x > 0, so the iterates fall monotonically onto the root. All in log space: no exp of a large x is taken."""
    kl = np.asarray(kl, dtype=np.float64)
    finite = np.isfinite(kl)
    k = np.where(finite, np.maximum(kl, 0.0), 0.0)
    x = k + 1.0
    for _ in range(60):  # quadratic once near the root; 60 steps also cover kl ~ 1e-12 (x ~ 1.4e-6)
        e = np.exp(-x)
        step = np.where(x > 0, (x - 1 + e - k) / np.maximum(1 - e, 1e-300), 0.0)
        x = np.maximum(x - step, 0.0)
    return np.where(finite, x, np.inf)
