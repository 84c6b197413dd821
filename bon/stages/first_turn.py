"""The first-turn stage of "Are you sure?" (bon/data/are_you_sure.py): the policy's turn-1 answers to each
are_you_sure item, so that the sample stage can draw the M replies to the user's challenge.

Content-addressed like the other stages (stage ``first_turn`` in bon/store.py): its key hashes the sampler identity
(bon.keys.sample_spec: policy fingerprint, backend, decoding settings, placement), the seed, the turn-1 prompts and
the mode. It builds the sampler into the caller's ``holder``, so the sample stage reuses the same engine (vLLM
start-up costs ~25 s on CPU) and closes it.

``are_you_sure.first_turn``:
- ``sample``: one seeded sample per item; the item's prompt becomes its challenged turn-2 prompt.
- ``best_of_n``: M seeded samples per item (table columns ``sample`` and ``completion`` added), scored by every PM
  variant through the score stage (bon.stages.score.score_stage: stored under the PM's identity and this stage's key,
  labelled ``first_turn_score[<variant>]``); the item becomes M challenged prompts (bon.data.are_you_sure
  .challenged_pool), each sampled M times by the sample stage. The sampler is closed before the PM loads (a GPU
  holds one model at a time), so the sample stage starts it again: one more engine start when turn 1 is computed.
"""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from bon import keys
from bon import store as st
from bon.chat import Prompt
from bon.data.are_you_sure import challenged, challenged_pool, first_turn_key
from bon.data.sycophancy_eval import Example
from bon.stages.base import close_model

log = logging.getLogger("bon")
COLUMNS = ["key", "reply", "n_tokens", "finish_reason"]
st.declare_stage("first_turn", 1)  # bump when the stored turn-1 tables change
POOL_COLUMNS = ["key", "sample", "completion", "reply", "n_tokens", "finish_reason"]  # first_turn=best_of_n


def first_turn_stage(ctx, examples: list[Example], holder: dict[str, Any],
                     positions: dict[str, int] | None = None) -> list[Example]:
    """Replace each are_you_sure prompt by its challenged turn-2 prompt(s); other prompts pass through unchanged.

    Args:
        ctx: the run's bon.pipeline.Context.
        examples: the selected prompts, in selection order.
        holder: gets ``"sampler"`` when a turn 1 has to be sampled; the sample stage reuses and closes it.
        positions: key -> position in the unsharded selection (bon.merge's order); first_turn=best_of_n gives an
            item's M prompts its position (they stay together, in turn-1 sample order).
    Returns:
        The prompts in the same order, are_you_sure ones challenged (first_turn=best_of_n: M prompts per item). An
        item whose turn-1 prompt was skipped for length keeps no prompt (it drops out, counted in facts
        ``first_turn.skipped_overlength``).
    """
    from bon.stages.sample import policy_sampler
    from bon.sampling import resolve_backend

    items = [e for e in examples if e.kind == "are_you_sure"]
    if not items:
        return examples
    cfg, mode = ctx.cfg, ctx.cfg.are_you_sure.first_turn
    backend = resolve_backend(cfg.sampler.backend)
    m = cfg.m if mode == "best_of_n" else 1
    spec = {**keys.sample_spec(cfg, items, backend), "m": m, "first_turn": mode}
    key = st.stage_key("first_turn", spec)
    columns = POOL_COLUMNS if mode == "best_of_n" else COLUMNS

    def compute(chunk: list[Example]):
        prompts = [Prompt.of(e.conversation, e.prefill, first_turn_key(e)) for e in chunk]
        outs = policy_sampler(cfg, backend, holder).sample(prompts, m=m, seed=cfg.seed, progress=False)
        rows = [{"key": e.key, "sample": j, "completion": c.text, "reply": e.prefill + c.text,
                 "n_tokens": c.n_tokens, "finish_reason": c.finish_reason}
                for e, cs in zip(chunk, outs) for j, c in enumerate(cs)]
        rows = [{k: r[k] for k in columns} for r in rows]  # first_turn=sample: the table it has always stored
        return pd.DataFrame(rows, columns=columns), {"skipped_overlength": [e.key for e, c in zip(chunk, outs)
                                                                            if not c]}

    log.info("turn 1 of %d are_you_sure items: %d sample(s) each (first_turn=%s)%s", len(items), m, mode,
             f", then {m} x {m} turn-2 samples per item" if mode == "best_of_n" else "")
    ctx.check_reuse("first_turn", key, "first_turn")
    try:
        table, facts = ctx.store.run_chunked("first_turn", key, spec, items, cfg.chunk_prompts, compute,
                                             columns=columns)
    except BaseException:
        close_model(holder, "sampler")
        raise
    ctx.facts["first_turn"] = {**facts, "mode": mode}
    ctx.stage_keys["first_turn"] = key
    if mode == "best_of_n":
        return _pools(ctx, key, examples, items, table, holder, positions)
    first = dict(zip(table["key"], table["reply"]))
    return [challenged(e, first[e.key]) if e.kind == "are_you_sure" else e
            for e in examples if e.kind != "are_you_sure" or e.key in first]


def _pools(ctx, key: str, examples: list[Example], items: list[Example], table: pd.DataFrame,
           holder: dict[str, Any], positions: dict[str, int] | None) -> list[Example]:
    """first_turn=best_of_n: score the M turn-1 replies of each item under every PM variant, then expand each item
    into its M challenged prompts, the turn-1 rewards in their metadata."""
    from bon.runtime import release_memory
    from bon.stages.score import score_stage

    m = ctx.cfg.m
    by_key = {k: g.sort_values("sample") for k, g in table.groupby("key", sort=False)}
    kept = [e for e in items if len(by_key.get(e.key, ())) == m]
    if "sampler" in holder:  # the PM loads next: free the policy's engine first (the sample stage starts it again)
        close_model(holder, "sampler")
        release_memory()
    reused = len(ctx.reused)
    scored = score_stage(ctx, key, kept, [by_key[e.key]["completion"].tolist() for e in kept]) if kept else {}
    # the score stage labels its facts and reuse as the turn-2 score stage does; these are turn 1's
    ctx.reused[reused:] = [f"first_turn_{x}" for x in ctx.reused[reused:]]
    for v, (score_key, _) in scored.items():
        ctx.facts["first_turn"][f"score[{v}]"] = ctx.facts.pop(f"score[{v}]", {})
        ctx.stage_keys[f"first_turn_score[{v}]"] = score_key
    pools = {e.key: challenged_pool(e, by_key[e.key]["reply"].tolist(),
                                    {v: r[i].tolist() for v, (_, r) in scored.items()})
             for i, e in enumerate(kept)}
    out = []
    for e in examples:
        if e.kind != "are_you_sure":
            out.append(e)
        elif e.key in pools:
            out += pools[e.key]
            if positions is not None and e.key in positions:
                positions.update((p.key, positions[e.key]) for p in pools[e.key])
    return out
