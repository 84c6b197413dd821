"""What each stage's store key covers: every input that changes the stage's output, and nothing else.

A spec is hashed with the stage's name and version by :func:`bon.store.stage_key`. It holds, per stage:
- the config values that change outputs, with ``auto`` device and dtype resolved to what actually runs (a CPU fp32
  run and a GPU bf16 run must never share artifacts);
- a fingerprint of each model folder (:func:`bon.models.fingerprint`: config, tokenizer and chat template by
  content, weights by name, size and mtime), so weights replaced in place are not reused as if unchanged;
- the prompt texts and word lists written in code (the prompted-PM wrapper, its yes/no words, the LM judge's
  questions) and the lexicon judge's identity, so editing one recomputes what it feeds.
What a plugin adds is the plugin's to say: each sampler backend, PM and judge class has ``store_identity`` (its
placement, texts, word lists) and may have a ``version`` (:func:`versioned`), and this file only asks it, by registry
key; it never branches on a name.
Numerics-only knobs (``token_budget``, ``prompts_per_batch``, ``chunk_prompts``, ``gpu_memory_utilization``) are left
out: they change batching, not the numbers' meaning. That holds for ``chunk_prompts`` with vLLM too: each request
carries its own seed from (seed, key), so a prompt's samples do not depend on its call (bon/sampling/vllm.py).
"""
from __future__ import annotations

from bon import store as st
from bon.models import model_identity
from bon.scoring.engine import torch_placement


def versioned(plugin, spec: dict) -> dict:
    """A plugin's identity with its own version: ``plugin.version`` (default 1), bumped in the plugin's file when a
    change there moves its numbers, re-keys only the stages that plugin feeds (the stage versions in store.py re-key
    every plugin's). Version 1 adds nothing, so the keys made before plugins had versions stay valid."""
    version = getattr(plugin, "version", 1)
    return spec if version == 1 else {**spec, "version": version}


def sample_spec(cfg, examples, backend: str) -> dict:
    """What the sample stage's key hashes: the prompts, the policy, the decoding settings and the backend's own
    identity (its resolved placement). backend: a registered sampler (``auto`` already resolved)."""
    from bon.sampling import SAMPLERS

    s = cfg.sampler
    sampler = SAMPLERS.get(backend)
    spec = {
        "prompts": st.digest([(e.key, e.conversation, e.prefill) for e in examples]),
        "policy": model_identity(cfg.policy.model), "backend": backend, "m": cfg.m, "seed": cfg.seed,
        "temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_new_tokens,
        "overlength": s.overlength, "max_model_len": s.max_model_len,
        **versioned(sampler, sampler.store_identity(s, cfg.policy.model)),
    }
    return spec


def pm_identity(cfg) -> dict:
    """What identifies the PM in score and check keys (one PM model serves every variant): its name and what its
    class says (:meth:`bon.scoring.base.PreferenceModel.store_identity`)."""
    from bon.scoring import PMS, pm_key

    p = cfg.pm
    cls = PMS.get(pm_key(p.name, p.backend))
    return {"name": p.name, **versioned(cls, cls.store_identity(p))}


def judge_identity(jcfg, task: str) -> dict:
    """The instrument of a judge task: the name of the judge configured for it and what that judge's class says
    (``store_identity``: for an LM judge its model, placement and question texts; for the lexicon judge its
    package version and word lists)."""
    from bon.judges import JUDGES, judge_name, judge_task_of

    name = judge_name(jcfg, judge_task_of(task))
    cls = JUDGES.get(name)
    return {"name": name, **versioned(cls, cls.store_identity(jcfg, task))}
