"""Beyond the mean of the pick, measured on the pool: the plug-in KL(best-of-n || base) and the win rate of the pick
against a base sample (exact U-statistic and plug-in)."""
from __future__ import annotations

import numpy as np

from bon.estimator.selection import require_hard
from bon.estimator.validate import check_int, check_ns, check_rewards


def kl_pool(rewards, ns) -> np.ndarray:
    """Plug-in KL(best-of-n || base) of each prompt's pool: the KL the pool itself can show.

    What it estimates: KL(best-of-n || policy) with the policy's reward distribution replaced by the pool's
    empirical one, best-of-n drawing its n samples from the pool WITH replacement. As an estimate of the policy's
    own KL it is biased low at finite M: for a continuous reward (no ties) it is `kl_pool_tie_free(M, ns)`, below
    log n - (n-1)/n by a gap that shrinks like 1/M^2 (n = 8: 0.011 nats at M = 16, 0.0007 at M = 64; see
    tests/estimator/test_by_item.py); for a discrete reward, atoms the pool did not draw are missing, which lowers it
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
    require_hard("kl_pool")
    rewards = check_rewards(rewards)
    P, M = rewards.shape
    ns = check_ns(ns, M)
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
    m = check_int("m", m, 1)
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
    require_hard("win_rate")
    rewards = check_rewards(rewards)
    P, M = rewards.shape
    ns = check_ns(ns, M)
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
    require_hard("win_rate_pool")
    rewards = check_rewards(rewards)
    P, M = rewards.shape
    ns = check_ns(ns, M)
    lo, hi = _tie_bounds(np.sort(rewards, axis=1))
    return np.stack([1.0 - 0.5 * ((lo / M) ** n + (hi / M) ** n).mean(axis=1) for n in ns])


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
