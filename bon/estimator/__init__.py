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

The package, numpy only (arrays in, numbers out: no torch, files or W&B):

    bestofn.py    the rank weights, exact expectations and pick probabilities, P(A > B) between two picks
    pool.py       kl_pool and win_rate, measured on the pool
    goodhart.py   the overoptimization fit and its bootstrap verdict
    extrapolate.py  E_N beyond the pool (N > M) from the exact curve, its item-bootstrap CI and the sub-pool backtest
    bootstrap.py  the one bootstrap of bon: CIs and paired differences that resample items
    selection.py  which rule picks (hard best-of-n, or a selector of bon/selectors/ installed for a block)
    validate.py   argument checks
"""
from __future__ import annotations

from bon.estimator.bestofn import (best_of_n_weights, bon_kl, default_ns, expected_best_of_n, pick_probabilities,
                                   prob_greater, prob_greater_curve, prob_greater_matrix_curve)
from bon.estimator.bootstrap import (bootstrap_ci, ci_note, distinct_resamples, enough_resamples, expanded_alpha,
                                     group_sums, paired_difference, resample_counts)
from bon.estimator.goodhart import fit_goodhart, goodhart_bootstrap
from bon.estimator.pool import kl_pool, kl_pool_tie_free, win_rate, win_rate_pool

__all__ = [
    "best_of_n_weights", "bon_kl", "bootstrap_ci", "ci_note", "default_ns", "distinct_resamples", "enough_resamples",
    "expanded_alpha", "expected_best_of_n", "fit_goodhart", "goodhart_bootstrap", "group_sums", "kl_pool",
    "kl_pool_tie_free", "paired_difference", "pick_probabilities", "prob_greater", "prob_greater_curve",
    "prob_greater_matrix_curve", "resample_counts", "win_rate", "win_rate_pool",
]
