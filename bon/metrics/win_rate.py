"""Win rate of the best-of-N pick against the base policy (Beirami et al. 2024, "Theoretical guarantees on the
best-of-n alignment policy"): how often the pick's PM reward beats that of one independent sample of the policy.

    win_rate(N) = P(reward of the best-of-N pick > reward of a base sample) + 1/2 P(equal)

For N < M it is the exact U-statistic of `bon.estimator.win_rate`: over every (N+1)-subset of the pool, one member
as the base and the other N as the draws; unbiased, 1/2 at N = 1, at most N/(N+1), equal to N/(N+1) without reward
ties (so it measures how much the PM's ties blunt best-of-N). At N = M no sample is left to be the base and no
unbiased estimate exists: that point holds the plug-in value `bon.estimator.win_rate_pool` (draws with replacement
from the pool's empirical reward distribution, the functional `kl_pool` uses), which without ties sits about
N / (12 M^2) below N/(N+1). Every N of the grid therefore has a finite value.
"""
from __future__ import annotations

import numpy as np

from bon.estimator import win_rate, win_rate_pool
from bon.estimator.selection import SelectorUnsupported
from bon.metrics.base import METRICS
from bon.metrics.reward import Reward


@METRICS.register("win_rate")
class WinRate(Reward):
    name = "win_rate"
    title, ylabel = "", ""  # not Reward's: titled from the name
    main, order = False, 0  # a diagnostic beside the main curves (Beirami et al. 2024)

    def curve_of(self, ranking, rewards, ns) -> np.ndarray:
        raise SelectorUnsupported("win_rate is defined for picks that rank by the PM reward itself")

    def curve(self, rewards: np.ndarray, ns) -> np.ndarray:
        """win_rate, (len(ns), P): the exact U-statistic for n < M, the plug-in value at n = M."""
        ns = [ns] if isinstance(ns, (int, np.integer)) else list(ns)
        out = win_rate(rewards, ns)
        at_m = [k for k, n in enumerate(ns) if n == rewards.shape[1]]
        if at_m:
            out[at_m] = win_rate_pool(rewards, [ns[k] for k in at_m])
        return out
