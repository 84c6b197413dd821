"""Soft best-of-N (Verdun et al. 2025): among N draws, pick draw i with probability exp(r_i / tau) / sum_j exp(r_j / tau),
tau = lam * s with s the variant's within-prompt reward SD (lam = ``selector.soft_lambda``; lam -> 0 is hard
best-of-N, lam -> infinity a single sample).

Over a uniformly random N-subset S of the pool, sample j's pick probability is

    p_N(j) = 1/C(M, N) * sum_{S contains j} exp(r_j / tau) / sum_{k in S} exp(r_k / tau)

computed exactly by enumerating the C(M, N) subsets when there are at most ``selector.soft_max_subsets`` of them
(M = 8: at most 70), else by a seeded Monte Carlo over ``selector.soft_draws`` uniform N-subsets shared by every
prompt: the estimate is unbiased and its standard error is stated per pick probability (``facts``); the curves
stage averages REPLICATES independently seeded runs and checks each row's Monte Carlo error (their spread / sqrt of
their number) against one tenth of the row's CI half-width (bon/stages/selection.py, ``facts.selectors``). Tied rewards
get equal probabilities by symmetry, so ties need no rule here.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from bon.selectors import SELECTORS, Selector

REPLICATES = 4  # independent Monte Carlo runs per row: the row is their mean, its error their spread / sqrt(4)


def _softmax_accumulate(logits: np.ndarray, subsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and sum of squares over subsets of each sample's softmax share. logits (P, M), subsets (S, N) ->
    ((P, M), (P, M)); a sample outside a subset contributes 0 for that subset."""
    P, M = logits.shape
    S, N = subsets.shape
    total, total2 = np.zeros((P, M)), np.zeros((P, M))
    rows = max(1, (1 << 22) // max(1, S * N))
    for a in range(0, P, rows):
        z = logits[a:a + rows][:, subsets]  # (C, S, N)
        z = z - z.max(axis=2, keepdims=True)  # stable: shares are shift-invariant within a subset
        q = np.exp(z)
        q /= q.sum(axis=2, keepdims=True)
        flat = subsets.reshape(-1)
        for c in range(len(z)):
            np.add.at(total[a + c], flat, q[c].reshape(-1))
            np.add.at(total2[a + c], flat, (q[c] ** 2).reshape(-1))
    return total, total2


def soft_pick_probabilities(rewards, n: int, tau, max_subsets: int = 20000, draws: int = 4000,
                            seed: int = 0) -> tuple[np.ndarray, np.ndarray, bool]:
    """Pick probabilities of soft best-of-n over a uniformly random n-subset of each prompt's pool.

    Args:
        rewards: (P, M) finite rewards.
        n: subset size, 1..M.
        tau: temperature > 0, scalar or (P,) (one per prompt).
        max_subsets: enumerate exactly when C(M, n) <= max_subsets, else Monte Carlo.
        draws: Monte Carlo subsets (shared by the prompts), seeded by ``seed``.
    Returns:
        ((P, M) probabilities, each row summing to 1; (P, M) standard errors, 0 when exact; exact?).
    """
    r = np.asarray(rewards, dtype=np.float64)
    P, M = r.shape
    if not 1 <= n <= M:
        raise ValueError(f"soft best-of-n needs n in 1..M={M}, got {n}")
    tau = np.broadcast_to(np.asarray(tau, dtype=np.float64), (P,))
    if not np.all(np.isfinite(tau)) or np.any(tau <= 0):
        raise ValueError(f"soft best-of-n needs a finite temperature > 0, got {tau[~(tau > 0)][:3].tolist()}")
    logits = r / tau[:, None]
    if math.comb(M, n) <= max_subsets:
        subsets = np.array(list(itertools.combinations(range(M), n)), dtype=np.int64).reshape(-1, n)
        total, _ = _softmax_accumulate(logits, subsets)
        return total / len(subsets), np.zeros((P, M)), True
    rng = np.random.default_rng(seed)
    subsets = np.argsort(rng.random((draws, M)), axis=1)[:, :n]  # uniform n-subsets
    total, total2 = _softmax_accumulate(logits, subsets)
    mean = total / draws
    var = np.maximum(total2 / draws - mean ** 2, 0.0)  # per-draw share (0 when j is not drawn)
    return mean, np.sqrt(var / draws), False


@SELECTORS.register("soft")
class SoftBestOfN(Selector):
    name, version = "soft", 1
    exact = True  # by enumeration up to selector.soft_max_subsets subsets per N; Monte Carlo above (facts say which)
    title = "soft best-of-N (pick prop. to exp(r / (lambda s)))"

    @classmethod
    def config_errors(cls, cfg) -> list[str]:
        sel, errs = cfg.selector, []
        lams = list(sel.soft_lambda or [])
        if not lams or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x < math.inf
                           for x in lams):
            errs.append(f"selector.soft_lambda must be a non-empty list of temperatures > 0 in units of the "
                        f"within-prompt reward SD, got {lams!r}")
        for key in ("soft_max_subsets", "soft_draws"):
            v = sel[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                errs.append(f"selector.{key} must be an integer >= 1, got {v!r}")
        return errs

    def __init__(self, cfg=None) -> None:
        super().__init__(cfg)
        self.monte_carlo: dict[str, dict] = {}  # label -> {n: max standard error of a pick probability}

    def settings(self):
        return [float(x) for x in self.cfg.selector.soft_lambda]

    def replicate_picks(self, setting, s, m, ns):
        """REPLICATES - 1 further seeds when some N needs Monte Carlo (C(M, N) > soft_max_subsets), else none."""
        if all(math.comb(m, n) <= self.cfg.selector.soft_max_subsets for n in ns):
            return []
        return [self.picks(setting, s, seed_offset=k) for k in range(1, REPLICATES)]

    def picks(self, setting, s, seed_offset: int = 0):
        tau = setting * s if s > 0 else 1.0  # s = 0: every prompt's rewards are tied, any tau gives uniform picks
        sel, seed = self.cfg.selector, int(self.cfg.seed) + 7919 * seed_offset
        label = self.label(setting)

        def picks(rewards, ns):
            out = []
            for n in ns:
                p, se, exact = soft_pick_probabilities(rewards, n, tau, sel.soft_max_subsets, sel.soft_draws, seed)
                if not exact:
                    mc = self.monte_carlo.setdefault(label, {})
                    mc[int(n)] = max(mc.get(int(n), 0.0), float(se.max()))
                out.append(p)
            return np.stack(out)
        return picks

    def facts(self) -> dict:
        return {"exact": not self.monte_carlo, "monte_carlo_max_se": self.monte_carlo,
                "draws": int(self.cfg.selector.soft_draws), "max_subsets": int(self.cfg.selector.soft_max_subsets)}
