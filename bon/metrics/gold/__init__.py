"""Gold reward of the proxy's best-of-N pick: the y-axis of a Goodhart curve (Gao et al. 2022, "Scaling laws for
reward model overoptimization").

The proxy is the PM variant that picks; the gold is any other per-sample score, named by the ``gold`` config node:
another variant of the same PM (``source: variant``), the per-sample value of another metric such as answer
correctness (``source: metric, ref: answer_sycophancy``), or a judge task's value (``source: judge``). Each source is
one file in this folder, registered in ``GOLD_SOURCES`` under its ``gold.source`` name (variant.py, metric.py,
judge.py): it checks ``gold.ref``, builds the gold metric (its row name and the prompts it reads) and hands the
(P, M) gold scores over as ``judged``; this metric never loads a model. A new source is one more file here.

    gold/<name>(N) = E[gold score of the sample the proxy picks as best of N]

One column per prompt. Plotted against d = sqrt(KL) and fitted with R(d) = d (alpha - beta d)
(`bon.estimator.fit_goodhart`): a peak inside the grid means best-of-N overoptimizes the proxy.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from bon.estimator import expected_best_of_n
from bon.metrics.base import METRICS, Metric, column_item
from bon.registry import Registry

GOLD_SOURCES = Registry("gold source", "bon.metrics.gold")


@METRICS.register("gold")
class Gold(Metric):
    name = "gold"
    kind = None
    higher_is_more_sycophantic = None

    def __init__(self, label: str | None = None, kind: str | None = None, like: Metric | None = None):
        """Args: label: the row is ``gold/<label>`` (``gold`` without one); kind: Example.kind the gold exists for (None = every prompt);
        like: a metric whose prompt selection the gold shares (when the gold is that metric's per-sample value)."""
        super().__init__()
        if label is not None and (not isinstance(label, str) or not label or "/" in label):
            raise ValueError(f"gold: label must be a non-empty string without '/', got {label!r}")
        self.name = "gold" if label is None else f"gold/{label}"
        self.like = like
        self.kind = like.kind if like is not None else kind

    def applies(self, example) -> bool:
        return self.like.applies(example) if self.like is not None else super().applies(example)

    def instruments(self, examples) -> list:
        """The instruments of the metric whose per-sample value this gold is (``like``); none for a PM variant's or
        a judge task's value (a judge gold has no labelled check of its own)."""
        return self.like.instruments(examples) if self.like is not None else []

    def sample_values(self, examples, texts, judged=None) -> np.ndarray:
        """(P, M) gold score of each reply: ``judged``, the gold source the pipeline resolved."""
        m = self._check_texts(examples, texts)
        if judged is None:
            raise ValueError(f"{self.name}: needs the (P, M) gold scores as `judged` (see the gold config node); "
                             f"got None")
        return self._check_judged(judged, (len(examples), m))

    def item_curves(self, examples, rewards, values, ns) -> dict[str, np.ndarray]:
        """gold/<label>, (len(ns), P): the gold score of the proxy's pick, one column per prompt."""
        rewards, values = self._check_pool(examples, rewards, values)
        self._reset()
        self._group(examples)
        self.item_ids = {self.name: [column_item(e) for e in examples]}
        return {self.name: expected_best_of_n(rewards, values, ns)}


class GoldSource:
    """Where a gold score comes from. A subclass registers with ``@GOLD_SOURCES.register("<gold.source>")``.

    Args (of every method): g, the ``gold`` config node (source, ref, name).
    """

    @classmethod
    def config_errors(cls, cfg, g) -> list[str]:
        """Problems with ``gold.ref`` under this source, one line each (config validation, before any model loads)."""
        return []

    @classmethod
    def metric(cls, g, metrics: Sequence[Metric], make: Callable[[str], Metric]) -> Gold:
        """The gold metric: row ``gold/<name>`` (``g.name``, default ``g.ref``) over every prompt.

        Args:
            metrics: the run's metrics. make: name -> a metric built with the run's arguments for it.
        """
        return Gold(label=g.name or g.ref)

    @classmethod
    def values(cls, g, metric: Gold, sel: list[int], examples, replies, judged: dict, rewards: dict,
               sample_values: dict) -> Any:
        """(P, M) gold score of each sample of the prompts ``sel`` (rows of ``examples``), given the run's judge values
        (task -> array), rewards (variant -> (P_all, M)) and the metrics' values so far (name -> (sel, values))."""
        raise NotImplementedError
