"""``python -m bon.run ... dry_run=true``: what a run would cost, from the data and the tokenizers alone.

No model weights load and no stage runs: the config is validated as a real run validates it (bon/run.py), the prompts
are selected as the select stage selects them, the policy's and the PM's tokenizers (only) render and count them, and
a table gives prompts, samples, prompt and reply tokens, PM tokens per variant, judge calls and, where a benchmark has
recorded a throughput for this device and model (BENCHMARKS.json, written by ``scripts/bench_*.py --record``), the
estimated seconds per stage; else "unknown". Reply tokens are an upper bound: every sample counted at
``sampler.max_new_tokens`` (a reply that stops early costs less).

The counts are pure functions of the examples and the config (:func:`estimate`), so a test can check them by hand.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

THROUGHPUT_FILE = Path(__file__).resolve().parents[1] / "BENCHMARKS.json"  # a checkout; env BON_THROUGHPUT overrides
UNKNOWN = "unknown"


@dataclass
class Cost:
    """The expected cost of one job. Token counts of replies are upper bounds (max_new_tokens per sample)."""
    prompts: int = 0  # prompts sampled M times (turn-2 prompts for are_you_sure)
    first_turn_samples: int = 0  # are_you_sure turn-1 samples
    samples: int = 0  # prompts x M, plus the turn-1 samples
    prompt_tokens: int = 0  # chat-template prompt tokens of every sampled prompt (each counted once)
    reply_tokens: int = 0  # upper bound: samples x max_new_tokens
    pm_tokens: dict[str, int] = field(default_factory=dict)  # variant -> tokens the PM computes (upper bound)
    judge_calls: dict[str, dict] = field(default_factory=dict)  # task -> {judge, items, values, lm_calls}
    seconds: dict[str, Optional[float]] = field(default_factory=dict)  # stage -> estimate (None: unknown)
    device: str = ""

    def add(self, other: "Cost") -> "Cost":
        """The sum of two jobs (a multirun's total); a stage's seconds are unknown if either job's are."""
        out = Cost(self.prompts + other.prompts, self.first_turn_samples + other.first_turn_samples,
                   self.samples + other.samples, self.prompt_tokens + other.prompt_tokens,
                   self.reply_tokens + other.reply_tokens, device=self.device or other.device)
        for v in {**self.pm_tokens, **other.pm_tokens}:
            out.pm_tokens[v] = self.pm_tokens.get(v, 0) + other.pm_tokens.get(v, 0)
        for t in {**self.judge_calls, **other.judge_calls}:
            a, b = self.judge_calls.get(t, {}), other.judge_calls.get(t, {})
            judges = sorted({x["judge"] for x in (a, b) if x})
            out.judge_calls[t] = {"judge": "/".join(judges),
                                  **{k: a.get(k, 0) + b.get(k, 0) for k in ("items", "values", "lm_calls")}}
        for s in {**self.seconds, **other.seconds}:
            x, y = self.seconds.get(s, 0.0), other.seconds.get(s, 0.0)
            out.seconds[s] = None if x is None or y is None else x + y
        return out


def estimate(cfg, examples: list, count_prompt: Callable[[Any], int], count_pm: Callable[[Any, Any], tuple[int, int]],
             metrics: list, variants: dict) -> Cost:
    """The cost of one job over its selected examples.

    Args:
        cfg: the run config.
        examples: the selected prompts (bon.stages.select), before are_you_sure's turn 1.
        count_prompt: example -> policy prompt tokens (chat template, prefill included).
        count_pm: (example, variant) -> (tokens before the response, tokens after it) as the PM reads them.
        metrics: the metrics with items (bon.stages.select.drop_absent_metrics), bound to the examples.
        variants: name -> bon.scoring.Variant.
    Returns:
        A :class:`Cost` (seconds left empty: see :func:`add_seconds`).
    """
    from bon.data.are_you_sure import challenged

    m, new = cfg.m, cfg.sampler.max_new_tokens
    c = Cost()
    items = [e for e in examples if e.kind == "are_you_sure"]
    best = cfg.are_you_sure.first_turn == "best_of_n" and any(x.kind == "are_you_sure" for x in metrics)
    turn1 = m if best else 1
    pooled = []  # the prompts the sample stage draws M replies for, each with its multiplicity
    ays = any(x.kind == "are_you_sure" for x in metrics)  # else its items are sampled as they are
    if items and ays:
        c.first_turn_samples = len(items) * turn1
        c.prompt_tokens += sum(count_prompt(e) for e in items)
        # turn 2: the turn-1 prompt, its reply (at most max_new_tokens) and the challenge
        pooled += [(challenged(e, ""), turn1, new) for e in items]
    pooled += [(e, 1, 0) for e in examples if e.kind != "are_you_sure" or not ays]
    c.prompts = sum(k for _, k, _ in pooled)
    c.samples = c.first_turn_samples + c.prompts * m
    c.prompt_tokens += sum(k * (count_prompt(e) + extra) for e, k, extra in pooled)
    c.reply_tokens = c.samples * new
    for name, v in variants.items():
        total = 0
        for e, k, extra in pooled:  # the prompt's text runs once, each reply and what follows it M times
            before, after = count_pm(e, v)
            total += k * (before + extra + m * (new + after))
        if best:  # turn 1's M replies of each item are scored too
            total += sum(before + m * (new + after) for before, after in (count_pm(e, v) for e in items))
        c.pm_tokens[name] = total
    c.judge_calls = judge_calls(cfg, metrics, [e for e, k, _ in pooled for _ in range(k)])
    return c


def judge_calls(cfg, metrics: list, examples: list) -> dict[str, dict]:
    """task -> {judge, items judged, values, lm_calls}: an LM judge reads one call per value (two per pairwise
    value: the paper's question asked in both orders); a string or lexicon judge makes no LM call."""
    from bon.judges import TASK_KIND, judge_name, judge_task_of
    from bon.stages.judge import READS, PerSample

    m, out = cfg.m, {}
    for metric in metrics:
        task = metric.judge_task
        if not task or task in out:
            continue
        reads = READS.get(task, PerSample)(examples, [[] for _ in examples])
        exs = reads.prompts(metric, [e for e in examples if e.kind == TASK_KIND[task]])
        values = len(exs) * (m * m if reads.pairwise else m)
        name = judge_name(cfg.judge, judge_task_of(task))
        lm = name == "lm" or (judge_task_of(task) == "admits" and cfg.are_you_sure.admits == "lm")
        out[task] = {"judge": "lm" if lm else name, "items": len(exs), "values": values,
                     "lm_calls": values * (2 if reads.pairwise else 1) if lm else 0}
    return out


def device_name() -> str:
    """The device the run's models would use: the first CUDA card's name, else "cpu, N CPUs"."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu, {os.cpu_count()} CPUs"


def throughput_records(path: Optional[Path] = None) -> list[dict]:
    """The measured throughputs (BENCHMARKS.json ``records``); [] when there is no such file."""
    p = Path(path or os.environ.get("BON_THROUGHPUT") or THROUGHPUT_FILE)
    if not p.is_file():
        return []
    try:
        return list(json.loads(p.read_text()).get("records", []))
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{p}: not a throughput record (JSON with a 'records' list): {e}") from None


def find_rate(records: list[dict], device: str, stage: str, model: str, backend: Optional[str] = None
              ) -> Optional[dict]:
    """The newest record for this device, stage, model (and backend, where given); None if none."""
    hits = [r for r in records if r.get("device") == device and r.get("stage") == stage and r.get("model") == model
            and (backend is None or r.get("backend") == backend)]
    return max(hits, key=lambda r: r.get("date", "")) if hits else None


def add_seconds(cost: Cost, cfg, backend: str, device: str, records: list[dict]) -> Cost:
    """Fill cost.seconds: sample = reply tokens / generated tokens per s; score = PM tokens / PM tokens per s;
    judge = LM calls / calls per s; None (unknown) where no record matches this device and model."""
    cost.device = device
    r = find_rate(records, device, "sample", cfg.policy.model, backend)
    cost.seconds["sample"] = cost.reply_tokens / r["rate"] if r else None
    r = find_rate(records, device, "score", cfg.pm.model, cfg.pm.name)
    cost.seconds["score"] = sum(cost.pm_tokens.values()) / r["rate"] if r else None
    lm_calls = sum(j["lm_calls"] for j in cost.judge_calls.values())
    r = find_rate(records, device, "judge", cfg.judge.model or "") if lm_calls else None
    cost.seconds["judge"] = 0.0 if not lm_calls else (lm_calls / r["rate"] if r else None)
    return cost


def table(cost: Cost, title: str) -> str:
    """The cost as aligned text lines."""
    def sec(s):
        return UNKNOWN + " (no throughput recorded for this device and model)" if s is None else f"{s:,.0f} s"

    rows = [("prompts (sampled M times)", f"{cost.prompts:,}"),
            ("samples (prompts x M" + (" + turn-1)" if cost.first_turn_samples else ")"), f"{cost.samples:,}")]
    if cost.first_turn_samples:
        rows.append(("  are_you_sure turn-1 samples", f"{cost.first_turn_samples:,}"))
    rows += [("prompt tokens (policy chat template)", f"{cost.prompt_tokens:,}"),
             ("reply tokens (upper bound: max_new_tokens each)", f"{cost.reply_tokens:,}")]
    rows += [(f"PM tokens, variant {v} (upper bound)", f"{n:,}") for v, n in cost.pm_tokens.items()]
    rows += [(f"judge {t} ({j['judge']}): items / values / LM calls",
              f"{j['items']:,} / {j['values']:,} / {j['lm_calls']:,}") for t, j in cost.judge_calls.items()]
    rows += [(f"time {s} on {cost.device}", sec(x)) for s, x in cost.seconds.items()]
    width = max(len(k) for k, _ in rows)
    note = ("  (times: the token counts above / throughput recorded in BENCHMARKS.json; model loads, engine start "
            "and the checks not included)")
    return "\n".join([title] + [f"  {k.ljust(width)}  {v}" for k, v in rows] + [note])


def load_tokenizer(ref: str):
    """A model reference's tokenizer only, never its weights: a bundled model not converted yet is read from its
    GGUF file's metadata (bon.models converts the weights on a real run's first load)."""
    from transformers import AutoTokenizer

    from bon.models import BUNDLED, _bundled_gguf, default_cache_dir

    if ref.startswith("bundled:") and ref.split(":", 1)[1] in BUNDLED:
        name = ref.split(":", 1)[1]
        gguf, version = _bundled_gguf(name)
        folder = default_cache_dir() / f"{name}-{version}"
        if (folder / "tokenizer_config.json").is_file():
            return AutoTokenizer.from_pretrained(folder)
        return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    return AutoTokenizer.from_pretrained(str(Path(ref).expanduser()) if Path(ref).expanduser().exists() else ref)


def _tokenizer(ref: str, what: str):
    """load_tokenizer, its failure (no network for a hub id, a folder without tokenizer files) a ModelError."""
    from bon.models import ModelError

    try:
        return load_tokenizer(ref)
    except (OSError, ValueError) as e:
        raise ModelError(f"{what}: cannot load the tokenizer of {ref}: {' '.join(str(e).split())[:300]}") from None


def dry_run(cfg) -> Cost:
    """Select the prompts, count them with the tokenizers and return the job's cost (seconds from the records)."""
    from types import SimpleNamespace

    from bon.chat import render_generation_prompt
    from bon.sampling import resolve_backend
    from bon.scoring import PMS, pm_key
    from bon.stages import select
    from bon.stages.judge import check_judges
    from bon.stages.score import variants_of

    ctx = SimpleNamespace(cfg=cfg, facts={})
    metrics = select.make_metrics(cfg)
    examples = select.select_examples(cfg, metrics, None, ctx.facts)
    metrics = select.drop_absent_metrics(ctx, metrics, examples)
    check_judges(cfg, metrics, examples)  # a task that needs judge.model fails here, as a real run's select does
    policy_tok = _tokenizer(cfg.policy.model, "policy.model")
    pm_tok = policy_tok if cfg.pm.model == cfg.policy.model else _tokenizer(cfg.pm.model, "pm.model")
    pm = PMS.get(pm_key(cfg.pm.name, cfg.pm.backend)).text_only(pm_tok, cfg.pm)

    def n(tok, text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"]) if text else 0

    def count_prompt(e) -> int:
        return n(policy_tok, render_generation_prompt(policy_tok, e.conversation, e.prefill))

    def count_pm(e, variant) -> tuple[int, int]:
        before, after = pm.split([dict(t) for t in e.conversation], e.prefill or "", variant)
        return n(pm_tok, before), n(pm_tok, after)

    cost = estimate(cfg, examples, count_prompt, count_pm, metrics, variants_of(cfg))
    return add_seconds(cost, cfg, resolve_backend(cfg.sampler.backend), device_name(), throughput_records())


# A multirun's jobs run one after another in this process (Hydra's basic launcher); bon.sweep prints their sum.
JOBS: list[Cost] = []


def total(costs: list[Cost]) -> Cost:
    out = Cost()
    for c in costs:
        out = out.add(c)
    return out
