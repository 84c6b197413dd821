"""Best-of-Poisson (Khalaf et al. 2025): draw n = 1 + Poisson(mu) samples, keep the highest-reward one.

Exact from one pool of M samples for the part of the n distribution the pool can serve, n <= M:

    P(n) = e^-mu mu^(n-1) / (n-1)!,   E = sum_{n=1..M} P(n) E_n / (1 - tail),   tail = P(n > M)

E_n the hard best-of-n expectation (ties broken uniformly), so the pick probabilities are the same mixture of
best-of-n's. The curve is the expectation given n <= M; the tail mass is reported per point (``facts``) and a
point whose tail exceeds ``selector.poisson_tail_flag`` (default 1%) is flagged in the report, never dropped or
silently truncated. The ``n`` column holds 1 + mu on the N grid (mu = N - 1), so a Poisson point sits at its mean
number of draws.
"""
from __future__ import annotations

import math

import numpy as np

from bon.estimator import pick_probabilities
from bon.estimator.selection import selecting
from bon.selectors import SELECTORS, Selector


def poisson_n_weights(m: int, mus) -> tuple[np.ndarray, np.ndarray]:
    """P(n = 1 + Poisson(mu)) for n = 1..m, and the tail P(n > m), for each mu.

    Args:
        m: pool size M >= 1.
        mus: sequence of mu >= 0.
    Returns:
        ((len(mus), m) probabilities of n = 1..m, (len(mus),) tail mass); row + tail = 1.
    """
    mus = np.asarray(mus, dtype=np.float64).reshape(-1)
    if m < 1 or not np.all(np.isfinite(mus)) or np.any(mus < 0):
        raise ValueError(f"poisson_n_weights needs m >= 1 and finite mu >= 0, got m={m}, mu={mus.tolist()}")
    k = np.arange(m, dtype=np.float64)  # n - 1
    lf = np.array([math.lgamma(x + 1.0) for x in k])
    # k log mu with 0 log 0 = 0 (mu = 0: n = 1 surely)
    klogmu = k[None] * np.log(np.where(mus > 0, mus, 1.0))[:, None]
    logp = -mus[:, None] + np.where((mus[:, None] == 0) & (k[None] > 0), -np.inf, klogmu) - lf[None]
    p = np.exp(logp)
    tail = np.clip(1.0 - p.sum(axis=1), 0.0, 1.0)
    return p, tail


def poisson_pick_probabilities(rewards, mus) -> tuple[np.ndarray, np.ndarray]:
    """Pick probabilities of Best-of-Poisson given n <= M, and the tail mass P(n > M), for each mu.

    Args:
        rewards: (P, M) finite rewards.
        mus: sequence of mu >= 0.
    Returns:
        ((len(mus), P, M) pick probabilities, each [k, p] summing to 1; (len(mus),) tail).
    """
    r = np.asarray(rewards, dtype=np.float64)
    m = r.shape[1]
    pn, tail = poisson_n_weights(m, mus)  # (L, M)
    with selecting(None):  # the hard best-of-n pick probabilities, whatever selector is installed around us
        w = pick_probabilities(r, list(range(1, m + 1)))  # (M, P, M): n = 1..M
    out = np.einsum("ln,npj->lpj", pn, w) / (1.0 - tail)[:, None, None]
    return out, tail


@SELECTORS.register("poisson")
class BestOfPoisson(Selector):
    name, version, exact = "poisson", 1, True
    title = "Best-of-Poisson (n = 1 + Poisson(mu))"

    @classmethod
    def config_errors(cls, cfg) -> list[str]:
        flag = cfg.selector.poisson_tail_flag
        if isinstance(flag, bool) or not isinstance(flag, (int, float)) or not 0 < flag < 1:
            return [f"selector.poisson_tail_flag must be a number in (0, 1) (the tail mass P(n > M) above which a "
                    f"Best-of-Poisson point is flagged), got {flag!r}"]
        return []

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self.tails: dict[int, float] = {}

    def picks(self, setting, s):
        def picks(rewards, ns):
            p, tail = poisson_pick_probabilities(rewards, [n - 1 for n in ns])
            self.tails.update({int(n): float(t) for n, t in zip(ns, tail)})
            return p
        return picks

    def facts(self) -> dict:
        flag = float(self.cfg.selector.poisson_tail_flag) if self.cfg is not None else 0.01
        return {"tail_by_n": dict(sorted(self.tails.items())), "tail_flag": flag,
                "flagged_n": sorted(n for n, t in self.tails.items() if t > flag)}
