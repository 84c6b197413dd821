"""Exact best-of-n expectations over one pool of samples: the rank weights, the expected pick, pick probabilities
and P(A > B) between two picks. The derivation is in the package docstring (bon/estimator/__init__.py)."""
from __future__ import annotations

import math

import numpy as np

from bon.estimator.selection import active
from bon.estimator.validate import check_array, check_dist, check_finite, check_int, check_ns, check_pool, check_rewards

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
    m = check_int("m", m, 1)
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
    m = check_int("m", m, 1)
    ns = check_ns(ns, m)
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
    rewards = check_rewards(rewards)
    values = check_array("values", values)
    P, M = rewards.shape
    if values.shape[:2] != (P, M) or values.ndim not in (2, 3):
        raise ValueError(f"values must have shape (P, M) or (P, M, K) = {(P, M)} or {(P, M)} + (K,); got {values.shape}")
    check_finite("values", values)
    ns = check_ns(ns, M)
    picks = active()
    if picks is not None:  # another selector (bon/estimator/selection.py): sum its pick probabilities
        p = picks(rewards, ns)  # (L, P, M)
        out = np.einsum("lpm,pmk->lpk", p, values.reshape(P, M, -1))
        return out if values.ndim == 3 else out[..., 0]
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
    rewards = check_rewards(rewards)
    P, M = rewards.shape
    ns = check_ns(ns, M)
    picks = active()
    if picks is not None:  # another selector (bon/estimator/selection.py)
        return np.asarray(picks(rewards, ns), dtype=np.float64)
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
    va, pa = check_dist("a", values_a, probs_a)
    vb, pb = check_dist("b", values_b, probs_b)
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
    va, ra = check_pool("a", values_a, rewards_a)
    vb, rb = check_pool("b", values_b, rewards_b)
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
    c = check_array("compare", compare)
    ra, rb = check_rewards(np.asarray(rewards_a, dtype=np.float64)[None]), check_rewards(
        np.asarray(rewards_b, dtype=np.float64)[None])
    if c.shape != (ra.shape[1], rb.shape[1]):
        raise ValueError(f"compare must have shape (Ma, Mb) = {(ra.shape[1], rb.shape[1])}, got {c.shape}")
    check_finite("compare", c)
    if (c < 0).any() or (c > 1).any():
        raise ValueError("compare must hold probabilities in [0, 1]")
    pa = pick_probabilities(ra, ns)[:, 0]  # (L, Ma)
    pb = pick_probabilities(rb, ns)[:, 0]  # (L, Mb)
    return np.einsum("lj,jk,lk->l", pa, c, pb)


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
