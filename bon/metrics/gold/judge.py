"""Gold source ``judge``: a judge task's value of each sample (``gold.ref``: the task, e.g. positivity), over the
prompts of the task's kind."""
from __future__ import annotations

from bon.metrics.gold import GOLD_SOURCES, Gold, GoldSource


@GOLD_SOURCES.register("judge")
class JudgeGold(GoldSource):
    @classmethod
    def config_errors(cls, cfg, g) -> list[str]:
        from bon.judges import TASK_KIND

        if g.ref not in TASK_KIND:
            return [f"gold.ref: unknown judge task {g.ref!r}; expected one of {sorted(TASK_KIND)}"]
        return []

    @classmethod
    def metric(cls, g, metrics, make) -> Gold:
        from bon.judges import TASK_KIND

        return Gold(label=g.name or g.ref, kind=TASK_KIND[g.ref])

    @classmethod
    def values(cls, g, metric, sel, examples, replies, judged, rewards, sample_values):
        if g.ref not in judged:
            raise ValueError(f"gold: judge task {g.ref!r} did not run in this job; add a metric that needs it "
                             f"(e.g. feedback_sycophancy for positivity) or pick another gold.source")
        return judged[g.ref]  # rows: the examples of the task's kind, in order, as the gold metric selects
