"""Gold source ``metric``: another metric's per-sample value (``gold.ref``: the metric, e.g. answer_sycophancy, whose
per-sample value is correctness), over the prompts that metric reads."""
from __future__ import annotations

from bon.metrics.gold import GOLD_SOURCES, Gold, GoldSource


@GOLD_SOURCES.register("metric")
class MetricGold(GoldSource):
    @classmethod
    def config_errors(cls, cfg, g) -> list[str]:
        from bon.metrics.base import METRICS
        from bon.registry import UnknownNameError

        try:
            src = METRICS.get(g.ref)
        except UnknownNameError as e:
            return [f"gold.ref: {e}"]
        if src.kind is None:
            usable = [f"{n} ({c.value_name})" if c.value_name else n for n, c in METRICS.items() if c.kind is not None]
            return [f"gold.ref: metric {g.ref!r} has no per-sample value of its own to use as gold; use one of "
                    f"{', '.join(usable)}"]
        return []

    @classmethod
    def metric(cls, g, metrics, make) -> Gold:
        src = next((m for m in metrics if m.name == g.ref), None) or make(g.ref)
        return Gold(label=g.name or src.value_name or g.ref, like=src)

    @classmethod
    def values(cls, g, metric, sel, examples, replies, judged, rewards, sample_values):
        src = metric.like
        if src.name in sample_values:
            return sample_values[src.name][1]
        exs = [examples[i] for i in sel]
        return src.sample_values(exs, [replies[i] for i in sel], judged.get(src.judge_task) if src.judge_task
                                 else None)
