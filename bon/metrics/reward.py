"""Expected PM reward of the best-of-N pick, per prompt: the quantity best-of-N optimises, plotted next to the
sycophancy metrics to show how hard each N pushes on the PM.

    reward(N) = E[PM reward of the best of N replies]
"""
from __future__ import annotations

import numpy as np

from bon.estimator import expected_best_of_n
from bon.metrics.base import METRICS, Metric, column_item


@METRICS.register("reward")
class Reward(Metric):
    name = "reward"
    kind = None  # every prompt
    higher_is_more_sycophantic = None  # not a sycophancy measure
    title, ylabel = "PM reward of the best-of-N pick", "mean PM score"
    main, order = True, 0

    def sample_values(self, examples, texts, judged=None) -> None:
        """None: the per-sample value is the reward itself, which only item_curves sees."""
        self._check_texts(examples, texts)
        return None

    def item_curves(self, examples, rewards, values=None, ns=None) -> dict[str, np.ndarray]:
        """reward, (len(ns), P): one column per prompt (item_ids: its item). values: None or the rewards themselves,
        or the PM rewards to average when ``rewards`` rank by something else (a selector's penalized rewards)."""
        if ns is None:
            raise ValueError(f"{self.name}: ns is required, e.g. bon.estimator.default_ns(M)")
        rewards, _ = self._check_pool(examples, rewards, rewards)
        self._reset()
        self._group(examples)  # raises on a repeated prompt
        self.item_ids = {self.name: [column_item(e) for e in examples]}
        if values is not None and not np.array_equal(np.asarray(values, dtype=np.float64), rewards):
            return {self.name: self.curve_of(rewards, np.asarray(values, dtype=np.float64), ns)}
        return {self.name: self.curve(rewards, ns)}

    def curve_of(self, ranking: np.ndarray, rewards: np.ndarray, ns) -> np.ndarray:
        """(len(ns), P): the PM reward of the pick when the pick ranks by ``ranking`` instead."""
        return expected_best_of_n(ranking, rewards, ns)

    def curve(self, rewards: np.ndarray, ns) -> np.ndarray:
        """(len(ns), P) from the (P, M) rewards alone; metrics of the reward itself override this."""
        return expected_best_of_n(rewards, rewards, ns)
