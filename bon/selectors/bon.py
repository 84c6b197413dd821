"""Hard best-of-N: the highest-reward sample of a uniformly random N-subset, ties broken uniformly at random; exactly
today's estimator (bon.estimator.expected_best_of_n), so ``selectors=[bon]`` reproduces the curves of a run
without selectors."""
from __future__ import annotations

from bon.selectors import SELECTORS, Selector


@SELECTORS.register("bon")
class HardBestOfN(Selector):
    name, version, exact = "bon", 1, True
    title = "best-of-N"
