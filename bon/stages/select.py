"""The select stage: the configured metrics, the prompts they read (bon/data/), and the metrics dropped for want of
items, all before any model loads. Cheap and deterministic, so it is recomputed every run, never stored."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bon.data import Example, bundled_dir, load
from bon.metrics import metric_from_config
from bon.stages.judge import check_judges

if TYPE_CHECKING:
    from bon.stages.context import Context

log = logging.getLogger("bon")

def run(ctx: Context) -> None:
    cfg = ctx.cfg
    metrics = make_metrics(cfg)
    ctx.examples = select_examples(cfg, metrics, ctx.positions, ctx.facts)
    ctx.metrics = drop_absent_metrics(ctx, metrics, ctx.examples)  # before sampling: no stage for absent items
    check_judges(cfg, ctx.metrics, ctx.examples)
    exs = ctx.examples
    log.info("%d prompts (%s), m=%d, ns=%s, variants=%s", len(exs),
             ", ".join(f"{k} {sum(e.kind == k for e in exs)}" for k in sorted({e.kind for e in exs})),
             cfg.m, ctx.ns, list(cfg.variants))


def make_metrics(cfg) -> list:
    """The metrics of ``cfg.metrics``, in config order, each built with what the run config gives it (its own
    ``config_kwargs``)."""
    return [metric_from_config(name, cfg) for name in cfg.metrics]


def select_examples(cfg, metrics, positions: dict[str, int] | None = None, facts: dict | None = None
                    ) -> list[Example]:
    """The prompts the metrics need, in file order; max_items keeps the first items of each kind (whole items,
    so framings stay paired). With shard.count > 1, only this shard's items (see :func:`shard_examples`).

    Args:
        positions: if given, filled with key -> position in the unsharded selection (bon.merge restores that order).
        facts: if given, gets ``duplicate_prompts``: repeated prompts kept once, "PATH:LINE (repeats PATH:LINE)".
    """
    paths = list(cfg.dataset.paths) or [str(bundled_dir())]
    kinds = set(cfg.dataset.kinds)
    needed = {m.kind for m in metrics if m.kind is not None}
    if any(m.kind is None for m in metrics):  # reward alone: every selected kind
        needed |= kinds
    ds = load(paths, kinds=sorted(kinds & needed))
    if ds.duplicates:
        log.warning("skipped %d repeated (item, template) rows, first at %s", len(ds.duplicates), ds.duplicates[0])
        if facts is not None:
            facts["duplicate_prompts"] = list(ds.duplicates)
    out, seen = [], {}
    for e in ds.examples:
        if e.kind == "feedback" and cfg.dataset.feedback_datasets and e.dataset not in cfg.dataset.feedback_datasets:
            continue
        items = seen.setdefault(e.kind, [])
        if e.item_id not in items:
            if cfg.dataset.max_items is not None and len(items) >= cfg.dataset.max_items:
                continue
            items.append(e.item_id)
        out.append(e)
    if positions is not None:
        positions.update((e.key, i) for i, e in enumerate(out))
    return shard_examples(out, cfg.shard.index, cfg.shard.count)


def shard_examples(examples: list[Example], index: int, count: int) -> list[Example]:
    """Item i (numbered by first appearance in ``examples``, across kinds) goes to shard i % count, with every
    framing of it; a shard keeps the selection's order. Deterministic: the same data and config give the same shards."""
    if count == 1:
        return examples
    items: dict[tuple[str, str], int] = {}
    for e in examples:
        items.setdefault((e.kind, e.item_id), len(items))
    return [e for e in examples if items[(e.kind, e.item_id)] % count == index]


def drop_absent_metrics(ctx: Context, metrics, examples: list[Example]) -> list:
    """The metrics with items to read (bon/coverage.py); says once (log, report) why each other one is not computed.
    Raises ConfigError when no prompt is selected at all."""
    from bon import coverage
    from bon.config import ConfigError

    if not examples:
        raise ConfigError("no prompt selected: " + coverage.missing_reason(ctx.cfg, None, examples))
    kept, skipped = coverage.present_metrics(ctx.cfg, metrics, examples, lambda name: metric_from_config(name, ctx.cfg))
    for name, why in skipped.items():
        log.warning("not computing %s: it %s", name, why)
    if skipped:
        ctx.facts["metrics_skipped"] = skipped
    return kept
