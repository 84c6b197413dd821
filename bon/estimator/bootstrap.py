"""The one bootstrap of bon: every CI, paired difference and Goodhart verdict resamples items through
`resample_counts`, and every printed interval passes `enough_resamples` / `ci_note`."""
from __future__ import annotations

import math

import numpy as np

from bon.estimator.validate import check_array, check_finite, check_int
def bootstrap_ci(x, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, groups=None, min_items: int = 1):
    """Mean over columns with a percentile bootstrap CI that resamples independent items, jointly for all leading entries.

    Every leading entry (e.g. each n of a BoN curve, each metric) uses the same item resamples, so
    differences between entries are resampled consistently. The interval is Hesterberg's (2015) expanded
    percentile interval (`expanded_alpha`): the plain percentile interval of a mean over k items is too narrow for
    small k (its spread is that of a z interval with the biased variance); the expansion widens it to the t
    interval's width and vanishes as k grows. With ``groups``, columns that share a group (the
    templates or framings of one item, which are correlated) are resampled together: a cluster bootstrap, whose
    statistic is the mean over the resampled columns (sum over drawn items / columns over drawn items), so the
    point estimate stays the plain column mean.

    Args:
        x: (..., n_cols) finite per-column values (one column per item, or per prompt with ``groups``).
        n_boot: number of bootstrap resamples, >= 1.
        alpha: two-sided miss rate in (0, 1); 0.05 gives a 95% interval.
        seed: seed for np.random.default_rng; the result is deterministic given it.
        groups: optional (n_cols,) hashable item id of each column; None = every column its own item.
        min_items: fewest independent items for an interval; with fewer, or too few distinct resamples for a
            (1 - alpha) interval (`enough_resamples`), lo and hi are NaN (a point estimate only).

    Returns:
        (mean, lo, hi), each float64 of shape x.shape[:-1] (0-d arrays for 1-D x).
    """
    x = check_array("x", x)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must have shape (..., n_items) with n_items >= 1, got shape {x.shape}")
    check_finite("x", x)
    n_boot = check_int("n_boot", n_boot, 1)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    n = x.shape[-1]
    mean = x.mean(axis=-1)
    sums, sizes = group_sums(x.reshape(-1, n), groups)  # (prod(lead), G), (G,)
    g = sizes.size
    if g < max(min_items, 1) or not enough_resamples(g, alpha):
        nan = np.full(mean.shape, np.nan)
        return mean, nan, nan.copy()
    counts = resample_counts(g, n_boot, seed)  # (n_boot, G)
    boot = (sums @ counts.T) / (counts @ sizes)  # (prod(lead), n_boot) resampled means over columns
    a = expanded_alpha(g, alpha)
    lo, hi = np.quantile(boot, [a / 2, 1 - a / 2], axis=-1)
    return mean, lo.reshape(mean.shape), hi.reshape(mean.shape)


def paired_difference(a, b, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0, groups=None, min_items: int = 1):
    """Mean difference a - b over items with a paired bootstrap CI (e.g. two PMs on the same prompts).

    Args:
        a: (..., n_cols) finite per-column values of variant a.
        b: same shape as a, variant b on the same columns.
        n_boot, alpha, seed, groups, min_items: as in `bootstrap_ci` (groups: the item of each column).

    Returns:
        (mean, lo, hi) of a - b, each of shape a.shape[:-1].
    """
    a, b = check_array("a", a), check_array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (..., n_items), got {a.shape} and {b.shape}")
    return bootstrap_ci(a - b, n_boot=n_boot, alpha=alpha, seed=seed, groups=groups, min_items=min_items)


def group_sums(x, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """Column sums of each item and the number of columns per item.

    Args:
        x: (R, n_cols) values.
        groups: (n_cols,) item id of each column (any hashable); None = every column its own item.

    Returns:
        ((R, G) sums, (G,) float64 column counts), items in order of first appearance.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if groups is None:
        return x, np.ones(n)
    groups = list(groups)
    if len(groups) != n:
        raise ValueError(f"groups must name the item of each of the {n} columns, got {len(groups)} names")
    index: dict = {}
    inv = np.array([index.setdefault(gid, len(index)) for gid in groups], dtype=np.int64)
    onehot = np.zeros((n, len(index)))
    onehot[np.arange(n), inv] = 1.0
    return x @ onehot, onehot.sum(axis=0)


def resample_counts(n_items: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_items) float64 multinomial counts: how often each item appears in each bootstrap resample.

    The one random draw of every bootstrap in bon (CIs, paired differences, the Goodhart fit): the same seed and
    n_items give the same resamples, so a difference of two rows is resampled on the same items as the rows.
    """
    n_items = check_int("n_items", n_items, 1)
    n_boot = check_int("n_boot", n_boot, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_items, size=(n_boot, n_items)) + n_items * np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n_items).reshape(n_boot, n_items).astype(np.float64)


def distinct_resamples(n_items: int) -> int:
    """How many different bootstrap resamples n items have: multisets of size n from n, C(2n - 1, n).

    1 item: 1 (every resample is the item itself), 2: 3, 3: 10, 4: 35, 5: 126.
    """
    n_items = check_int("n_items", n_items, 1)
    return math.comb(2 * n_items - 1, n_items)


def enough_resamples(n_items: int, alpha: float = 0.05) -> bool:
    """Whether n items give a bootstrap distribution fine enough for a two-sided (1 - alpha) percentile interval.

    Each tail of the interval holds alpha / 2 of the resamples, so the resamples must take at least 2 / alpha
    distinct values for a tail to hold one (40 at 95%). n items have at most `distinct_resamples(n)` distinct
    resamples: at 95% that needs n >= 5 (126; 4 items give 35); at 90%, n >= 4. Shared by every CI bon prints.

    Args:
        n_items: independent items (>= 0; 0 is never enough).
        alpha: two-sided miss rate in (0, 1).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return n_items >= 1 and distinct_resamples(n_items) >= 2.0 / alpha


def expanded_alpha(n_items: int, alpha: float = 0.05) -> float:
    """The tail level of Hesterberg's expanded percentile interval ("What teachers should know about the bootstrap",
    2015): alpha' with z_{1 - alpha'/2} = sqrt(k / (k - 1)) t_{1 - alpha/2, k - 1} for k items.

    The bootstrap distribution of a mean of k items has variance (k - 1) / k times the usual estimate and normal,
    not t, tails; taking its percentiles at alpha' instead of alpha corrects both (k = 8, alpha = 0.05:
    alpha' = 0.011; k = 100: 0.047). The t quantile is a Cornish-Fisher expansion (3 significant digits for
    k - 1 >= 2), so numpy and the standard library suffice.

    Args:
        n_items: independent items k (alpha is returned unchanged for k < 2).
        alpha: two-sided miss rate in (0, 1).
    """
    if n_items < 2:
        return alpha
    from statistics import NormalDist

    nu = n_items - 1
    z = NormalDist().inv_cdf(1 - alpha / 2)
    t = (z + (z ** 3 + z) / (4 * nu) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * nu ** 2)
         + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * nu ** 3)
         + (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / (92160 * nu ** 4))
    return 2 * NormalDist().cdf(-math.sqrt(n_items / nu) * t)


def ci_note(n_items: int, lo: float, hi: float, min_items: int = 5, alpha: float = 0.05) -> str | None:
    """Why a bootstrap interval must not be printed as one, or None when it may.

    Args:
        n_items: independent items behind the estimate. lo, hi: the interval (NaN when none was computed).
        min_items: the run's minimum number of items for a CI (config ``min_items_ci``).

    Returns:
        "n = k items: too few for a CI" (below min_items or `enough_resamples`), "every resample gives the same
        value: no interval" (a zero-width interval: all items agree), or None.
    """
    if n_items < min_items or not enough_resamples(max(int(n_items), 0), alpha) or not (
            np.isfinite(lo) and np.isfinite(hi)):
        return f"n = {int(n_items)} items: too few for a CI"
    if hi <= lo:
        return "every resample gives the same value: no interval"
    return None
