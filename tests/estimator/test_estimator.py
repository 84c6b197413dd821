"""bon.estimator against brute-force enumeration of n-subsets, closed forms and properties."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bon.estimator import (
    best_of_n_weights,
    bon_kl,
    bootstrap_ci,
    default_ns,
    expected_best_of_n,
    paired_difference,
    pick_probabilities,
    prob_greater,
    prob_greater_curve,
)

FAST = settings(max_examples=50, deadline=None)


# ----------------------------------------------------------------------------- brute force


def brute_pick(r, n):
    """(M,) probability each sample is the pick: enumerate all n-subsets, split ties evenly."""
    p = np.zeros(len(r))
    subsets = list(itertools.combinations(range(len(r)), n))
    for sub in subsets:
        top = max(r[j] for j in sub)
        tied = [j for j in sub if r[j] == top]
        for j in tied:
            p[j] += 1 / len(tied)
    return p / len(subsets)


def brute_expected(r, v, n):
    """Mean over all n-subsets of the mean value over the subset's tied maximal elements."""
    out = []
    for sub in itertools.combinations(range(len(r)), n):
        top = max(r[j] for j in sub)
        out.append(np.mean([v[j] for j in sub if r[j] == top], axis=0))
    return np.mean(out, axis=0)


@st.composite
def pools(draw, max_p=3, max_m=7, k=None):
    """(rewards (P, M), values (P, M) or (P, M, K)); rewards from a small integer set, so many ties."""
    P = draw(st.integers(1, max_p))
    M = draw(st.integers(1, max_m))
    seed = draw(st.integers(0, 2**32 - 1))
    levels = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    rewards = rng.integers(0, levels, size=(P, M)).astype(float)
    shape = (P, M) if k is None else (P, M, k)
    return rewards, rng.normal(size=shape)


# ----------------------------------------------------------------------------- weights


def test_weights_closed_form_small_m():
    for m in range(1, 9):
        w = best_of_n_weights(m, range(1, m + 1))
        for k, n in enumerate(range(1, m + 1)):
            exact = [math.comb(i, n - 1) / math.comb(m, n) for i in range(m)]
            np.testing.assert_allclose(w[k], exact, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-14)


def test_weights_exact_m200():
    m, ns = 200, [1, 2, 7, 100, 199, 200]
    w = best_of_n_weights(m, ns)
    for k, n in enumerate(ns):
        exact = [float(Fraction(math.comb(i, n - 1), math.comb(m, n))) for i in range(m)]
        np.testing.assert_allclose(w[k], exact, rtol=1e-10, atol=1e-300)


def test_weights_large_m_stable():
    m, ns = 100_000, [1, 2, 100, 50_000, 100_000]
    w = best_of_n_weights(m, ns)
    assert w.shape == (5, m) and w.dtype == np.float64
    assert np.isfinite(w).all() and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(w[0], 1 / m, rtol=1e-9)  # n=1: uniform
    np.testing.assert_allclose(w[1, -1], 2 / m, rtol=1e-9)  # n=2: C(m-1, 1)/C(m, 2) = 2/m
    assert w[4, -1] == 1.0 and w[4, :-1].sum() == 0.0  # n=m: always the top sample
    assert (w[3, : 50_000 - 1] == 0).all()  # ranks below n-1 cannot be the max


def test_weights_errors():
    with pytest.raises(ValueError, match="m must be an int >= 1, got 0"):
        best_of_n_weights(0, [1])
    with pytest.raises(ValueError, match=r"in 1\.\.5 .*got n=6"):
        best_of_n_weights(5, [1, 6])
    with pytest.raises(ValueError, match="must be an int, got 2.0"):
        best_of_n_weights(5, [2.0])
    with pytest.raises(ValueError, match="ns is empty"):
        best_of_n_weights(5, [])


def test_default_ns():
    assert default_ns(1) == [1]
    assert default_ns(8) == [1, 2, 4, 8]
    assert default_ns(10) == [1, 2, 4, 8, 10]
    assert default_ns(1024)[-1] == 1024 and len(default_ns(1024)) == 11
    with pytest.raises(ValueError, match="m must be an int"):
        default_ns(0)


# ----------------------------------------------------------------------------- against enumeration


@FAST
@given(pools(k=None))
def test_expected_and_pick_match_enumeration(pool):
    rewards, values = pool
    P, M = rewards.shape
    ns = list(range(1, M + 1))
    got = expected_best_of_n(rewards, values, ns)  # (L, P)
    pick = pick_probabilities(rewards, ns)  # (L, P, M)
    assert got.shape == (M, P) and pick.shape == (M, P, M)
    for k, n in enumerate(ns):
        for p in range(P):
            np.testing.assert_allclose(got[k, p], brute_expected(rewards[p], values[p], n), rtol=0, atol=1e-12)
            np.testing.assert_allclose(pick[k, p], brute_pick(rewards[p], n), rtol=0, atol=1e-12)


def test_enumeration_hand_case():
    # rewards 1, 3, 3, 0: n=2 subsets (6): max is a 3 in 5 of them -> value of 3s avg; {0,3} -> sample 0
    r = np.array([[1.0, 3.0, 3.0, 0.0]])
    v = np.array([[10.0, 2.0, 4.0, 100.0]])
    got = expected_best_of_n(r, v, [1, 2, 4])
    np.testing.assert_allclose(got[:, 0], [29.0, (10 + 2 + 4 + 3 + 3 + 3) / 6, 3.0], rtol=0, atol=1e-12)


def test_many_chunks_and_ties_match_pick_probabilities():
    # M=2048 -> 32 rows per chunk, so P=70 spans three chunks, one of them ragged
    rng = np.random.default_rng(1)
    rewards = np.round(rng.normal(size=(70, 2048)), 1)
    values = rng.normal(size=(70, 2048, 2))
    ns = default_ns(2048)
    got = expected_best_of_n(rewards, values, ns)
    want = np.einsum("lpm,pmk->lpk", pick_probabilities(rewards, ns), values)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- properties


@FAST
@given(pools(max_p=4, max_m=12))
def test_n1_is_plain_mean(pool):
    rewards, values = pool
    np.testing.assert_allclose(expected_best_of_n(rewards, values, [1])[0], values.mean(axis=1), rtol=0, atol=1e-12)


@FAST
@given(pools(max_p=4, max_m=12))
def test_nM_is_top_block_mean(pool):
    rewards, values = pool
    M = rewards.shape[1]
    top = rewards == rewards.max(axis=1, keepdims=True)
    want = (values * top).sum(axis=1) / top.sum(axis=1)
    np.testing.assert_allclose(expected_best_of_n(rewards, values, M)[0], want, rtol=0, atol=1e-12)


@FAST
@given(pools(max_p=4, max_m=40), st.booleans())
def test_expected_reward_nondecreasing(pool, continuous):
    rewards, _ = pool
    if continuous:
        rewards = rewards + np.random.default_rng(0).normal(size=rewards.shape)
    got = expected_best_of_n(rewards, rewards, range(1, rewards.shape[1] + 1))  # (M, P)
    assert (np.diff(got, axis=0) >= -1e-12).all()


@FAST
@given(pools(max_p=4, max_m=12, k=3))
def test_k_dim_values_stack(pool):
    rewards, values = pool
    ns = default_ns(rewards.shape[1])
    got = expected_best_of_n(rewards, values, ns)
    want = np.stack([expected_best_of_n(rewards, values[..., j], ns) for j in range(3)], axis=-1)
    assert got.shape == (len(ns), rewards.shape[0], 3)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)


@FAST
@given(pools(max_p=3, max_m=12))
def test_pick_probabilities_sum_to_one_and_equal_on_ties(pool):
    rewards, _ = pool
    pick = pick_probabilities(rewards, default_ns(rewards.shape[1]))
    np.testing.assert_allclose(pick.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    for p in range(rewards.shape[0]):
        same = rewards[p][:, None] == rewards[p][None, :]  # (M, M) tied pairs
        diff = pick[:, p, :, None] - pick[:, p, None, :]
        assert np.abs(diff[:, same]).max() < 1e-15


# ----------------------------------------------------------------------------- prob_greater


def brute_greater(va, pa, vb, pb):
    return sum(pa[i] * pb[j] * (1.0 if va[i] > vb[j] else 0.5 if va[i] == vb[j] else 0.0)
               for i in range(len(va)) for j in range(len(vb)))


@FAST
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_prob_greater_brute(ma, mb, seed):
    rng = np.random.default_rng(seed)
    va, vb = rng.integers(0, 3, size=ma).astype(float), rng.integers(0, 3, size=mb).astype(float)  # ties
    pa, pb = rng.dirichlet(np.ones(ma)), rng.dirichlet(np.ones(mb))
    assert prob_greater(va, pa, vb, pb) == pytest.approx(brute_greater(va, pa, vb, pb), abs=1e-12)


def test_prob_greater_hand_cases():
    assert prob_greater([1.0], [1.0], [1.0], [1.0]) == 0.5
    assert prob_greater([2.0], [1.0], [1.0, 3.0], [0.5, 0.5]) == 0.5
    assert prob_greater([0.0, 5.0], [0.25, 0.75], [1.0], [1.0]) == 0.75
    with pytest.raises(ValueError, match="probs_b must be non-negative and sum to 1"):
        prob_greater([1.0], [1.0], [1.0, 2.0], [0.5, 0.6])
    with pytest.raises(ValueError, match=r"same length.*\(2,\) and \(3,\)"):
        prob_greater([1.0, 2.0], [0.2, 0.3, 0.5], [1.0], [1.0])
    with pytest.raises(ValueError, match="values_a must be finite"):
        prob_greater([np.nan], [1.0], [1.0], [1.0])


def test_prob_greater_curve():
    rng = np.random.default_rng(3)
    va, ra = rng.integers(0, 4, 9).astype(float), rng.integers(0, 3, 9).astype(float)
    vb, rb = rng.integers(0, 4, 6).astype(float), rng.integers(0, 3, 6).astype(float)
    ns = [1, 2, 3, 6]
    curve = prob_greater_curve(va, ra, vb, rb, ns)
    assert curve.shape == (4,)
    pairwise = np.mean([[1.0 if a > b else 0.5 if a == b else 0.0 for b in vb] for a in va])
    assert curve[0] == pytest.approx(pairwise, abs=1e-12)  # n=1: uniform picks
    for k, n in enumerate(ns):
        want = brute_greater(va, brute_pick(ra, n), vb, brute_pick(rb, n))
        assert curve[k] == pytest.approx(want, abs=1e-12)
    with pytest.raises(ValueError, match=r"in 1\.\.6 .*got n=7"):
        prob_greater_curve(va, ra, vb, rb, [7])
    with pytest.raises(ValueError, match="values_a and rewards_a must be 1-D of the same length"):
        prob_greater_curve(va[:3], ra, vb, rb, [1])


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_deterministic_and_contains_mean():
    x = np.random.default_rng(0).normal(size=(3, 200))
    m1, lo1, hi1 = bootstrap_ci(x, seed=7)
    m2, lo2, hi2 = bootstrap_ci(x, seed=7)
    assert np.array_equal(lo1, lo2) and np.array_equal(hi1, hi2)
    assert not np.array_equal(lo1, bootstrap_ci(x, seed=8)[1])
    assert m1.shape == lo1.shape == hi1.shape == (3,)
    np.testing.assert_allclose(m1, x.mean(axis=1))
    assert (lo1 < m1).all() and (m1 < hi1).all()


def test_bootstrap_joint_resamples():
    # entries that differ by a constant get intervals that differ by exactly that constant
    x = np.random.default_rng(0).normal(size=100)
    _, lo, hi = bootstrap_ci(np.stack([x, x + 1.0]))
    assert lo[1] - lo[0] == pytest.approx(1.0, abs=1e-12) and hi[1] - hi[0] == pytest.approx(1.0, abs=1e-12)


def test_bootstrap_width_shrinks():
    x = np.random.default_rng(0).normal(size=4000)
    widths = [np.ptp(bootstrap_ci(x[:n])[1:]) for n in (50, 500, 4000)]
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_single_item_and_errors():
    # one item, or 3 (10 distinct resamples, fewer than the 40 a 95% interval needs): a point estimate, no interval
    mean, lo, hi = bootstrap_ci(np.array([[2.5], [-1.0]]))
    assert np.array_equal(mean, [2.5, -1.0]) and np.isnan(lo).all() and np.isnan(hi).all()
    m, lo, hi = bootstrap_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and np.isnan(lo) and np.isnan(hi)
    m, lo, hi = bootstrap_ci([1.0, 2.0, 3.0], alpha=0.5)  # a 50% interval needs 4 distinct resamples: 10 will do
    assert m.shape == () and lo <= m <= hi
    m, lo, hi = bootstrap_ci(np.arange(8.0), min_items=10)  # the caller's minimum wins when it is higher
    assert m == 3.5 and np.isnan(lo) and np.isnan(hi)
    with pytest.raises(ValueError, match="n_items >= 1"):
        bootstrap_ci(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="x must be finite; got nan at index"):
        bootstrap_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="alpha must be in"):
        bootstrap_ci([1.0, 2.0], alpha=1.5)
    with pytest.raises(ValueError, match="n_boot must be an int >= 1"):
        bootstrap_ci([1.0, 2.0], n_boot=0)


def test_paired_difference():
    a = np.random.default_rng(0).normal(size=(4, 50))
    mean, lo, hi = paired_difference(a, a.copy())
    assert (mean == 0).all() and (lo == 0).all() and (hi == 0).all()
    b = a - 2.0
    mean, lo, hi = paired_difference(a, b)
    np.testing.assert_allclose([mean, lo, hi], 2.0, atol=1e-12)
    with pytest.raises(ValueError, match=r"same shape.*\(4, 50\) and \(4, 49\)"):
        paired_difference(a, a[:, :49])


# ----------------------------------------------------------------------------- errors, KL


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_rewards(bad):
    r = np.zeros((3, 4))
    r[2, 1] = bad
    with pytest.raises(ValueError, match=r"rewards must be finite; got -?(nan|inf) at \(prompt, sample\) \(2, 1\)"):
        expected_best_of_n(r, np.zeros((3, 4)), [1])
    with pytest.raises(ValueError, match="rewards must be finite"):
        pick_probabilities(r, [1])


def test_expected_errors():
    r, v = np.zeros((2, 5)), np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"in 1\.\.5 .*got n=0"):
        expected_best_of_n(r, v, [0])
    with pytest.raises(ValueError, match=r"in 1\.\.5 .*got n=6"):
        expected_best_of_n(r, v, [1, 6])
    with pytest.raises(ValueError, match="must be an int, got 1.5"):
        expected_best_of_n(r, v, [1.5])
    with pytest.raises(ValueError, match="must be an int, got True"):
        expected_best_of_n(r, v, [True])
    with pytest.raises(ValueError, match=r"values must have shape .*got \(2, 4\)"):
        expected_best_of_n(r, np.zeros((2, 4)), [1])
    with pytest.raises(ValueError, match=r"rewards must have shape \(P, M\).*got \(5,\)"):
        expected_best_of_n(np.zeros(5), np.zeros(5), [1])
    v[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"values must be finite; got nan at index \(1, 3\)"):
        expected_best_of_n(r, v, [1])


def test_bon_kl():
    assert bon_kl(1) == 0.0
    n = np.arange(1, 2000)
    kl = bon_kl(n)
    assert kl.shape == n.shape and (np.diff(kl) > 0).all()
    assert bon_kl(2) == pytest.approx(math.log(2) - 0.5)
    with pytest.raises(ValueError, match="n >= 1"):
        bon_kl([0.5, 2])
