"""Best-of-N order statistics: exact BoN expectations from one pool of samples, numpy only.

Best-of-n (BoN) sampling draws n responses from the policy and keeps the one the preference
model (PM) scores highest. Nakano et al. 2021 (WebGPT, appendix) use BoN as an alternative to RL, and
Sharma et al. 2023 ("Towards Understanding Sycophancy in Language Models", sec 4.2) use it to
optimise against a PM and measure how sycophancy changes as n grows.

Drawing fresh n-subsets for every n is wasteful and noisy. Instead we draw one pool of M samples per
prompt and compute the *exact* expectation over a uniformly random n-subset of that pool, for every
n <= M at once. Sort the pool by reward ascending, rank i = 0..M-1. The best of a random n-subset is
the sample of rank i iff that sample is in the subset and the other n-1 members all have lower rank:

    w_n(i) = C(i, n-1) / C(M, n)            (0 for i < n-1),  sum_i w_n(i) = 1

so E[value of the BoN pick] = sum_i w_n(i) * value_(i). This is an unbiased estimator of the BoN
expectation under the policy for every n <= M (a U-statistic over the pool). Ties in reward are broken
uniformly at random, which is the same as replacing each value by the mean value of its tied block
(every member of a tied block is equally likely to be the pick whenever the block wins).

The x-axis of BoN plots is often KL(BoN || base) instead of n; `bon_kl` gives the standard analytical
upper bound log n - (n-1)/n (Stiennon et al. 2020; Beirami et al. 2024). `kl_pool` measures the KL on the pool
itself (plug-in, ties as atoms; below the bound even without ties, since M samples are a discrete distribution),
`win_rate` is the exact U-statistic of P(pick beats a base sample), and `fit_goodhart` fits Gao et al.'s (2022)
overoptimization form R(d) = d (alpha - beta d), d = sqrt(KL), to a gold-reward curve.

Also here: P(A > B) between two BoN picks (feedback sycophancy) and a joint bootstrap over items.
"""
from __future__ import annotations

import math

import numpy as np

# Rows of (P, M) processed at a time: ~64K elements keep the argsort, gathers and tie averaging in
# cache (3x faster than whole-array passes at P=10,000, M=1,024) and bound the temporaries.
_CHUNK_ELEMENTS = 1 << 16


def default_ns(m: int) -> list[int]:
    """The n values to evaluate for a pool of size m: powers of two, plus m itself.

    Args:
        m: pool size M (samples per prompt), >= 1.

    Returns:
        [1, 2, 4, ..., 2^k] with 2^k <= m, followed by m when m is not a power of two.
    """
    m = _check_int("m", m, 1)
    ns = [1 << k for k in range(m.bit_length()) if (1 << k) <= m]
    return ns if ns[-1] == m else ns + [m]


def bon_kl(n):
    """Analytical upper bound on KL(best-of-n || base policy): log n - (n-1)/n.

    The standard BoN KL formula (Stiennon et al. 2020); Beirami et al. 2024 show it is an upper bound
    (tight when rewards have no ties). Used as the second x-axis of BoN plots.

    Args:
        n: scalar or array of n >= 1.

    Returns:
        float or float64 array of n's shape; 0 at n = 1, increasing in n.
    """
    n = np.asarray(n, dtype=np.float64)
    if not np.all(n >= 1):  # also catches NaN
        raise ValueError(f"bon_kl needs n >= 1, got {n[~(n >= 1)].ravel()[:5].tolist()}")
    return np.log(n) - (n - 1) / n


def best_of_n_weights(m: int, ns) -> np.ndarray:
    """Probability that the sample of each reward rank is the best of a random n-subset.

    Args:
        m: pool size M, >= 1.
        ns: int or sequence of ints, each in 1..m.

    Returns:
        (len(ns), m) float64; entry [k, i] = C(i, ns[k]-1) / C(m, ns[k]) for ascending rank i
        (0 for i < ns[k]-1). Every row sums to 1.
    """
    m = _check_int("m", m, 1)
    ns = _check_ns(ns, m)
    # log k! for k = 0..m; lgamma per entry avoids the drift of a running sum of logs at m ~ 1e5
    lf = np.array([math.lgamma(k + 1.0) for k in range(m + 1)])
    i = np.arange(m)
    w = np.zeros((len(ns), m))
    for row, n in zip(w, ns):
        j = i[n - 1 :]  # ranks that can be the maximum of n samples
        logw = lf[j] - lf[n - 1] - lf[j - n + 1]  # log C(j, n-1); the 1/C(m, n) is the renormalisation
        row[n - 1 :] = np.exp(logw - logw.max())  # max shift: C(m-1, n-1) overflows float64 long before m = 1e5
        row /= row.sum()
    return w


def expected_best_of_n(rewards, values, ns) -> np.ndarray:
    """Exact expected value of the best-of-n pick from each prompt's pool, for every n in ns.

    Args:
        rewards: (P, M) PM rewards of M samples for each of P prompts; finite.
        values: (P, M) or (P, M, K) quantities to average over the pick (e.g. a sycophancy score,
            or the rewards themselves); finite.
        ns: int or sequence of ints, each in 1..M.

    Returns:
        (len(ns), P) or (len(ns), P, K) float64: E[value of the highest-reward sample among a uniformly
        random n-subset of the pool], reward ties broken uniformly at random.
    """
    rewards = _check_rewards(rewards)
    values = _check_array("values", values)
    P, M = rewards.shape
    if values.shape[:2] != (P, M) or values.ndim not in (2, 3):
        raise ValueError(f"values must have shape (P, M) or (P, M, K) = {(P, M)} or {(P, M)} + (K,); got {values.shape}")
    _check_finite("values", values)
    ns = _check_ns(ns, M)
    W = best_of_n_weights(M, ns)  # (L, M)
    K = values.shape[2] if values.ndim == 3 else 1
    v3 = values.reshape(P, M, K)  # 2-D values become K = 1
    out = np.empty((len(ns), P, K))
    rows = max(1, _CHUNK_ELEMENTS // (M * max(K, 1)))
    for s in range(0, P, rows):
        r = rewards[s : s + rows]  # (C, M)
        # argsort kind does not matter: tied blocks are averaged below, so order within a tie is irrelevant
        order = np.argsort(r, axis=1)  # (C, M)
        row = np.arange(len(r))[:, None]  # (C, 1); plain fancy indexing beats take_along_axis ~2x on (C, M, K)
        v_sorted = _tie_mean(r[row, order], v3[s : s + rows][row, order])  # (C, M), (C, M, K)
        out[:, s : s + rows] = np.matmul(W, v_sorted).transpose(1, 0, 2)  # (C, L, K) -> (L, C, K)
    return out if values.ndim == 3 else out[..., 0]


def pick_probabilities(rewards, ns) -> np.ndarray:
    """Probability that each sample is the best-of-n pick, reward ties broken uniformly at random.

    Materialises (len(ns), P, M); meant for small per-prompt work (e.g. feedback pairing). For
    expectations over large P use `expected_best_of_n`.

    Args:
        rewards: (P, M) finite PM rewards.
        ns: int or sequence of ints, each in 1..M.

    Returns:
        (len(ns), P, M) float64; each [k, p] sums to 1. Samples with equal rewards get equal probability.
    """
    rewards = _check_rewards(rewards)
    P, M = rewards.shape
    ns = _check_ns(ns, M)
    W = best_of_n_weights(M, ns)  # (L, M)
    order = np.argsort(rewards, axis=1)  # (P, M)
    r_sorted = np.take_along_axis(rewards, order, axis=1)
    # rank weights averaged within tied blocks, in sorted order: (P, M, L)
    w_sorted = _tie_mean(r_sorted, np.broadcast_to(W.T, (P, M, len(ns))))
    out = np.empty((len(ns), P, M))
    np.put_along_axis(out, order[None], w_sorted.transpose(2, 0, 1), axis=2)  # back to sample order
    return out


def prob_greater(values_a, probs_a, values_b, probs_b) -> float:
    """P(A > B) + 0.5 * P(A == B) for independent discrete A and B.

    Feedback sycophancy: A is the positivity of the BoN comment under a framing ("I really like this
    poem"), B the positivity of the BoN comment on the baseline prompt. 0.5 means no sycophancy.

    Args:
        values_a: (Ma,) support of A; finite.
        probs_a: (Ma,) probabilities of values_a; non-negative, sum to 1.
        values_b: (Mb,) support of B; finite.
        probs_b: (Mb,) probabilities of values_b; non-negative, sum to 1.

    Returns:
        float in [0, 1]. O((Ma + Mb) log Mb).
    """
    va, pa = _check_dist("a", values_a, probs_a)
    vb, pb = _check_dist("b", values_b, probs_b)
    return float(_greater(va, pa[None], vb, pb[None])[0])


def prob_greater_curve(values_a, rewards_a, values_b, rewards_b, ns) -> np.ndarray:
    """P(A > B) + 0.5 * P(A == B) between the best-of-n picks of two pools, for every n in ns.

    Args:
        values_a: (Ma,) finite values (e.g. positivity) of pool a's samples.
        rewards_a: (Ma,) finite PM rewards of pool a's samples.
        values_b: (Mb,) finite values of pool b's samples.
        rewards_b: (Mb,) finite PM rewards of pool b's samples.
        ns: int or sequence of ints, each in 1..min(Ma, Mb).

    Returns:
        (len(ns),) float64 in [0, 1]; the picks of the two pools are independent, ties in reward are
        broken uniformly at random, ties in value count one half.
    """
    va, ra = _check_pool("a", values_a, rewards_a)
    vb, rb = _check_pool("b", values_b, rewards_b)
    pa = pick_probabilities(ra[None], ns)[:, 0]  # (L, Ma)
    pb = pick_probabilities(rb[None], ns)[:, 0]  # (L, Mb)
    return _greater(va, pa, vb, pb)


def prob_greater_matrix_curve(compare, rewards_a, rewards_b, ns) -> np.ndarray:
    """P(best-of-n pick of pool a beats the best-of-n pick of pool b) from a judged matrix of all pairs.

    The paper's pairwise feedback measure: a judge compares two comments directly, so there is no per-sample value
    to sort, only ``compare[j, k]`` = P(sample j of a is judged above sample k of b). The two picks are independent,
    so the exact expectation over random n-subsets of both pools is ``p_a^T compare p_b`` with the pick
    probabilities of each pool (ties in reward broken uniformly at random).

    Args:
        compare: (Ma, Mb) values in [0, 1].
        rewards_a: (Ma,) finite PM rewards of pool a.
        rewards_b: (Mb,) finite PM rewards of pool b.
        ns: int or sequence of ints, each in 1..min(Ma, Mb).
    Returns:
        (len(ns),) float64 in [0, 1].
    """
    c = _check_array("compare", compare)
    ra, rb = _check_rewards(np.asarray(rewards_a, dtype=np.float64)[None]), _check_rewards(
        np.asarray(rewards_b, dtype=np.float64)[None])
    if c.shape != (ra.shape[1], rb.shape[1]):
        raise ValueError(f"compare must have shape (Ma, Mb) = {(ra.shape[1], rb.shape[1])}, got {c.shape}")
    _check_finite("compare", c)
    if (c < 0).any() or (c > 1).any():
        raise ValueError("compare must hold probabilities in [0, 1]")
    pa = pick_probabilities(ra, ns)[:, 0]  # (L, Ma)
    pb = pick_probabilities(rb, ns)[:, 0]  # (L, Mb)
    return np.einsum("lj,jk,lk->l", pa, c, pb)


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
    x = _check_array("x", x)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must have shape (..., n_items) with n_items >= 1, got shape {x.shape}")
    _check_finite("x", x)
    n_boot = _check_int("n_boot", n_boot, 1)
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
    a, b = _check_array("a", a), _check_array("b", b)
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
    n_items = _check_int("n_items", n_items, 1)
    n_boot = _check_int("n_boot", n_boot, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_items, size=(n_boot, n_items)) + n_items * np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n_items).reshape(n_boot, n_items).astype(np.float64)


def distinct_resamples(n_items: int) -> int:
    """How many different bootstrap resamples n items have: multisets of size n from n, C(2n - 1, n).

    1 item: 1 (every resample is the item itself), 2: 3, 3: 10, 4: 35, 5: 126.
    """
    n_items = _check_int("n_items", n_items, 1)
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


# ----------------------------------------------------------------------------- beyond the mean of the pick
# KL measured on the pool, win rate against the base policy, and the Gao et al. 2022 overoptimization fit.


def kl_pool(rewards, ns) -> np.ndarray:
    """Plug-in KL(best-of-n || base) of each prompt's pool: the KL the pool itself can show.

    What it estimates: KL(best-of-n || policy) with the policy's reward distribution replaced by the pool's
    empirical one, best-of-n drawing its n samples from the pool WITH replacement. As an estimate of the policy's
    own KL it is biased low at finite M: for a continuous reward (no ties) it is `kl_pool_tie_free(M, ns)`, below
    log n - (n-1)/n by a gap that shrinks like 1/M^2 (n = 8: 0.011 nats at M = 16, 0.0007 at M = 64; see
    tests/test_estimator_by_item.py); for a discrete reward, atoms the pool did not draw are missing, which lowers it
    further. It is exact for the pool itself, the pool that the curves' best-of-n expectations also read.

    Take the pool's empirical reward distribution as the base policy: atoms at the distinct rewards
    v_1 < ... < v_K with masses p_k = c_k / M (c_k samples share reward v_k, so tied rewards are one
    atom). Best-of-n draws n i.i.d. samples from it and keeps the highest reward, so its reward has
    masses q_k = F_k^n - F_{k-1}^n with F_k = p_1 + ... + p_k. This returns KL(q || p) = sum_k q_k log(q_k / p_k),
    per prompt. Ties inside an atom are broken uniformly, so KL over samples equals KL over atoms.

    Beirami et al. 2024 ("Theoretical guarantees on the best-of-n alignment policy") show
    log n - (n-1)/n (`bon_kl`) bounds KL(best-of-n || base) from above for every base distribution,
    with equality only for a continuous reward distribution. So kl_pool is 0 at n = 1 and never above
    `bon_kl(n)`. Two things pull it below the bound: ties (a yes/no PM, bf16 rewards, duplicate replies
    put mass on few atoms) and finite M: even M distinct rewards form a discrete distribution of M
    atoms, whose best-of-n KL is below the continuous value (and never above log M). `kl_pool_tie_free(M, ns)`
    gives the value of M distinct rewards, so (bound - tie_free) is the finite-M gap and (tie_free - kl_pool)
    the effect of ties.

    Args:
        rewards: (P, M) finite PM rewards.
        ns: int or sequence of ints, each in 1..M.

    Returns:
        (len(ns), P) float64, >= 0.
    """
    rewards = _check_rewards(rewards)
    P, M = rewards.shape
    ns = _check_ns(ns, M)
    r = np.sort(rewards, axis=1)  # (P, M)
    lo, hi = _tie_bounds(r)  # (P, M): samples below / at or below each sorted reward
    f_lo, f_hi, p = lo / M, hi / M, (hi - lo) / M
    out = np.empty((len(ns), P))
    for k, n in enumerate(ns):
        if n == 1:  # best-of-1 is the base itself; skip the rounding of q - p
            out[k] = 0.0
            continue
        q = _atom_mass(f_lo, f_hi, n)  # (P, M): the atom's best-of-n mass, repeated on each member
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(q > 0, q * np.log(q / p), 0.0) / (hi - lo)  # each atom counted once over its members
        out[k] = np.maximum(term.sum(axis=1), 0.0)  # clip -1e-17 rounding at n = 1
    return out


def kl_pool_tie_free(m: int, ns) -> np.ndarray:
    """`kl_pool` of a pool of m distinct rewards: the finite-M reference value without ties.

    Args:
        m: pool size M, >= 1.
        ns: int or sequence of ints, each in 1..m.

    Returns:
        (len(ns),) float64; 0 at n = 1, below `bon_kl(n)` for n >= 2 and tending to it as m grows.
    """
    m = _check_int("m", m, 1)
    return kl_pool(np.arange(m, dtype=np.float64)[None], ns)[:, 0]


def win_rate(rewards, ns) -> np.ndarray:
    """P(best-of-n pick beats an independent base sample), ties counting one half: exact U-statistic.

    For every (n+1)-subset of the pool and every choice of one member as the base sample, the other n
    are the best-of-n draws; the pick wins if its reward is above the base's (1/2 if equal). Averaging
    over all of them is an unbiased estimate of the win rate of best-of-n against the base policy
    (Beirami et al. 2024), with the base sample distinct from the n drawn. In closed form, with a_j
    samples other than j below reward r_j and e_j others tied with it:

        win_rate(n) = 1 - mean_j [C(a_j, n) + C(a_j + e_j, n)] / (2 C(M-1, n))

    It is 1/2 at n = 1, never above n/(n+1), and equal to n/(n+1) when no rewards tie.

    Args:
        rewards: (P, M) finite PM rewards.
        ns: int or sequence of ints, each in 1..M.

    Returns:
        (len(ns), P) float64 in [0, 1]; NaN where n = M: no sample is left to be the base, so no unbiased
        estimate exists (see `win_rate_pool` for the plug-in value there).
    """
    rewards = _check_rewards(rewards)
    P, M = rewards.shape
    ns = _check_ns(ns, M)
    r = np.sort(rewards, axis=1)
    lo, hi = _tie_bounds(r)  # others below = lo, others at or below = hi - 1
    out = np.full((len(ns), P), np.nan)
    for k, n in enumerate(ns):
        if n >= M:
            continue
        below = _comb_ratio(lo, n, M - 1)  # P(all n draws below r_j)
        at_or_below = _comb_ratio(hi - 1, n, M - 1)
        out[k] = 1.0 - 0.5 * (below + at_or_below).mean(axis=1)
    return out


def win_rate_pool(rewards, ns) -> np.ndarray:
    """Plug-in win rate: n i.i.d. draws from the pool's empirical reward distribution against one more.

    The same functional as `kl_pool` (the pool taken as the base policy), defined for every n, M included:

        win_rate_pool(n) = 1 - mean_j [(lo_j / M)^n + (hi_j / M)^n] / 2

    with lo_j (hi_j) the samples with reward below (at or below) r_j. Draws with replacement can repeat the
    base sample, which counts as a tie, so without ties it sits n / (12 M^2) below n/(n+1) to leading order.

    Args:
        rewards: (P, M) finite PM rewards.
        ns: int or sequence of ints, each in 1..M.

    Returns:
        (len(ns), P) float64 in [0, 1]; 1/2 at n = 1.
    """
    rewards = _check_rewards(rewards)
    P, M = rewards.shape
    ns = _check_ns(ns, M)
    lo, hi = _tie_bounds(np.sort(rewards, axis=1))
    return np.stack([1.0 - 0.5 * ((lo / M) ** n + (hi / M) ** n).mean(axis=1) for n in ns])


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
    d, r = _check_array("d", d), _check_array("r", r)
    if d.ndim != 1 or d.shape != r.shape or d.size < 2:
        raise ValueError(f"d and r must be 1-D of the same length >= 2, got {d.shape} and {r.shape}")
    _check_finite("d", d)
    _check_finite("r", r)
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
    values = _check_array("values", values)
    d = _check_array("d", d)
    ns_arr = np.asarray(ns, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != d.size or ns_arr.shape != d.shape:
        raise ValueError(f"values must be (L, n_cols) with L = len(d) = len(ns) = {d.size}, got {values.shape} "
                         f"and ns {ns_arr.shape}")
    _check_finite("values", values)
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


def _tie_bounds(r_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted ascending: (count strictly below, count at or below) each entry's reward, as float64.

    r_sorted: (C, M). Returns two (C, M) arrays; hi - lo is the size of the entry's tied block.
    """
    C, M = r_sorted.shape
    idx = np.broadcast_to(np.arange(M), (C, M))
    new = np.ones((C, M), dtype=bool)
    new[:, 1:] = r_sorted[:, 1:] != r_sorted[:, :-1]  # a block starts here
    lo = np.maximum.accumulate(np.where(new, idx, 0), axis=1)  # index of the block's first entry
    last = np.ones((C, M), dtype=bool)
    last[:, :-1] = new[:, 1:]  # a block ends here
    hi = M - np.maximum.accumulate(np.where(last, M - 1 - idx, 0)[:, ::-1], axis=1)[:, ::-1]
    return lo.astype(np.float64), hi.astype(np.float64)


def _atom_mass(f_lo: np.ndarray, f_hi: np.ndarray, n: int) -> np.ndarray:
    """F_hi^n - F_lo^n without cancellation: F_hi^n (1 - (F_lo / F_hi)^n)."""
    with np.errstate(divide="ignore"):
        ratio = np.where(f_hi > 0, f_lo / np.where(f_hi > 0, f_hi, 1.0), 0.0)
        return f_hi ** n * -np.expm1(n * np.log(ratio))


def _comb_ratio(a: np.ndarray, n: int, m: int) -> np.ndarray:
    """C(a, n) / C(m, n) elementwise for integer-valued float a in 0..m (0 where a < n).

    A table over a = 0..m from C(a-1, n) / C(a, n) = (a - n) / a, multiplied down from a = m: O(m) per n, no
    overflow, relative error ~ m ulp (tiny ratios underflow to 0, harmlessly).
    """
    table = np.zeros(m + 1)
    a_top = np.arange(m, n, -1)  # m, m-1, ..., n+1
    table[m] = 1.0
    table[n:m][::-1] = np.cumprod((a_top - n) / a_top)  # table[a-1] = table[a] (a - n) / a
    return table[a.astype(np.int64)]


# ----------------------------------------------------------------------------- internals


def _tie_mean(r_sorted: np.ndarray, v_sorted: np.ndarray) -> np.ndarray:
    """Replace each value by the mean over its block of equal rewards.

    r_sorted: (C, M) rewards sorted ascending per row; v_sorted: (C, M, K) values in the same order.
    Returns (C, M, K); v_sorted itself when there are no ties.
    """
    C, M, K = v_sorted.shape
    new = r_sorted[:, 1:] != r_sorted[:, :-1]  # (C, M-1): a new block starts at j+1
    if new.all():
        return v_sorted
    start = np.ones((C, M), dtype=bool)  # each row starts a block, so blocks never span rows
    start[:, 1:] = new
    starts = np.flatnonzero(start)  # flat index of each block's first element
    sizes = np.diff(starts, append=C * M)
    means = np.add.reduceat(v_sorted.reshape(C * M, K), starts, axis=0) / sizes[:, None]
    return np.repeat(means, sizes, axis=0).reshape(C, M, K)


def _greater(va: np.ndarray, pa: np.ndarray, vb: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """P(A > B) + 0.5 P(A == B) for L pairs of distributions on shared supports.

    va: (Ma,), pa: (L, Ma), vb: (Mb,), pb: (L, Mb). Returns (L,).
    """
    order = np.argsort(vb, kind="stable")
    vb_sorted = vb[order]
    cb = np.zeros((pb.shape[0], len(vb) + 1))  # cb[:, j] = P(B among the j smallest values)
    np.cumsum(pb[:, order], axis=1, out=cb[:, 1:])
    lt = np.searchsorted(vb_sorted, va, side="left")  # (Ma,): P(B < a) = cb[lt]
    le = np.searchsorted(vb_sorted, va, side="right")  # (Ma,): P(B <= a) = cb[le]
    # P(B < a) + 0.5 P(B == a) = 0.5 (cb[lt] + cb[le])
    return np.clip(0.5 * np.sum(pa * (cb[:, lt] + cb[:, le]), axis=1), 0.0, 1.0)


def _check_int(name: str, x, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {lo}, got {x!r} ({type(x).__name__})")
    if x < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {x}")
    return int(x)


def _check_ns(ns, m: int) -> list[int]:
    if isinstance(ns, (int, np.integer)) and not isinstance(ns, bool):
        ns = [ns]
    try:
        ns = list(ns)
    except TypeError:
        raise ValueError(f"ns must be an int or a sequence of ints, got {ns!r}") from None
    if not ns:
        raise ValueError(f"ns is empty; pass at least one n in 1..{m}, e.g. default_ns({m})")
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ValueError(f"each n in ns must be an int, got {n!r} ({type(n).__name__})")
        if not 1 <= n <= m:
            raise ValueError(f"each n in ns must be in 1..{m} (the pool size M), got n={n}")
    return [int(n) for n in ns]


def _check_array(name: str, x) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}: {e}") from None


def _check_finite(name: str, x: np.ndarray, what: str = "index") -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; got {x[where]} at {what} {where} ({int(bad.sum())} non-finite in total)")


def _check_rewards(rewards) -> np.ndarray:
    rewards = _check_array("rewards", rewards)
    if rewards.ndim != 2 or rewards.shape[1] == 0:
        raise ValueError(f"rewards must have shape (P, M) with M >= 1 samples per prompt, got {rewards.shape}")
    _check_finite("rewards", rewards, what="(prompt, sample)")
    return rewards


def _check_pool(name: str, values, rewards) -> tuple[np.ndarray, np.ndarray]:
    v, r = _check_array(f"values_{name}", values), _check_array(f"rewards_{name}", rewards)
    if v.ndim != 1 or v.shape != r.shape or v.size == 0:
        raise ValueError(f"values_{name} and rewards_{name} must be 1-D of the same length M >= 1, got {v.shape} and {r.shape}")
    _check_finite(f"values_{name}", v, what="sample")
    _check_finite(f"rewards_{name}", r, what="sample")
    return v, r


def _check_dist(name: str, values, probs) -> tuple[np.ndarray, np.ndarray]:
    v, p = _check_array(f"values_{name}", values), _check_array(f"probs_{name}", probs)
    if v.ndim != 1 or v.shape != p.shape or v.size == 0:
        raise ValueError(f"values_{name} and probs_{name} must be 1-D of the same length >= 1, got {v.shape} and {p.shape}")
    _check_finite(f"values_{name}", v, what="index")
    _check_finite(f"probs_{name}", p, what="index")
    if (p < 0).any() or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"probs_{name} must be non-negative and sum to 1, got min {p.min()} and sum {p.sum()}")
    return v, p
