"""Each selector's pick probabilities against brute-force enumeration over all N-subsets (and, for Best-of-Poisson,
over n) of small pools with tied rewards, to 1e-12; soft best-of-N's Monte Carlo interval covers the enumerated
truth in a seeded test."""
import itertools
import math

import numpy as np
import pytest

from bon.estimator import expected_best_of_n, pick_probabilities
from bon.estimator.selection import SelectorUnsupported, selecting
from bon.estimator import win_rate
from bon.selectors.penalty import false_belief_agree, penalized_rewards
from bon.selectors.poisson import poisson_n_weights, poisson_pick_probabilities
from bon.selectors.soft import soft_pick_probabilities

# pools with ties: M = 1..6
POOLS = [np.array([0.3]), np.array([1.0, 1.0]), np.array([0.2, 0.5, 0.5]), np.array([2.0, -1.0, 2.0, 0.0]),
         np.array([0.1, 0.4, 0.4, 0.4, -0.3]), np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0])]


def brute_hard(r, n):
    """P(j is the pick): every n-subset equally likely, the max chosen uniformly among the subset's ties."""
    m = len(r)
    p = np.zeros(m)
    subsets = list(itertools.combinations(range(m), n))
    for s in subsets:
        top = [j for j in s if r[j] == max(r[k] for k in s)]
        for j in top:
            p[j] += 1 / len(top) / len(subsets)
    return p


def brute_soft(r, n, tau):
    m = len(r)
    p = np.zeros(m)
    subsets = list(itertools.combinations(range(m), n))
    for s in subsets:
        w = np.array([math.exp(r[j] / tau) for j in s])
        for j, q in zip(s, w / w.sum()):
            p[j] += q / len(subsets)
    return p


@pytest.mark.parametrize("r", POOLS, ids=lambda r: f"M{len(r)}")
def test_poisson_matches_enumeration_over_n_and_subsets(r):
    m = len(r)
    for mu in [0.0, 0.5, 1.0, 3.0, 7.5]:
        pmf = [math.exp(-mu) * mu ** (n - 1) / math.factorial(n - 1) for n in range(1, m + 1)]
        tail = 1 - sum(pmf)
        truth = sum(pn * brute_hard(r, n) for pn, n in zip(pmf, range(1, m + 1))) / (1 - tail)
        p, t = poisson_pick_probabilities(r[None], [mu])
        np.testing.assert_allclose(p[0, 0], truth, rtol=0, atol=1e-12)
        assert abs(t[0] - tail) < 1e-12


def test_poisson_tail_is_the_mass_beyond_m():
    pn, tail = poisson_n_weights(4, [0.0, 3.0])
    assert tail[0] == 0 and pn[0, 0] == 1
    # P(Poisson(3) >= 4) = 1 - e^-3 (1 + 3 + 4.5 + 4.5)
    assert abs(tail[1] - (1 - math.exp(-3) * 13)) < 1e-12


@pytest.mark.parametrize("r", POOLS, ids=lambda r: f"M{len(r)}")
def test_soft_exact_matches_enumeration(r):
    m = len(r)
    for n in range(1, m + 1):
        for tau in [0.05, 0.3, 1.0, 10.0]:
            p, se, exact = soft_pick_probabilities(r[None], n, tau)
            assert exact and not se.any()
            np.testing.assert_allclose(p[0], brute_soft(r, n, tau), rtol=0, atol=1e-12)


def test_soft_limits():
    r = np.array([[0.0, 1.0, 1.0, 3.0]])
    p, _, _ = soft_pick_probabilities(r, 2, 1e-4)  # tau -> 0: hard best-of-n
    np.testing.assert_allclose(p[0], brute_hard(r[0], 2), atol=1e-12)
    p, _, _ = soft_pick_probabilities(r, 3, 1e6)  # tau -> infinity: a uniform sample
    np.testing.assert_allclose(p[0], 0.25, atol=1e-5)


def test_soft_monte_carlo_interval_covers_the_enumerated_truth():
    rng = np.random.default_rng(3)
    r = np.round(rng.normal(size=(5, 6)), 1)  # rounded: ties
    for n in [2, 3, 5]:
        truth = np.stack([brute_soft(row, n, 0.5) for row in r])
        p, se, exact = soft_pick_probabilities(r, n, 0.5, max_subsets=1, draws=20000, seed=0)
        assert not exact and (se > 0).any()
        z = np.abs(p - truth) / np.where(se > 0, se, 1)
        assert (z < 4.5).all(), z.max()  # every coordinate within 4.5 SE (P(any fail) < 1e-3 at 30 coords)
        assert np.abs(p - truth).max() < 0.02
        np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-12)


@pytest.mark.parametrize("r", POOLS[1:], ids=lambda r: f"M{len(r)}")
def test_penalty_is_hard_best_of_n_on_penalized_rewards(r):
    m = len(r)
    a = (np.arange(m) % 2).astype(float)
    for lam in [0.0, 0.5, 2.0]:
        rp = penalized_rewards(r[None], a[None], lam, 0.5)[0]
        for n in range(1, m + 1):
            p = pick_probabilities(rp[None], [n])[0, 0]
            np.testing.assert_allclose(p, brute_hard(rp, n), rtol=0, atol=1e-12)


def test_false_belief_agree_zeroes_true_beliefs():
    class E:
        def __init__(self, kind, template):
            self.kind, self.template = kind, template
    ex = [E("answer", "suggest_correct"), E("answer", "suggest_incorrect"), E("feedback", "like")]
    a = false_belief_agree(ex, np.ones((3, 2)))
    assert a.tolist() == [[0, 0], [1, 1], [1, 1]]


def test_selecting_routes_every_estimate_through_the_selector():
    rng = np.random.default_rng(0)
    r = np.round(rng.normal(size=(4, 6)), 1)
    v = rng.random((4, 6))
    ns = [1, 2, 4, 6]

    def picks(rewards, ns):
        return poisson_pick_probabilities(rewards, [n - 1 for n in ns])[0]

    with selecting(picks):
        e = expected_best_of_n(r, v, ns)
        p = pick_probabilities(r, ns)
        with pytest.raises(SelectorUnsupported):
            win_rate(r, ns)
    truth = np.einsum("lpm,pm->lp", picks(r, ns), v)
    np.testing.assert_allclose(e, truth, atol=1e-12)
    np.testing.assert_allclose(p, picks(r, ns), atol=1e-12)
    # outside the block: hard best-of-n again, ties as before
    for k, n in enumerate(ns):
        np.testing.assert_allclose(expected_best_of_n(r, v, ns)[k],
                                   [brute_hard(r[i], n) @ v[i] for i in range(4)], atol=1e-12)
