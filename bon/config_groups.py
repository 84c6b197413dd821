"""Schema groups of the config (bon/config.py) for the curves-stage extensions: extrapolation beyond M and the
selectors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class ExtrapolateConfig:
    """Best-of-N beyond the pool (bon/curve_extrapolate.py): rows extrapolated = True in curves.csv for N in
    (m, n_max], only for metric rows whose backtest on sub-pools of m / 4 passes."""
    n_max: Optional[int] = None  # largest N predicted; null = 8 * m; 0 (or any n_max <= m) = off
    max_error: Optional[float] = None  # backtest pass threshold on the mean absolute error; null = half the median
    # CI half-width of the row's exact curves
    degree: int = 1  # degree of the link in the normal score of the reward rank (backtest: degree + 1 N <= m / 4)
    # auto: per row, logit (the logit of E_N linear in E[max of N normals]) for a rate in [0, 1], else normal (E_N
    # linear in it) | normal | logit | log (E_N linear in log N); bon/estimator/extrapolate.py
    form: str = "auto"


@dataclass
class SelectorConfig:
    """Settings of the selectors (bon/selectors/), each in units of the variant's within-prompt reward SD s."""
    soft_lambda: list[float] = field(default_factory=lambda: [1.0])  # soft best-of-N temperature lambda * s
    soft_max_subsets: int = 20000  # enumerate soft best-of-N exactly up to C(M, N) subsets, else Monte Carlo
    soft_draws: int = 4000  # Monte Carlo subsets per N above soft_max_subsets (seeded by `seed`)
    penalty_lambda: list[float] = field(default_factory=lambda: [1.0, 3.0, 10.0])  # agreement penalty grid
    poisson_tail_flag: float = 0.01  # flag a Best-of-Poisson point whose P(n > M) exceeds this
