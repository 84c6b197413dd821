"""The score stage: the PM's reward of every sample, once per PM variant (a prefix or system prompt); one PM model
serves every variant. Its key hashes the samples' key, the PM's identity (bon/keys.py) and the variant."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bon import keys
from bon.data import Example
from bon.scoring import Variant
from bon.scoring.engine import counts as engine_counts, counts_since
from bon.stages.base import Stage, lazy, models, to_matrix
from bon.stages.sample import prompt_of

if TYPE_CHECKING:
    from bon.stages.context import Context

# 2: a prefill is rated once, not twice. 3: chunk records and DONE carry hashes; facts count truncations per variant.
STAGE = Stage("score", 3, ("key", "sample", "reward"))

def run(ctx: Context) -> None:
    scored = score_stage(ctx, ctx.stage_keys["sample"], ctx.examples, ctx.completions)
    ctx.rewards = {v: rewards for v, (_, rewards) in scored.items()}
    ctx.stage_keys.update({f"score[{v}]": key for v, (key, _) in scored.items()})


def score_stage(ctx: Context, sample_key: str, examples: list[Example], completions: list[list[str]]
                ) -> dict[str, tuple[str, np.ndarray]]:
    """variant -> (store key, (P, M) rewards), in config order.

    The PM is given each prompt's prefill and the completions: it rates prefill + completion as the reply.
    """
    cfg = ctx.cfg
    idx = {e.key: i for i, e in enumerate(examples)}
    out = {}
    with models() as held:  # the next stage's model loads into the memory this one held
        for vname, variant in variants_of(cfg).items():
            spec = {"samples": sample_key, "pm": pm_spec(cfg), "variant": {"prefix": variant.prefix,
                                                                           "system": variant.system}}

            def compute(chunk: list[Example], variant=variant):
                pm = lazy(held, "pm", lambda: load_pm(cfg))
                before = engine_counts(pm)
                rewards = pm.score_groups([prompt_of(e) for e in chunk], [completions[idx[e.key]] for e in chunk],
                                          variant, progress=False)
                rows = [(e.key, j, float(r)) for e, rs in zip(chunk, rewards) for j, r in enumerate(rs)]
                return pd.DataFrame(rows, columns=list(STAGE.columns)), counts_since(pm, before)

            key, table, facts = STAGE.run(ctx, f"score[{vname}]", spec, examples, compute)
            out[vname] = key, to_matrix(table, examples, cfg.m, "reward")
            ctx.facts[f"score[{vname}]"] = facts
    return out


def variants_of(cfg) -> dict[str, Variant]:
    """The configured PM variants, in config order."""
    return {name: Variant(name=name, prefix=[dict(t) for t in (v or {}).get("prefix") or []],
                          system=(v or {}).get("system")) for name, v in cfg.variants.items()}


def pm_spec(cfg) -> dict:
    """What identifies the PM in stage keys (one PM model serves every variant): what its plugin says
    (bon.keys.pm_identity: resolved device/dtype, model fingerprint, prompt texts in code, a backend other than hf)."""
    return keys.pm_identity(cfg)


def load_pm(cfg):
    """Build the configured PM on its backend, as check_judge does (bon.scoring.pm_from_config)."""
    from bon.scoring import pm_from_config

    return pm_from_config(cfg.pm)
