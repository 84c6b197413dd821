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
    """The prompts the metrics need, in file order, of the items the dataset node chooses (:func:`choose_items`:
    where, sample, max_items; whole items, so framings stay paired). With shard.count > 1, only this shard's items
    (see :func:`shard_examples`): every shard chooses the same items, then keeps its own.

    Args:
        positions: if given, filled with key -> position in the unsharded selection (bon.merge restores that order).
        facts: if given, gets ``duplicate_prompts``: repeated prompts kept once, "PATH:LINE (repeats PATH:LINE)",
            and ``selection``: how the items were chosen (bon.data.choose.choose's record).
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
    fb = cfg.dataset.feedback_datasets
    candidates = [e for e in ds.examples if not (e.kind == "feedback" and fb and e.dataset not in fb)]
    out, record = choose_items(cfg.dataset, candidates)
    if facts is not None and record is not None:
        facts["selection"] = record
    if positions is not None:
        positions.update((e.key, i) for i, e in enumerate(out))
    return shard_examples(out, cfg.shard.index, cfg.shard.count)


def choose_items(dataset, examples: list[Example]) -> tuple[list[Example], dict | None]:
    """The prompts of the items ``dataset.where``, ``sample``, ``seed`` and ``max_items`` choose (bon/data/choose.py),
    and the record of how (None when every item is kept). A where field or value no item has is a ConfigError."""
    from omegaconf import OmegaConf

    from bon.config import ConfigError
    from bon.data.choose import SelectionError, choose

    where = dataset.get("where") or {}
    where = OmegaConf.to_container(where) if OmegaConf.is_config(where) else dict(where)
    sample, max_items = dataset.get("sample"), dataset.max_items
    try:
        out, record = choose(examples, sample=sample, seed=dataset.get("seed", 0), where=where,
                             max_items=max_items)
    except SelectionError as e:
        raise ConfigError(str(e)) from None
    if sample is not None and max_items is not None:
        log.info("dataset.sample=%d chooses the items; dataset.max_items=%d is not applied", sample, max_items)
    return out, (record if where or sample is not None or max_items is not None else None)


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
