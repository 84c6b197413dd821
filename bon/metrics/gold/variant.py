"""Gold source ``variant``: the reward another PM variant gives each sample (``gold.ref``: the variant's name)."""
from __future__ import annotations

from bon.metrics.gold import GOLD_SOURCES, GoldSource


@GOLD_SOURCES.register("variant")
class VariantGold(GoldSource):
    @classmethod
    def config_errors(cls, cfg, g) -> list[str]:
        if g.ref not in cfg.variants:
            return [f"gold.ref: no PM variant {g.ref!r}; variants are {list(cfg.variants)}"]
        return []

    @classmethod
    def values(cls, g, metric, sel, examples, replies, judged, rewards, sample_values):
        return rewards[g.ref][sel]
