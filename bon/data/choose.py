"""Choosing the items of a run: ``dataset.where`` filters on ``base`` fields, ``dataset.sample`` draws a seeded,
stratified subsample, ``dataset.max_items`` keeps the first items in file order.

The unit is the item (every template or framing of one question, text or poem, as ``Example.item_id`` groups them),
so a chosen item keeps all its prompts and paired framings stay paired. Per kind (answer, feedback, ...):

1. ``where``: an item is kept when, for every field, its ``base.<field>`` equals the value given (a list of values:
   any of them). Values compare as text (``where.year=2020`` matches 2020 and "2020"); a list-valued base field
   matches when any of its elements does. An item without the field is not kept.
2. ``sample: k`` (with ``seed``): k items, stratified by ``base.dataset`` and ``base.category`` where an item has
   them. Each stratum gets its proportional share of k, floor(k * n_s / n), and the items left over go to the strata
   with the largest remainders (Hamilton's method; ties broken by a seeded hash of the stratum's name). Within a
   stratum, the items with the smallest sha256(seed, kind, item_id) are taken. item_id is a digest of the item's
   content (bon/data/sycophancy_eval.py), so the same data and seed give the same items on every machine, in every
   shard, whatever the order of the files or rows: nothing here depends on Python's hash randomization or on file
   order. A kind with k or fewer items keeps them all.
   ``sample`` replaces ``max_items``: with both set (experiment=demo sets max_items), ``max_items`` is not applied,
   and the report says so.
3. else ``max_items: k``: the first k items of each kind in file order (the behaviour before ``sample`` existed).

The chosen items keep their file order. :func:`choose` returns them with a record of how they were chosen, which the
select stage puts in ``run.json`` (``facts.selection``) and the report (:func:`selection_lines`).
"""
from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from typing import Any, Mapping, Sequence

from bon.data.sycophancy_eval import Example

STRATA = ("dataset", "category")  # base fields a sample is stratified by, where an item has them


class SelectionError(ValueError):
    """A ``dataset.where`` field or value that no item of the data has (raised before any model loads)."""


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def _allowed(value: Any) -> list[str]:
    return [_text(v) for v in value] if isinstance(value, (list, tuple)) else [_text(value)]


def _values(base: Mapping, field: str) -> list[str] | None:
    """The texts a base field matches on (a list field: each element); None when the item has no such field."""
    if field not in base:
        return None
    v = base[field]
    return [_text(x) for x in v] if isinstance(v, list) else [_text(v)]


def _rank(*parts: Any) -> str:
    """A seeded, machine-independent sort key (sha256 of the parts as JSON)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def stratum(base: Mapping) -> str:
    """The stratum of an item: its ``base.dataset`` and ``base.category`` joined by '/', those it has ('' if none)."""
    return "/".join(_text(base[f]) for f in STRATA if f in base)


def allocate(sizes: Mapping[str, int], k: int, seed: int = 0) -> dict[str, int]:
    """Hamilton's largest-remainder split of k draws over strata of the given sizes, proportionally.

    Args:
        sizes: stratum -> items in it (> 0).
        k: draws, 0 <= k <= sum(sizes).
        seed: breaks ties between equal remainders (a hash of seed and stratum, not dict order).
    Returns:
        stratum -> draws, summing to k, each at most the stratum's size.
    """
    n = sum(sizes.values())
    if not 0 <= k <= n:
        raise ValueError(f"allocate: need 0 <= k <= {n} items, got k={k}")
    quota = {s: k * size / n for s, size in sizes.items()}
    out = {s: min(int(q), sizes[s]) for s, q in quota.items()}
    left = k - sum(out.values())
    order = sorted(sizes, key=lambda s: (-(quota[s] - int(quota[s])), _rank(seed, "stratum", s)))
    while left > 0:  # one pass suffices unless a cap bit; then go round again
        for s in order:
            if left and out[s] < sizes[s]:
                out[s] += 1
                left -= 1
    return out


def _items(examples: Sequence[Example]) -> dict[tuple[str, str], list[Example]]:
    items: dict[tuple[str, str], list[Example]] = {}
    for e in examples:
        items.setdefault((e.kind, e.item_id), []).append(e)
    return items


def where_errors(examples: Sequence[Example], where: Mapping[str, Any]) -> list[str]:
    """Each ``dataset.where`` field no item has, and each value no item has in that field, with close names."""
    errs = []
    for field, value in where.items():
        seen = Counter(v for e in examples for v in (_values(e.base, field) or []))
        if not seen:
            fields = sorted({f for e in examples for f in e.base})
            close = difflib.get_close_matches(field, fields, n=3)
            errs.append(f"dataset.where.{field}: no item of the selected data has base.{field}."
                        + (f" Did you mean {', '.join(map(repr, close))}?" if close else "")
                        + f" Base fields: {', '.join(fields)}")
            continue
        for v in _allowed(value):
            if v not in seen:
                close = difflib.get_close_matches(v, seen, n=3)
                common = ", ".join(f"{x} ({n})" for x, n in seen.most_common(8))
                errs.append(f"dataset.where.{field}: no item has base.{field} = {v!r}."
                            + (f" Did you mean {', '.join(map(repr, close))}?" if close else "")
                            + f" Most common values (prompts): {common}{' ...' if len(seen) > 8 else ''}")
    return errs


def choose(examples: Sequence[Example], sample: int | None = None, seed: int = 0,
           where: Mapping[str, Any] | None = None, max_items: int | None = None) -> tuple[list[Example], dict]:
    """The prompts of the chosen items, in the given order, and a record of how they were chosen.

    Args:
        examples: every candidate prompt (e.g. a loaded Dataset's examples).
        sample: items per kind to draw (seeded, stratified); None = no draw.
        seed: the draw's seed.
        where: base field -> value or list of values; an item must match every field.
        max_items: items per kind, the first in file order; not applied when ``sample`` is set.
    Returns:
        (prompts, record): record = {"rule", "where", "sample", "seed", "max_items", "kinds": kind -> {"items",
        "matched", "chosen", "strata": stratum -> chosen}}.
    Raises:
        SelectionError: a where field or value that no item has.
    """
    where = dict(where or {})
    errs = where_errors(examples, where)
    if errs:
        raise SelectionError("\n".join(errs))
    items = _items(examples)
    kinds: dict[str, dict] = {}
    keep: set[tuple[str, str]] = set()
    for kind in dict.fromkeys(k for k, _ in items):
        ids = [key for key in items if key[0] == kind]
        matched = [key for key in ids if all(set(_values(items[key][0].base, f) or ()) & set(_allowed(v))
                                             for f, v in where.items())]
        if sample is not None:
            chosen = draw({key: items[key][0].base for key in matched}, sample, seed)
        elif max_items is not None:
            chosen = matched[:max_items]
        else:
            chosen = matched
        keep.update(chosen)
        kinds[kind] = {"items": len(ids), "matched": len(matched), "chosen": len(chosen),
                       "strata": dict(sorted(Counter(stratum(items[key][0].base) for key in chosen).items()))}
    record = {"rule": rule(sample, seed, where, max_items), "where": where, "sample": sample, "seed": seed,
              "max_items": max_items, "kinds": kinds}
    return [e for e in examples if (e.kind, e.item_id) in keep], record


def draw(bases: Mapping[tuple[str, str], Mapping], k: int, seed: int) -> list[tuple[str, str]]:
    """k of the items (key (kind, item_id) -> base), stratified as the module docstring says; keys in given order."""
    strata: dict[str, list[tuple[str, str]]] = {}
    for key, base in bases.items():
        strata.setdefault(stratum(base), []).append(key)
    if not strata:
        return []
    quota = allocate({s: len(v) for s, v in strata.items()}, min(k, len(bases)), seed)
    chosen = set()
    for s, keys in strata.items():
        chosen.update(sorted(keys, key=lambda key: _rank(seed, *key))[:quota[s]])
    return [key for key in bases if key in chosen]


def rule(sample: int | None, seed: int, where: Mapping[str, Any], max_items: int | None) -> str:
    """How the items were chosen, in words (the report's line)."""
    parts = []
    if where:
        parts.append("items with " + " and ".join(
            f"{f} = {v if not isinstance(v, (list, tuple)) else ' or '.join(map(str, v))}" for f, v in where.items()))
    if sample is not None:
        parts.append(f"a seeded sample of {sample} items per kind (seed {seed}), stratified by base.dataset and "
                     f"base.category" + (f"; dataset.max_items={max_items} not applied" if max_items is not None
                                         else ""))
    elif max_items is not None:
        parts.append(f"the first {max_items} items per kind in file order")
    return "; ".join(parts) or "every item"


def selection_lines(facts: Mapping) -> list[str]:
    """The report's lines on how the items were chosen (facts["selection"] from :func:`choose`)."""
    sel = facts.get("selection")
    if not sel:
        return []
    lines = [f"  items chosen: {sel['rule']}"]
    for kind, k in sel["kinds"].items():
        strata = ", ".join(f"{s or '(none)'} {n}" for s, n in k["strata"].items())
        lines.append(f"    {kind}: {k['chosen']} of {k['matched']} matching items ({k['items']} in the data)"
                     + (f": {strata}" if strata and sel.get("sample") is not None else ""))
    return lines


def config_errors(dataset: Any) -> list[str]:
    """Problems with ``dataset.sample``, ``dataset.seed`` and ``dataset.where`` that need no data (for
    bon.config.validate); a where field or value no item has is found by :func:`choose`, on the data."""
    errs = []
    sample, seed = dataset.get("sample"), dataset.get("seed", 0)
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 1):
        errs.append(f"dataset.sample must be a positive integer (items per kind to draw) or null, got {sample!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        errs.append(f"dataset.seed must be an integer, got {seed!r}")
    from omegaconf import OmegaConf

    where = dataset.get("where") or {}
    where = OmegaConf.to_container(where) if OmegaConf.is_config(where) else where
    if not isinstance(where, dict):
        return errs + [f"dataset.where must be a mapping {{base field: value or [values]}}, got {where!r}"]
    for field, value in where.items():
        vals = value if isinstance(value, list) else [value]
        if not vals or any(v is None or isinstance(v, (dict, list)) for v in vals):
            errs.append(f"dataset.where.{field} must be a value or a non-empty list of values "
                        f"(e.g. dataset.where.{field}=x or 'dataset.where.{field}=[x,y]'), got {value!r}")
    return errs
