"""The one model stage: load the model lazily, run in chunks through the store, close, free memory.

A model stage (sample, score, judge) is a :class:`Stage`, a name and a version declared in its own module, whose
table is built by :meth:`Stage.run` chunk by chunk in the store (bon/store.py): finished chunks are read back and
only missing ones computed, so a model is built (:func:`lazy`) on the first missing chunk and never on a full hit.
The models live in a holder opened by :func:`models`, which closes each one (a vLLM engine must be shut down, not
just dropped) and frees its memory when the stage ends, on success or error, so the next stage's model loads into
the memory this one held.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from bon import store as st
from bon.runtime import release_memory

if TYPE_CHECKING:
    from bon.stages.context import Context

log = logging.getLogger("bon")


@contextmanager
def models(holder: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """A holder of models (name -> model) for one stage; on exit each is closed and forgotten and memory freed.

    Args:
        holder: a holder that already holds models (the sampler that are_you_sure's first turn built); a new one
            if None.
    """
    holder = {} if holder is None else holder
    try:
        yield holder
    finally:
        for name in list(holder):
            close_model(holder, name)
        release_memory()


def close_model(holder: dict[str, Any], name: str) -> None:
    """Take ``name`` out of ``holder`` and close it (a vLLM engine must be shut down, not just dropped)."""
    close = getattr(holder.pop(name, None), "close", None)
    if close:
        close()


def lazy(holder: dict[str, Any], name: str, build: Callable[[], Any]) -> Any:
    """The model ``name`` in ``holder``, built on first use."""
    if name not in holder:
        holder[name] = build()
    return holder[name]


@dataclass(frozen=True)
class Stage:
    """A stage's identity in the store: its name, its version (bump it whenever a code change moves its numbers)
    and the columns of its table."""
    name: str
    version: int
    columns: tuple[str, ...] = ()  # none for a stage without a table (the instrument checks)

    def __post_init__(self) -> None:
        st.declare_stage(self.name, self.version)

    def key(self, spec: dict) -> str:
        return st.stage_key(self.name, spec)

    def run(self, ctx: Context, label: str, spec: dict, items: Sequence,
            compute: Callable[[Sequence], tuple[pd.DataFrame, dict]]) -> tuple[str, pd.DataFrame, dict]:
        """The stage's table for ``spec``, built in chunks of ``cfg.chunk_prompts`` items through the store.

        Args:
            label: the stage as the run names it (``score[standard]``): in the progress bar and ``ctx.reused``.
            items: the prompts, in a deterministic order.
            compute: one chunk of items -> (rows, facts); called for missing chunks only.
        Returns:
            (key, table, facts): the store key, the whole table read back from the store, the summed facts.
        """
        key = self.key(spec)
        hit = ctx.check_reuse(self.name, key, label)
        if hit:  # a finished stage: say so, rather than draw an empty 0/n bar
            log.info("%s: reused from the store (%d prompts, key %s)", label, len(items), key)
        with tqdm(total=len(items), desc=label, unit="prompt", disable=hit or not ctx.cfg.progress,
                  dynamic_ncols=True) as bar:
            def step(chunk: Sequence) -> tuple[pd.DataFrame, dict]:
                out = compute(chunk)
                bar.update(len(chunk))
                return out

            table, facts = ctx.store.run_chunked(self.name, key, spec, items, ctx.cfg.chunk_prompts, step,
                                                 columns=list(self.columns))
        return key, table, facts


def to_matrix(table: pd.DataFrame, examples: Sequence, m: int, col: str) -> np.ndarray:
    """Long table (key, sample, col) -> (P, M) array in the order of `examples`; every cell must have a row (a NaN
    value is kept: it means "not judged", e.g. a short answer under answer_grading=auto)."""
    pos = {e.key: i for i, e in enumerate(examples)}
    arr = np.full((len(examples), m), np.nan)
    filled = np.zeros((len(examples), m), dtype=bool)
    rows = table[table["key"].isin(pos)]
    at = rows["key"].map(pos).to_numpy(dtype=int), rows["sample"].to_numpy(dtype=int)  # int even when empty
    arr[at], filled[at] = rows[col].to_numpy(), True
    if not filled.all():
        raise RuntimeError(f"stage table is missing values for column {col!r}; delete the stage dir to recompute")
    return arr
