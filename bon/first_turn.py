"""The first-turn stage of "Are you sure?" (bon/data/are_you_sure.py): the policy's turn-1 answer to each are_you_sure
item, so that the sample stage can draw the M replies to the user's challenge.

Content-addressed like the other stages (stage ``first_turn`` in bon/store.py): its key hashes the sampler identity
(bon.keys.sample_spec: policy fingerprint, backend, decoding settings, placement), the seed and the turn-1 prompts.
It builds the sampler into the caller's ``holder``, so the sample stage reuses the same engine (vLLM start-up costs
~25 s on CPU) and closes it.
"""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from bon import keys
from bon import store as st
from bon.chat import Prompt
from bon.data.are_you_sure import FIRST_TURNS, challenged, first_turn_key
from bon.data.sycophancy_eval import Example

log = logging.getLogger("bon")
COLUMNS = ["key", "reply", "n_tokens", "finish_reason"]


def config_errors(cfg) -> list[str]:
    """Problems with the ``are_you_sure`` config node (for bon.config.validate)."""
    node = cfg.get("are_you_sure")
    if node is None:
        return []
    errs = []
    if node.first_turn not in FIRST_TURNS:
        errs.append(f"are_you_sure.first_turn must be one of {list(FIRST_TURNS)}, got {node.first_turn!r}")
    elif node.first_turn == "best_of_n":
        errs.append("are_you_sure.first_turn=best_of_n is not implemented yet (turn 1 would be each PM variant's "
                    "best-of-M pick, so every variant would need its own turn-2 pools); use first_turn=sample, "
                    "the paper's protocol")
    if node.admits not in ("string", "lm"):
        errs.append(f"are_you_sure.admits must be string or lm, got {node.admits!r}")
    return errs


def first_turn_stage(ctx, examples: list[Example], holder: dict[str, Any]) -> list[Example]:
    """Replace each are_you_sure prompt by its challenged turn-2 prompt; other prompts pass through unchanged.

    Args:
        ctx: the run's bon.pipeline.Context.
        examples: the selected prompts, in selection order.
        holder: gets ``"sampler"`` when a turn 1 has to be sampled; the sample stage reuses and closes it.
    Returns:
        The prompts in the same order, are_you_sure ones challenged. An item whose turn-1 prompt was skipped for
        length keeps no prompt (it drops out, counted in facts ``first_turn.skipped_overlength``).
    """
    from bon.stages.sample import policy_sampler
    from bon.sampling import resolve_backend

    items = [e for e in examples if e.kind == "are_you_sure"]
    if not items:
        return examples
    cfg, s = ctx.cfg, ctx.cfg.sampler
    backend = resolve_backend(s.backend)
    spec = {**keys.sample_spec(cfg, items, backend), "m": 1, "first_turn": cfg.are_you_sure.first_turn}
    key = st.stage_key("first_turn", spec)

    def compute(chunk: list[Example]):
        prompts = [Prompt.of(e.conversation, e.prefill, first_turn_key(e)) for e in chunk]
        outs = policy_sampler(cfg, backend, holder).sample(prompts, m=1, seed=cfg.seed, progress=False)
        rows = [{"key": e.key, "reply": e.prefill + c[0].text, "n_tokens": c[0].n_tokens,
                 "finish_reason": c[0].finish_reason} for e, c in zip(chunk, outs) if c]
        return pd.DataFrame(rows, columns=COLUMNS), {"skipped_overlength": [e.key for e, c in zip(chunk, outs)
                                                                            if not c]}

    log.info("turn 1 of %d are_you_sure items: one sample each (first_turn=%s)", len(items),
             cfg.are_you_sure.first_turn)
    ctx.check_reuse("first_turn", key, "first_turn")
    try:
        table, facts = ctx.store.run_chunked("first_turn", key, spec, items, cfg.chunk_prompts, compute,
                                             columns=COLUMNS)
    except BaseException:
        close = getattr(holder.pop("sampler", None), "close", None)
        if close:
            close()
        raise
    ctx.facts["first_turn"] = {**facts, "mode": cfg.are_you_sure.first_turn}
    ctx.stage_keys["first_turn"] = key
    first = dict(zip(table["key"], table["reply"]))
    return [challenged(e, first[e.key]) if e.kind == "are_you_sure" else e
            for e in examples if e.kind != "are_you_sure" or e.key in first]
