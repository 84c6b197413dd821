"""What every sampler shares: the :class:`Completion` record, per-prompt seeds, argument checks, overlength policy.

A sampler draws ``m`` completions per :class:`bon.chat.Prompt` from a policy. Both backends (``hf``, ``vllm``) take
the same constructor knobs (``model``, ``temperature``, ``top_p``, ``max_new_tokens``, ``overlength``) and expose::

    sampler.sample(prompts, m, seed, progress=True) -> list[list[Completion]]   # same order as prompts
    sampler.stats -> {"skipped_overlength": int, "truncated_overlength": int}
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Literal

from bon.registry import Registry

SAMPLERS = Registry("sampler", "bon.sampling")
log = logging.getLogger("bon")

OVERLENGTH = ("skip", "truncate")


@dataclass(frozen=True)
class Completion:
    text: str  # the continuation only: never includes the prompt or its prefill, nor the stop token
    n_tokens: int  # generated tokens, counting the stop token when there is one (as vLLM counts them)
    finish_reason: Literal["stop", "length"]  # "stop": ended on a stop token; "length": hit max_new_tokens
    logprob: float | None = None  # sum of log p(token) under the policy's raw (untempered, unfiltered) distribution


def prompt_seed(seed: int, key: str) -> int:
    """A stable 63-bit seed for one prompt, so its samples depend on (seed, key) and not on batch or shard.

    Uses blake2b rather than Python's ``hash()``, which is salted per process.

    Args:
        seed: the run seed.
        key: the prompt's stable key (``Prompt.key``).
    Returns:
        An int in ``[0, 2**63)``.
    """
    digest = hashlib.blake2b(f"{int(seed)}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def check_params(temperature: float, top_p: float, max_new_tokens: int, overlength: str) -> None:
    """Raise ValueError naming the field, the allowed range and the value received."""
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not (isinstance(max_new_tokens, int) and max_new_tokens >= 1):
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if overlength not in OVERLENGTH:
        raise ValueError(f"overlength must be one of {OVERLENGTH}, got {overlength!r}")


def check_sample_args(prompts, m: int, seed: int) -> None:
    """Validate the arguments of ``sample`` at the edge: clear errors instead of deep backend tracebacks."""
    if not (isinstance(m, int) and m >= 1):
        raise ValueError(f"m (completions per prompt) must be an int >= 1, got {m!r}")
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    keys = [p.key for p in prompts]
    if any(not k for k in keys):
        raise ValueError("every Prompt needs a non-empty key: per-prompt seeds are derived from it")
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"Prompt keys must be unique within one sample() call; {dup!r} repeats")


def new_stats() -> dict[str, int]:
    return {"skipped_overlength": 0, "truncated_overlength": 0}


def prompt_limit(context: int, max_new_tokens: int) -> int:
    """Most prompt tokens that still leave room for ``max_new_tokens``; raises when there is no room at all."""
    if context - max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for a prompt in a {context}-token context; "
                         "lower max_new_tokens or raise max_model_len")
    return context - max_new_tokens


def fit_prompt(ids: list[int], key: str, limit: int, overlength: str, stats: dict[str, int]) -> list[int] | None:
    """Apply the overlength policy to one tokenized prompt.

    Args:
        ids: prompt token ids (chat template and prefill included).
        key: the prompt key, for the warning.
        limit: most prompt tokens allowed (model context minus max_new_tokens).
        overlength: "skip" (return None) or "truncate" (keep the last ``limit`` tokens: the end of the prompt,
            where the question and the prefill sit, matters most to the answer).
        stats: counters updated in place.
    Returns:
        The ids to feed the model, or None when the prompt is skipped.
    """
    if len(ids) <= limit:
        return ids
    if overlength == "skip":
        stats["skipped_overlength"] += 1
        log.warning("prompt %s: %d tokens > %d allowed (context - max_new_tokens); skipped (overlength=skip)",
                    key, len(ids), limit)
        return None
    stats["truncated_overlength"] += 1
    log.warning("prompt %s: %d tokens > %d allowed (context - max_new_tokens); kept the last %d (overlength=truncate)",
                key, len(ids), limit, limit)
    return ids[-limit:]
