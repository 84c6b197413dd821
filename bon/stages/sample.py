"""The sample stage: M completions per prompt from the policy (bon/sampling/), one table row per completion.

Its key (bon/keys.py sample_spec) hashes the prompts, the policy's fingerprint, the backend that really samples and
the decoding settings, so the PM variants and metrics that come after reuse one set of samples.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bon import keys
from bon import store as st
from bon.chat import Prompt
from bon.data import Example
from bon.stages.base import Stage, lazy, models

if TYPE_CHECKING:
    from bon.stages.context import Context

log = logging.getLogger("bon")
# 3: chunk records and DONE carry hashes, and vLLM draws with one seed per request in batched calls on CPU too, no
# longer torch's global RNG per call (new samples on CPU).
STAGE = Stage("sample", 3, ("key", "sample", "completion", "reply", "n_tokens", "finish_reason", "logprob"))
# The sampler config fields each backend takes, beside the model and the decoding settings every backend takes.
BACKEND_OPTIONS = {
    "vllm": ("tensor_parallel_size", "gpu_memory_utilization", "dtype", "max_model_len"),
    "hf": ("prompts_per_batch", "device", "dtype", "max_model_len"),
}


def run(ctx: Context) -> None:
    """Sample the selected prompts; keep those that got their M samples (skipped prompts are counted in facts)."""
    ctx.stage_keys["sample"], ctx.samples = sample_stage(ctx, ctx.examples, ctx.held)
    ctx.examples, ctx.replies, ctx.completions = pools(ctx.examples, ctx.samples, ctx.cfg.m)


def sample_stage(ctx: Context, examples: list[Example], holder: dict[str, Any] | None = None
                 ) -> tuple[str, pd.DataFrame]:
    """The stage's key and table (STAGE.columns) for ``examples``.

    Args:
        holder: may already hold the sampler (are_you_sure's first-turn stage built it); closed here either way.
    """
    from bon.sampling import resolve_backend

    cfg = ctx.cfg
    backend = resolve_backend(cfg.sampler.backend)
    ctx.facts["sampler_backend"] = backend
    spec = keys.sample_spec(cfg, examples, backend)  # resolved device/dtype, model fingerprint (bon/keys.py)

    def compute(chunk: list[Example]):
        sampler = policy_sampler(cfg, backend, held)
        before = dict(sampler.stats)
        outs = sampler.sample([prompt_of(e) for e in chunk], m=cfg.m, seed=cfg.seed, progress=False)
        rows = [{"key": e.key, "sample": j, "completion": c.text, "reply": e.prefill + c.text,
                 "n_tokens": c.n_tokens, "finish_reason": c.finish_reason,
                 "logprob": np.nan if c.logprob is None else c.logprob}
                for e, comps in zip(chunk, outs) for j, c in enumerate(comps)]
        facts = {"skipped_overlength": [e.key for e, comps in zip(chunk, outs) if not comps],
                 "truncated_overlength": sampler.stats.get("truncated_overlength", 0)
                 - before.get("truncated_overlength", 0)}
        return pd.DataFrame(rows, columns=list(STAGE.columns)), facts

    with models(holder) as held:  # the sampler is closed before the PM loads in this process, also on error
        key, table, facts = STAGE.run(ctx, "sample", spec, examples, compute)
    ctx.facts["sample"] = facts
    return key, table


def policy_sampler(cfg, backend: str, holder: dict[str, Any]):
    """The run's sampler, built on first use and kept in ``holder``; are_you_sure's first-turn stage and the sample
    stage share it (one engine start), and sample_stage closes it."""
    from bon.sampling import make_sampler

    def build():
        s = cfg.sampler
        log.info("sampling with backend %s (requested %s)", backend, s.backend)
        return make_sampler(backend, model=cfg.policy.model, temperature=s.temperature, top_p=s.top_p,
                            max_new_tokens=s.max_new_tokens, overlength=s.overlength,
                            **backend_kwargs(backend, s))

    return lazy(holder, "sampler", build)


def backend_kwargs(backend: str, s) -> dict:
    """The backend's own constructor arguments, from the sampler config node ``s``."""
    return {name: s[name] for name in BACKEND_OPTIONS[backend]}


def prompt_of(e: Example) -> Prompt:
    return Prompt.of(e.conversation, e.prefill, e.key)


def pools(examples: list[Example], table: pd.DataFrame, m: int
          ) -> tuple[list[Example], list[list[str]], list[list[str]]]:
    """Examples that got their m samples (skipped prompts drop out here, counted in the report), with their
    replies (prefill + completion: what metrics and judges read) and completions (what the PM is given)."""
    by_key = {k: g.sort_values("sample") for k, g in table.groupby("key", sort=False)}
    kept = [e for e in examples if len(by_key.get(e.key, ())) == m]
    return (kept, [by_key[e.key]["reply"].tolist() for e in kept],
            [by_key[e.key]["completion"].tolist() for e in kept])
