"""Best-of-N beyond the pool: E_N for N > M from the exact curve at N <= M, its item-bootstrap CI, and the backtest
that must pass before any extrapolated number is shown. numpy only: arrays in, numbers out.

The form (the "normal-score link"). Let u be a sample's reward quantile within its prompt and z = Phi^-1(u) its
normal score. Assume the expected metric value given the reward is a polynomial of degree d in z (d = 1 by default):
E[v | z] = c_0 + c_1 z + ... + c_d z^d. The best of N draws has z = the maximum of N standard normals, Z_(N), so

    E_N = sum_k c_k mu_k(N),        mu_k(N) = E[Z_(N)^k] = int z^k N Phi(z)^(N-1) phi(z) dz.

Nothing is assumed about the reward's own scale: only its rank enters, as in the exact estimator (a reward that is
Gaussian within the prompt makes the `reward` row itself exactly degree 1, mean + sd * mu_1(N)). Three properties
make this the form bon uses for rows that are not rates (README, "N beyond the pool", has the backtests):

- It is linear in the c_k, and the exact E_n of every n <= M is a known weighted sum of the pool's values, so the fit
  is a least-squares projection: E_N = A @ E_{fit grid} with a fixed (L_new, L_fit) matrix A (`extrapolation_matrix`).
- Linear means it pools across prompts for free: the mean over prompts of per-prompt forms is the same form with
  the mean coefficients; and any linear combination of per-template curves (answer sycophancy) keeps it.
- The item bootstrap that refits per resample is exact and cheap: the refit of a resampled mean curve is A applied
  to it, i.e. the mean of the resampled per-item predictions A @ values (`extrapolate_ci`).

A sub-pool of M' < M samples gives exact E_n for n <= M'; averaged over all C(M, M') sub-pools, that is the full
pool's E_n (the estimator is a U-statistic), and the fit is linear, so fitting the full pool's E_n for n <= M' is the
mean of the fits on every sub-pool. `backtest` does that for M' = M / 4 and compares the predictions for
n in (M', M] with the full pool's exact values.

A rate that saturates (a 0/1 value whose link to the reward is steep) flattens toward 1 while mu_1(N) keeps growing, so
the normal form overshoots; the "logit" form fits the same regressors to the logit of the mean curve
(E_N = expit(sum_k c_k mu_k(N))), which keeps it in [0, 1]. bon takes it for every row whose values are rates. It is not linear, so the sub-pool identity gives the fit on the sub-pool-averaged curve rather than the
mean of the sub-pool fits, and the bootstrap refits every resample.

What it cannot do: with d = 1, E_N is monotone in N, so it never predicts a turnover (a Goodhart peak) that the pool
does not already show; the normal form's prediction is not clipped to a row's range.
"""
from __future__ import annotations

import math

import numpy as np

from bon.estimator.bootstrap import (bootstrap_ci, enough_resamples, expanded_alpha, group_sums,
                                     resample_counts)
from bon.estimator.validate import check_array, check_finite, check_int

_Z = np.linspace(-12.0, 12.0, 48001)  # grid for mu_k(N): Phi(-12) ~ 2e-33, the tails past it hold nothing
_LOG_CDF = np.log([0.5 * math.erfc(-z / math.sqrt(2.0)) for z in _Z])  # log Phi on the grid, exact in both tails


def max_normal_moments(ns, degree: int = 1) -> np.ndarray:
    """mu_k(N) = E[Z_(N)^k], the k-th moment of the maximum of N iid standard normals, k = 0..degree.

    Args:
        ns: int or sequence of N >= 1 (up to ~1e12: the maximum stays well inside the grid).
        degree: highest power, >= 0.

    Returns:
        (len(ns), degree + 1) float64; column 0 is 1, column 1 at N = 2 is 1/sqrt(pi).
    """
    degree = check_int("degree", degree, 0)
    ns = np.atleast_1d(np.asarray(ns, dtype=np.float64))
    if ns.ndim != 1 or not np.all(ns >= 1):
        raise ValueError(f"ns must be N >= 1, got {ns.tolist()}")
    z = _Z
    log_phi = -0.5 * z * z - 0.5 * np.log(2 * np.pi)
    # density of Z_(N): N Phi^(N-1) phi, in logs so N ~ 1e6 neither underflows nor overflows
    dens = np.exp(np.log(ns)[:, None] + (ns[:, None] - 1) * _LOG_CDF[None] + log_phi[None])  # (L, G)
    powers = z[None] ** np.arange(degree + 1)[:, None]  # (d+1, G)
    dz = z[1] - z[0]
    return (dens[:, None, :] * powers[None]).sum(axis=-1) * dz  # (L, d+1); the ends are ~0, so a Riemann sum


FORMS = ("normal", "logit", "log")
_EPS = 1e-6  # the logit form clips a mean curve to [eps, 1 - eps]: a rate of exactly 0 or 1 stays finite


def basis(ns, degree: int = 1, form: str = "normal") -> np.ndarray:
    """The regressors of E_N: "normal" and "logit" mu_k(N) (`max_normal_moments`; "logit" fits them to the
    logit of the mean curve, for rates in [0, 1] that saturate); "log" (log N)^k, the curve-fitting baseline they were
    backtested against (linear in log N for degree 1, as Gao et al. 2022 plot BoN)."""
    if form in ("normal", "logit"):
        return max_normal_moments(ns, degree)
    if form == "log":
        degree = check_int("degree", degree, 0)
        return np.log(np.atleast_1d(np.asarray(ns, dtype=np.float64)))[:, None] ** np.arange(degree + 1)[None]
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def extrapolation_matrix(ns_fit, ns_new, degree: int = 1, form: str = "normal") -> np.ndarray:
    """The least-squares fit of E_n = sum_k c_k mu_k(n) on ns_fit, evaluated at ns_new, as one matrix.

    Args:
        ns_fit: (L,) distinct N of the exact curve, at least degree + 1 of them.
        ns_new: (L_new,) N to predict.
        degree: degree of the link in the normal score.
        form: "normal" (the module docstring) or "log" (`basis`).

    Returns:
        (L_new, L) float64 A: predictions = A @ curve (curve: (L, ...) exact values on ns_fit). Each row sums to 1
        (a constant curve is predicted constant).
    """
    ns_fit = np.asarray(ns_fit, dtype=np.float64)
    if ns_fit.ndim != 1 or len(np.unique(ns_fit)) < degree + 1:
        raise ValueError(f"a degree-{degree} fit needs at least {degree + 1} distinct N, got {ns_fit.tolist()}")
    X = basis(ns_fit, degree, form)  # (L, d+1)
    return basis(ns_new, degree, form) @ np.linalg.pinv(X)


def extrapolate_ci(ns_fit, values, ns_new, degree: int = 1, groups=None, n_boot: int = 1000, alpha: float = 0.05,
                   seed: int = 0, min_items: int = 1, form: str = "normal"):
    """Predicted mean E_N at ns_new with a bootstrap CI over items that refits on every resample.

    Args:
        ns_fit: (L,) N of the exact per-column curves.
        values: (L, n_cols) finite exact E_n of each column (prompt or item) on ns_fit.
        ns_new: (L_new,) N to predict.
        degree, groups, n_boot, alpha, seed, min_items, form: as in `extrapolation_matrix` and `bootstrap_ci` (the same
            seed gives the same item resamples as the exact rows' CIs).

    Returns:
        (mean, lo, hi), each (L_new,); lo and hi NaN below min_items items. "normal" and "log" are linear, so the
        refit of a resampled mean curve equals the resampled mean of the per-column predictions, which is what is
        bootstrapped; "logit" (values in [0, 1] only) refits every resampled mean curve on the logit scale.
    """
    values = check_array("values", values)
    if values.ndim != 2 or values.shape[0] != len(np.atleast_1d(ns_fit)):
        raise ValueError(f"values must be (L, n_cols) with L = len(ns_fit), got {values.shape}")
    check_finite("values", values)
    A = extrapolation_matrix(ns_fit, ns_new, degree, form)  # (L_new, L)
    if form != "logit":
        return bootstrap_ci(A @ values, n_boot=n_boot, alpha=alpha, seed=seed, groups=groups, min_items=min_items)
    if (values < 0).any() or (values > 1).any():
        raise ValueError("form 'logit' needs values in [0, 1] (a rate)")
    mean = _expit(A @ _logit(values.mean(axis=1)))
    g = n_items_of(values.shape[1], groups)
    nan = np.full(mean.shape, np.nan)
    if g < max(min_items, 1) or not enough_resamples(g, alpha):
        return mean, nan, nan.copy()
    sums, sizes = group_sums(values, groups)
    counts = resample_counts(g, n_boot, seed)
    boot = _expit(A @ _logit((sums @ counts.T) / (counts @ sizes)))  # (L_new, n_boot): each resample refitted
    a = expanded_alpha(g, alpha)
    lo, hi = np.quantile(boot, [a / 2, 1 - a / 2], axis=-1)
    return mean, lo, hi


def applicable_forms(values) -> list[str]:
    """The forms `extrapolate_ci` accepts for these values: normal always, logit when every value is in [0, 1]."""
    v = np.asarray(values, dtype=np.float64)
    return ["normal", "logit"] if v.size and (v >= 0).all() and (v <= 1).all() else ["normal"]


def n_items_of(n_cols: int, groups) -> int:
    return n_cols if groups is None else len(set(groups))


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _expit(x):
    return 1 / (1 + np.exp(-x))


def backtest(ns, values, m: int, degree: int = 1, groups=None, n_boot: int = 1000, alpha: float = 0.05,
             seed: int = 0, min_items: int = 1, form: str = "normal") -> dict | None:
    """Fit on sub-pools of size M' = M // 4 (all of them: see the module docstring), predict n in (M', M], compare.

    Args:
        ns: (L,) the run's N grid (exact rows), each <= m.
        values: (L, n_cols) exact per-column E_n on ns, from the full pool of m samples.
        m: pool size M.
        degree, groups, n_boot, alpha, seed, min_items, form: as in `extrapolate_ci`.

    Returns:
        None when the grid cannot be backtested (fewer than degree + 1 N <= M', or none in (M', M]); else
        {m_sub, ns_fit, ns_test, exact, predicted, lo, hi (lists over ns_test), abs_error (list), covered (list of
        bool or None where no CI)}.
    """
    m = check_int("m", m, 1)
    ns = np.asarray(ns)
    values = check_array("values", values)
    m_sub = m // 4
    fit, test = ns <= m_sub, (ns > m_sub) & (ns <= m)
    if len(np.unique(ns[fit])) < degree + 1 or not test.any():
        return None
    mean, lo, hi = extrapolate_ci(ns[fit], values[fit], ns[test], degree, groups, n_boot, alpha, seed, min_items,
                                  form)
    exact = values[test].mean(axis=1)
    has_ci = np.isfinite(lo) & np.isfinite(hi)
    return {"m_sub": m_sub, "ns_fit": [int(n) for n in ns[fit]], "ns_test": [int(n) for n in ns[test]],
            "exact": exact.tolist(), "predicted": mean.tolist(), "lo": lo.tolist(), "hi": hi.tolist(),
            "abs_error": np.abs(mean - exact).tolist(),
            "covered": [bool(a <= e <= b) if c else None for e, a, b, c in zip(exact, lo, hi, has_ci)]}


def extrapolation_grid(m: int, n_max: int) -> list[int]:
    """N beyond the pool: powers of two in (m, n_max], and n_max itself. Empty when n_max <= m."""
    m, n_max = check_int("m", m, 1), check_int("n_max", n_max, 0)
    out = [1 << k for k in range(1, n_max.bit_length() + 1) if m < (1 << k) <= n_max]
    return out + [n_max] if n_max > m and (not out or out[-1] != n_max) else out
