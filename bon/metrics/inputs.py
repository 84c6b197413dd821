"""What each metric reads besides the replies, for the curves stage: a judge task's values, a column of the sampler's
table, or the gold source the ``gold`` config node names; and the ``gold`` metric that node asks for."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

def gold_metric(cfg, metrics: list, make: Callable[[str], Any]):
    """The `gold` metric the `gold` config node asks for, or None (no node, or source null).

    Args:
        cfg: the run config. metrics: the run's metrics (a metric source is shared if present).
        make: name -> a metric built with the run's arguments for it (for a metric source not in the run).
    """
    from bon.metrics.gold import GOLD_SOURCES

    g = cfg.get("gold")
    if g is None or g.source is None:
        return None
    return GOLD_SOURCES.get(g.source).metric(g, metrics, make)


def metric_input(cfg, metric, sel: list[int], examples, replies, judged: dict, samples: pd.DataFrame | None,
                 rewards: dict, sample_values: dict):
    """The `judged` argument of metric.sample_values for the prompts `sel`: a judge task's values, a column of the
    sampler's table (metric.sample_column), the gold source (the gold metric), or None."""
    if metric.judge_task:
        return judged.get(metric.judge_task)
    column = getattr(metric, "sample_column", None)
    if column:
        if samples is None or column not in samples.columns:
            raise ValueError(f"metric {metric.name} reads the samples' {column!r} column, which the sample stage "
                             f"table lacks (columns: {None if samples is None else list(samples.columns)})")
        return sample_matrix(samples, [examples[i].key for i in sel], cfg.m, column)
    if metric.name.startswith("gold/"):
        from bon.metrics.gold import GOLD_SOURCES

        return GOLD_SOURCES.get(cfg.gold.source).values(cfg.gold, metric, sel, examples, replies, judged, rewards,
                                                        sample_values)
    return None


def sample_matrix(samples: pd.DataFrame, keys: list[str], m: int, column: str) -> np.ndarray:
    """(P, M) object array of samples[column] for the prompts `keys`, in order; raises if a sample is missing."""
    pos = {k: i for i, k in enumerate(keys)}
    rows = samples[samples["key"].isin(pos)]
    out = np.empty((len(keys), m), dtype=object)
    filled = np.zeros((len(keys), m), dtype=bool)
    p, j = rows["key"].map(pos).to_numpy(), rows["sample"].to_numpy()
    out[p, j] = rows[column].to_numpy()
    filled[p, j] = True
    if not filled.all():
        p0, j0 = np.argwhere(~filled)[0]
        raise ValueError(f"samples table lacks {column!r} for prompt {keys[p0]}, sample {j0}")
    return out
