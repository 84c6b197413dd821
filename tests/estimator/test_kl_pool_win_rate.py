"""bon.estimator beyond the mean of the pick: kl_pool and win_rate against brute-force enumeration, and their bounds
(Beirami et al. 2024). Numpy only, no models."""
import itertools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from bon.estimator import bon_kl, default_ns, kl_pool, kl_pool_tie_free, win_rate, win_rate_pool

POOLS = [
    [0.3, -1.0, 2.0, 0.7, 1.1],  # no ties
    [1.0, 1.0, 0.0, 2.0, 1.0],  # a block of three
    [0.0, 0.0, 1.0, 1.0],  # two pairs
    [5.0, 5.0, 5.0],  # one atom: best-of-n is the base
    [2.0, 0.0, 0.0, 0.0, 1.0, 3.0],
]


def brute_kl_pool(r, n):
    """KL of the max of n i.i.d. draws from the pool's empirical distribution against one draw, over all M^n tuples."""
    M = len(r)
    base = {v: Fraction(c, M) for v, c in Counter(r).items()}
    best = Counter(max(r[i] for i in t) for t in itertools.product(range(M), repeat=n))
    q = {v: Fraction(c, M ** n) for v, c in best.items()}
    return sum(float(qv) * math.log(qv / base[v]) for v, qv in q.items())


def brute_win_rate(r, n, with_replacement=False):
    """Mean over (n+1)-subsets and the choice of base within each (or over all (n+1)-tuples with replacement)."""
    M, twice, count = len(r), 0, 0  # twice: 2 per win, 1 per tie (exact integers)
    groups = (itertools.product(range(M), repeat=n + 1) if with_replacement
              else itertools.chain.from_iterable(itertools.permutations(s) for s in
                                                 itertools.combinations(range(M), n + 1)))
    for g in groups:
        base, best = r[g[0]], max(r[i] for i in g[1:])
        twice += 2 if best > base else 1 if best == base else 0
        count += 1
    return twice / (2 * count)


@pytest.mark.parametrize("pool", POOLS)
def test_kl_pool_matches_brute_force(pool):
    M = len(pool)
    ns = list(range(1, M + 1))
    got = kl_pool(np.array([pool]), ns)[:, 0]
    want = [brute_kl_pool(pool, n) for n in ns]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert got[0] == 0.0
    assert (got <= bon_kl(np.array(ns)) + 1e-12).all()


def test_kl_pool_ties_and_finite_m_both_lower_it():
    ns = [1, 2, 3, 4, 5]
    free = kl_pool_tie_free(5, ns)
    np.testing.assert_allclose(kl_pool(np.array([POOLS[0]]), ns)[:, 0], free, rtol=1e-12)  # no ties: the reference
    assert (free[1:] < bon_kl(np.array(ns[1:])) - 1e-3).all()  # finite M alone keeps it below the bound
    tied = kl_pool(np.array([POOLS[1]]), ns)[:, 0]
    assert (tied[1:] < free[1:] - 1e-3).all()  # ties lower it further
    np.testing.assert_array_equal(kl_pool(np.array([POOLS[3]]), [1, 2, 3])[:, 0], 0.0)  # one atom: no KL
    # the tie-free value tends to the bound as M grows, and never exceeds log M
    assert abs(kl_pool_tie_free(4096, [8])[0] - bon_kl(8)) < 2e-3
    assert (kl_pool_tie_free(8, default_ns(8)) <= math.log(8)).all()


def test_kl_pool_rows_are_independent_and_order_free():
    rng = np.random.default_rng(0)
    r = rng.integers(0, 3, size=(7, 6)).astype(float)
    ns = [1, 2, 4, 6]
    got = kl_pool(r, ns)
    for p in range(len(r)):
        np.testing.assert_allclose(got[:, p], kl_pool(r[p][rng.permutation(6)][None], ns)[:, 0], rtol=1e-12)
    with pytest.raises(ValueError, match="must be in 1..6"):
        kl_pool(r, [7])


@pytest.mark.parametrize("pool", POOLS)
def test_win_rate_matches_brute_force(pool):
    M = len(pool)
    ns = list(range(1, M))
    got = win_rate(np.array([pool]), ns + [M])[:, 0]
    np.testing.assert_allclose(got[:-1], [brute_win_rate(pool, n) for n in ns], rtol=1e-12)
    assert np.isnan(got[-1])  # n = M: no sample left to be the base
    assert got[0] == pytest.approx(0.5, abs=1e-14)
    assert (got[:-1] <= np.array(ns) / (np.array(ns) + 1) + 1e-12).all()
    # the plug-in (draws with replacement) against its own brute force, n = M included
    plug = win_rate_pool(np.array([pool]), ns + [M])[:, 0]
    np.testing.assert_allclose(plug, [brute_win_rate(pool, n, with_replacement=True) for n in ns + [M]], rtol=1e-12)


def test_win_rate_without_ties_is_n_over_n_plus_1():
    rng = np.random.default_rng(1)
    r = rng.normal(size=(5, 12))
    ns = [1, 2, 3, 5, 8, 11]
    np.testing.assert_allclose(win_rate(r, ns), np.repeat([[n / (n + 1)] for n in ns], 5, axis=1), rtol=1e-12)
    # a block of three ties strictly lowers it (pairs alone do not: the average over a pair is linear)
    tied = np.array([[0.0, 1.0, 1.0, 1.0, 2.0, 3.0]])
    assert win_rate(tied, [2])[0, 0] < 2 / 3 - 1e-3
    # the plug-in without ties: about n / (12 M^2) below n/(n+1)
    plug = win_rate_pool(r, [8])[0]
    np.testing.assert_allclose(plug, 8 / 9 - 8 / (12 * 144), atol=2e-4)
