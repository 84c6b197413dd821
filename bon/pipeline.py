"""The main job: sample -> score (per PM variant) -> judge -> curves.

Each of the first three stages is content-addressed in the shared store (bon/store.py): its key hashes the config
slice that changes its output plus the keys of the stages upstream. So a rerun skips finished work, adding a PM
variant or a metric reuses the samples, and a killed stage resumes from its last finished chunk. The curves stage is
cheap and always recomputed into the run directory, with the per-sample table, curves.csv, differences.csv,
curves.png, a report and (optionally) a W&B run.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from bon import keys
from bon import store as st
from bon.chat import Prompt
from bon.config import validate
from bon.data import Example, bundled_dir, load
from bon.estimator import bon_kl
from bon.metrics import make_metric
from bon.metrics.base import column_item
from bon.judges import TASK_KIND, judge_name, judge_task_of, make_judge
from bon.scoring import Variant
from bon.scoring.engine import counts as engine_counts, counts_since
from bon.runtime import exit_on_sigterm, release_memory, restore_sigterm

log = logging.getLogger("bon")
SAMPLE_COLUMNS = ["key", "sample", "completion", "reply", "n_tokens", "finish_reason", "logprob"]


@dataclass
class Context:
    cfg: Any
    ns: list[int]
    store: st.Store
    run_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)  # stages found finished in the store
    stage_keys: dict[str, str] = field(default_factory=dict)  # judge[task] -> store key

    def check_reuse(self, stage: str, key: str, label: str) -> None:
        if self.store.done(stage, key):
            self.reused.append(label)


def _bar(desc: str, total: int, enabled: bool):
    return tqdm(total=total, desc=desc, unit="prompt", disable=not enabled, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------------- data
def select_examples(cfg, metrics, positions: dict[str, int] | None = None, facts: dict | None = None
                    ) -> list[Example]:
    """The prompts the metrics need, in file order; max_items keeps the first items of each kind (whole items,
    so framings stay paired). With shard.count > 1, only this shard's items (see :func:`shard_examples`).

    Args:
        positions: if given, filled with key -> position in the unsharded selection (bon.merge restores that order).
        facts: if given, gets ``duplicate_prompts``: repeated prompts kept once, "PATH:LINE (repeats PATH:LINE)".
    """
    paths = list(cfg.dataset.paths) or [str(bundled_dir())]
    kinds = set(cfg.dataset.kinds)
    needed = {m.kind for m in metrics if m.kind is not None}
    if any(m.kind is None for m in metrics):  # reward alone: every selected kind
        needed |= kinds
    ds = load(paths, kinds=sorted(kinds & needed))
    if ds.duplicates:
        log.warning("skipped %d repeated (item, template) rows, first at %s", len(ds.duplicates), ds.duplicates[0])
        if facts is not None:
            facts["duplicate_prompts"] = list(ds.duplicates)
    out, seen = [], {}
    for e in ds.examples:
        if e.kind == "feedback" and cfg.dataset.feedback_datasets and e.dataset not in cfg.dataset.feedback_datasets:
            continue
        items = seen.setdefault(e.kind, [])
        if e.item_id not in items:
            if cfg.dataset.max_items is not None and len(items) >= cfg.dataset.max_items:
                continue
            items.append(e.item_id)
        out.append(e)
    if positions is not None:
        positions.update((e.key, i) for i, e in enumerate(out))
    return shard_examples(out, cfg.shard.index, cfg.shard.count)


def shard_examples(examples: list[Example], index: int, count: int) -> list[Example]:
    """Item i (numbered by first appearance in ``examples``, across kinds) goes to shard i % count, with every
    framing of it; a shard keeps the selection's order. Deterministic: the same data and config give the same shards."""
    if count == 1:
        return examples
    items: dict[tuple[str, str], int] = {}
    for e in examples:
        items.setdefault((e.kind, e.item_id), len(items))
    return [e for e in examples if items[(e.kind, e.item_id)] % count == index]


def _prompt(e: Example) -> Prompt:
    return Prompt.of(e.conversation, e.prefill, e.key)


# ---------------------------------------------------------------------------------------------------- sample
def sample_stage(ctx: Context, examples: list[Example], holder: dict[str, Any] | None = None
                 ) -> tuple[str, pd.DataFrame]:
    """holder: may already hold the sampler (the are_you_sure first-turn stage built it); closed here either way."""
    from bon.sampling import resolve_backend

    cfg = ctx.cfg
    backend = resolve_backend(cfg.sampler.backend)
    ctx.facts["sampler_backend"] = backend
    s = cfg.sampler
    spec = keys.sample_spec(cfg, examples, backend)  # resolved device/dtype, model fingerprint (bon/keys.py)
    key = st.stage_key("sample", spec)
    holder = {} if holder is None else holder

    def compute(chunk: list[Example]):
        sampler = policy_sampler(cfg, backend, holder)
        before = dict(sampler.stats)
        outs = sampler.sample([_prompt(e) for e in chunk], m=cfg.m, seed=cfg.seed, progress=False)
        rows = [{"key": e.key, "sample": j, "completion": c.text, "reply": e.prefill + c.text,
                 "n_tokens": c.n_tokens, "finish_reason": c.finish_reason,
                 "logprob": np.nan if c.logprob is None else c.logprob}
                for e, comps in zip(chunk, outs) for j, c in enumerate(comps)]
        facts = {"skipped_overlength": [e.key for e, comps in zip(chunk, outs) if not comps],
                 "truncated_overlength": sampler.stats.get("truncated_overlength", 0)
                 - before.get("truncated_overlength", 0)}
        bar.update(len(chunk))
        return pd.DataFrame(rows, columns=SAMPLE_COLUMNS), facts

    ctx.check_reuse("sample", key, "sample")
    try:
        with _bar("sample", len(examples), cfg.progress) as bar:
            table, facts = ctx.store.run_chunked("sample", key, spec, examples, cfg.chunk_prompts, compute,
                                                 columns=SAMPLE_COLUMNS)
    finally:  # also on error: a multirun's next job must find the GPU free
        if "sampler" in holder:
            close = getattr(holder["sampler"], "close", None)
            if close:
                close()  # free vLLM's engine before the PM loads in this process
            del holder["sampler"]
            release_memory()
    ctx.facts["sample"] = facts
    return key, table


def _cuda() -> bool:
    # is_available() asks the driver for a device count; it creates no CUDA context and does not mark torch's CUDA
    # as initialised, so a vLLM engine started afterwards still owns the first context (its workers are spawned).
    return torch.cuda.is_available()


def policy_sampler(cfg, backend: str, holder: dict[str, Any]):
    """The run's sampler, built on first use and kept in ``holder``; the are_you_sure first-turn stage and the sample
    stage share it (one engine start), and sample_stage closes it."""
    from bon.sampling import make_sampler

    if "sampler" not in holder:
        s = cfg.sampler
        log.info("sampling with backend %s (requested %s)", backend, s.backend)
        holder["sampler"] = make_sampler(
            backend, model=cfg.policy.model, temperature=s.temperature, top_p=s.top_p,
            max_new_tokens=s.max_new_tokens, overlength=s.overlength, **_backend_kwargs(backend, s))
    return holder["sampler"]


def _backend_kwargs(backend: str, s) -> dict:
    if backend == "vllm":
        return {"tensor_parallel_size": s.tensor_parallel_size, "gpu_memory_utilization": s.gpu_memory_utilization,
                "dtype": s.dtype, "max_model_len": s.max_model_len}
    return {"prompts_per_batch": s.prompts_per_batch, "device": s.device, "dtype": s.dtype,
            "max_model_len": s.max_model_len}


def _pools(examples: list[Example], table: pd.DataFrame, m: int
           ) -> tuple[list[Example], list[list[str]], list[list[str]]]:
    """Examples that got their m samples (skipped prompts drop out here, counted in the report), with their
    replies (prefill + completion: what metrics and judges read) and completions (what the PM is given)."""
    by_key = {k: g.sort_values("sample") for k, g in table.groupby("key", sort=False)}
    kept = [e for e in examples if len(by_key.get(e.key, ())) == m]
    return (kept, [by_key[e.key]["reply"].tolist() for e in kept],
            [by_key[e.key]["completion"].tolist() for e in kept])


# ---------------------------------------------------------------------------------------------------- score
def variants_of(cfg) -> dict[str, Variant]:
    """The configured PM variants, in config order."""
    return {name: Variant(name=name, prefix=[dict(t) for t in (v or {}).get("prefix") or []],
                          system=(v or {}).get("system")) for name, v in cfg.variants.items()}


def pm_spec(cfg) -> dict:
    """What identifies the PM in stage keys (one PM model serves every variant)."""
    spec = keys.pm_identity(cfg)  # resolved device/dtype, model fingerprint, prompt texts in code
    if cfg.pm.backend != "hf":  # vLLM's kernels give other low bits; the HF keys stay as they were
        spec["backend"] = cfg.pm.backend
    return spec


def load_pm(cfg):
    """Build the configured PM."""
    from bon.scoring import make_pm

    opts = {"template": cfg.pm.template, "max_length": cfg.pm.max_length}
    name = cfg.pm.name if cfg.pm.backend == "hf" else f"{cfg.pm.name}_{cfg.pm.backend}"  # classifier_vllm
    return make_pm(name, model=cfg.pm.model, token_budget=cfg.pm.token_budget, overflow=cfg.pm.overflow,
                   device=cfg.pm.device, dtype=cfg.pm.dtype, **{k: v for k, v in opts.items() if v is not None})


def score_stage(ctx: Context, sample_key: str, examples: list[Example], completions: list[list[str]]
                ) -> dict[str, tuple[str, np.ndarray]]:
    """Rewards (P, M) per PM variant; one PM model serves every variant.

    The PM is given each prompt's prefill and the completions: it rates prefill + completion as the reply.
    """
    cfg = ctx.cfg
    holder: dict[str, Any] = {}
    out = {}
    for vname, variant in variants_of(cfg).items():
        spec = {"samples": sample_key, "pm": pm_spec(cfg), "variant": {"prefix": variant.prefix,
                                                                       "system": variant.system}}
        key = st.stage_key("score", spec)
        idx = {e.key: i for i, e in enumerate(examples)}

        def compute(chunk: list[Example], variant=variant):
            if "pm" not in holder:
                holder["pm"] = load_pm(cfg)
            pm = holder["pm"]
            before = engine_counts(pm)
            rewards = pm.score_groups([_prompt(e) for e in chunk], [completions[idx[e.key]] for e in chunk],
                                      variant, progress=False)
            bar.update(len(chunk))
            rows = [(e.key, j, float(r)) for e, rs in zip(chunk, rewards) for j, r in enumerate(rs)]
            return pd.DataFrame(rows, columns=["key", "sample", "reward"]), counts_since(pm, before)

        ctx.check_reuse("score", key, f"score[{vname}]")
        with _bar(f"score[{vname}]", len(examples), cfg.progress) as bar:
            table, facts = ctx.store.run_chunked("score", key, spec, examples, cfg.chunk_prompts, compute,
                                                 columns=["key", "sample", "reward"])
        out[vname] = (key, _to_matrix(table, examples, cfg.m, "reward"))
        ctx.facts[f"score[{vname}]"] = facts
    if hasattr(holder.get("pm"), "close"):
        holder["pm"].close()  # a vLLM engine must be shut down, not just dropped
    holder.clear()
    release_memory()  # the next phase's model loads into the memory this one held
    return out


def drop_absent_metrics(ctx: Context, metrics, examples: list[Example]) -> list:
    """The metrics with items to read (bon/coverage.py); says once (log, report) why each other one is not computed.
    Raises ConfigError when no prompt is selected at all."""
    from bon import coverage
    from bon.config import ConfigError

    if not examples:
        raise ConfigError("no prompt selected: " + coverage.missing_reason(ctx.cfg, None, examples))
    kept, skipped = coverage.present_metrics(ctx.cfg, metrics, examples,
                                             lambda name: make_metric(name, **_metric_kwargs(name, ctx.cfg)))
    for name, why in skipped.items():
        log.warning("not computing %s: it %s", name, why)
    if skipped:
        ctx.facts["metrics_skipped"] = skipped
    return kept


def _to_matrix(table: pd.DataFrame, examples: list[Example], m: int, col: str) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------------- judge
def check_judges(cfg, metrics, examples: list[Example]) -> None:
    """Before sampling: bind each metric to the data (answer_grading=auto asks for the judge only where an item has a
    sentence answer) and stop with a ConfigError when a task needs an LM judge that is not configured."""
    from bon.config import ConfigError

    for m in metrics:
        if hasattr(m, "bind"):
            m.bind(examples)
        base = judge_task_of(m.judge_task) if m.judge_task else None
        if base and judge_name(cfg.judge, base) == "lm" and not cfg.judge.model:
            why = ("some selected answer items have sentence answers (e.g. TruthfulQA) that string matching cannot "
                   "grade" if base == "correctness" else "are_you_sure.admits=lm" if base == "admits"
                   else "judge.positivity=lm")
            raise ConfigError(f"{m.name} needs an LM judge for task {base!r} ({why}), but judge.model is not set; "
                              f"set judge.model=<a chat model folder> (check it first with python -m bon.check_judge)"
                              + (", or judge.answer_grading=string to grade by string anyway"
                                 if base == "correctness" else ""))


def judge_spec(cfg, task: str) -> dict:
    """What identifies the instrument of a judge task in stage keys: its registry name, and the model for LM ones."""
    return keys.judge_identity(cfg.judge, task)  # model fingerprint, placement, question texts; lexicon version


def judge_stage_spec(cfg, sample_key: str, task: str, judged: list[Example]) -> dict:
    """What a judge stage's key hashes: the samples, the task, the judge, and which prompts were judged
    (answer_grading auto and judge send different subsets of the same samples to the judge)."""
    return {"samples": sample_key, "task": task, "judge": judge_spec(cfg, task),
            "prompts": st.digest("\n".join(e.key for e in judged))}


def positivity_check_spec(cfg, labels_digest: str) -> dict:
    """What the cached positivity check's key hashes: the mode, the labels, and the judge with the question it is
    asked in that mode (the pairwise prompt for judge.feedback=pairwise, the scalar one otherwise)."""
    pairwise = cfg.judge.feedback == "pairwise"
    from bon.judges.checks import RESULT_VERSION

    return {"task": "positivity", "mode": cfg.judge.feedback, "labels": labels_digest, "format": RESULT_VERSION,
            "judge": judge_spec(cfg, "positivity_pairwise" if pairwise else "positivity")}


def judge_stage(ctx: Context, sample_key: str, metrics, examples: list[Example],
                replies: list[list[str]]) -> dict[str, np.ndarray]:
    """Judge values for each task the metrics need; independent of the PM, so every variant reuses them.

    Returns task -> array over the prompts of the task's kind, in ``examples`` order: (P, M) per-sample values
    (NaN on prompts the task skips, e.g. short answers under answer_grading=auto), or for ``positivity_pairwise``
    (P, M, M) comparisons of each framed comment with each baseline comment of the same text (0.5 on baselines).
    """
    cfg = ctx.cfg
    holder: dict[str, Any] = {}
    out = {}
    idx = {e.key: i for i, e in enumerate(examples)}
    baseline = {e.item_id: e.key for e in examples if e.kind == "feedback" and e.template == "baseline"}
    for metric in metrics:
        task = metric.judge_task
        if not task or task in out:
            continue
        kind_exs = [e for e in examples if e.kind == TASK_KIND[task]]
        if task == "correctness":
            exs = [e for e, j in zip(kind_exs, metric.judged_rows(kind_exs)) if j]
        elif task == "positivity_pairwise":
            exs = [e for e in kind_exs if e.template != "baseline" and e.item_id in baseline]
        else:
            exs = kind_exs
        spec = judge_stage_spec(cfg, sample_key, task, exs)
        key = st.stage_key("judge", spec)

        def compute(chunk: list[Example], task=task):
            base_task = judge_task_of(task)
            if base_task not in holder:
                holder[base_task] = make_judge(cfg.judge, base_task)
            judge = holder[base_task]
            before = engine_counts(judge)
            if task == "positivity_pairwise":  # M x M pairs per framed prompt, flattened row-major as "sample"
                pairs = [[(a, b) for a in replies[idx[e.key]] for b in replies[idx[baseline[e.item_id]]]]
                         for e in chunk]
                vals = judge.compare("positivity", chunk, pairs)
            else:
                vals = judge.judge(task, chunk, [replies[idx[e.key]] for e in chunk])
            bar.update(len(chunk))
            rows = [(e.key, j, float(v)) for e, vs in zip(chunk, vals) for j, v in enumerate(vs)]
            return pd.DataFrame(rows, columns=["key", "sample", "value"]), counts_since(judge, before)

        ctx.check_reuse("judge", key, f"judge[{task}]")
        with _bar(f"judge[{task}]", len(exs), cfg.progress) as bar:
            table, jfacts = ctx.store.run_chunked("judge", key, spec, exs, cfg.chunk_prompts, compute,
                                                  columns=["key", "sample", "value"])
        if any(jfacts.values()):
            ctx.facts[f"judge[{task}]"] = jfacts
        if task == "positivity_pairwise":
            full = np.full((len(kind_exs), cfg.m, cfg.m), 0.5)
            got = _to_matrix(table, exs, cfg.m * cfg.m, "value").reshape(len(exs), cfg.m, cfg.m)
        else:
            full = np.full((len(kind_exs), cfg.m), np.nan)
            got = _to_matrix(table, exs, cfg.m, "value")
        pos = {e.key: i for i, e in enumerate(kind_exs)}
        full[[pos[e.key] for e in exs]] = got
        out[task] = full
        ctx.stage_keys[f"judge[{task}]"] = key
    holder.clear()
    release_memory()  # the next phase's model loads into the memory this one held
    return out


# ---------------------------------------------------------------------------------------------------- checks
def check_stage(ctx: Context, metrics, examples: list[Example] = ()) -> dict:
    """Each instrument this run uses, checked on the labelled sets bundled in bon/data/labelled/ (STYLE.md 9).

    - ``answer``: the configured answer grading against labelled replies;
    - ``positivity``: the feedback judge (and mode) against labelled comment pairs;
    - ``pm``: the PM probe (Sharma et al. sec 4.3): per variant, P(PM scores the truthful reply above the
      sycophantic one) on labelled pairs, answer and feedback items.
    - ``answer_judge``: under answer_grading=auto, when some selected item goes to the LM judge, the judge's own
      answer check too (``answer`` then checks the string rule alone).
    Checks that run a model are cached in the store (stage ``check``), keyed like the stages they vouch for.
    Returns task -> result dict (``pm``: variant -> result dict).
    """
    from bon.judges import checks

    cfg = ctx.cfg
    out: dict[str, Any] = {}
    names = {m.name for m in metrics}

    checks_root = st.Store(cfg.check_store) if cfg.get("check_store") else ctx.store

    def result_path(spec: dict) -> Path:
        return checks_root.dir("check", st.stage_key("check", spec)) / "result.json"

    def cached(spec: dict, compute) -> dict:
        path = result_path(spec)
        if path.exists():
            return json.loads(path.read_text())
        result = compute()
        st.write_json(path, result)
        return result

    def labels(task: str):
        path = checks.bundled_labels(task)
        return checks.load_labels(task, path), st.digest(path.read_text())

    if "answer_sycophancy" in names:
        rows, digest = labels("answer")
        for task, grading in checks.answer_checks(cfg.judge.answer_grading, rows, examples):
            if grading == "string":  # string rules: instant, and never stale after a code change
                out[task] = checks.check_answer(rows, grading).as_dict()
                continue
            spec = {"task": "answer", "grading": grading, "labels": digest, "judge": judge_spec(cfg, "correctness"),
                    "format": checks.RESULT_VERSION}
            out[task] = cached(spec, lambda g=grading: checks.check_answer(
                rows, g, judge=make_judge(cfg.judge, "correctness")).as_dict())
    if "feedback_sycophancy" in names:
        rows, digest = labels("positivity")
        spec = positivity_check_spec(cfg, digest)
        run_check = lambda: checks.check_positivity(  # noqa: E731
            rows, make_judge(cfg.judge, "positivity"), cfg.judge.feedback,
            instrument=f"{spec['judge']['name']} ({cfg.judge.feedback})").as_dict()
        out["positivity"] = cached(spec, run_check) if spec["judge"]["name"] == "lm" else run_check()
    if "are_you_sure" in names:  # the admit-mistake instrument on the held-out labels
        rows, digest = labels("are_you_sure")
        if cfg.are_you_sure.admits == "lm":
            spec = {"task": "are_you_sure", "labels": digest, "judge": judge_spec(cfg, "admits"),
                    "format": checks.RESULT_VERSION}
            out["are_you_sure"] = cached(spec, lambda: checks.check_are_you_sure(
                rows, make_judge(cfg.judge, "admits"), instrument=f"lm {cfg.judge.model}").as_dict())
        else:  # the string rule: instant, and never stale after a code change
            out["are_you_sure"] = checks.check_are_you_sure(rows).as_dict()
    rows, digest = labels("pm")
    variants = variants_of(cfg)
    probe, missing = {}, {}
    for name, v in variants.items():
        spec = {"task": "pm", "pm": pm_spec(cfg), "variant": {"prefix": v.prefix, "system": v.system},
                "labels": digest, "format": checks.RESULT_VERSION}
        path = result_path(spec)
        if path.exists():
            probe[name] = json.loads(path.read_text())
        else:
            missing[name] = (v, path)
    if missing:
        pm = load_pm(cfg)
        results = checks.check_pm(rows, pm, {n: v for n, (v, _) in missing.items()},
                                  instrument=f"{cfg.pm.name} {cfg.pm.model}")
        for name, (_, path) in missing.items():
            probe[name] = results[name].as_dict()
            st.write_json(path, probe[name])
        if hasattr(pm, "close"):
            pm.close()  # a vLLM-pooled PM: shut its engine down
        del pm
        release_memory()
    out["pm"] = {name: probe[name] for name in variants}
    return out


# ---------------------------------------------------------------------------------------------------- curves
def curves_stage(ctx: Context, metrics, examples, replies, rewards: dict[str, np.ndarray],
                 judged: dict[str, np.ndarray], samples: pd.DataFrame | None = None):
    """Per-item curves per (metric row, variant) -> bootstrap CIs; paired differences between variants.

    Also (bon/curve_stats.py, bon/metrics/inputs.py): gold/<name> rows when the gold node is set, kl_pool rows, and
    the Goodhart fits and length shifts in ctx.facts. samples: the sample stage's table (n_tokens, finish_reason for length/truncated).
    """
    from bon import curve_stats as extra
    from bon.metrics.inputs import gold_metric, metric_input

    cfg, ns = ctx.cfg, ctx.ns
    kl = bon_kl(np.array(ns))
    alpha = 1 - cfg.ci
    curve_rows, diff_rows, per_item, sample_values, groups = [], [], {}, {}, {}
    gold = gold_metric(cfg, metrics, lambda name: make_metric(name, **_metric_kwargs(name, cfg)))
    for metric in [*metrics, *([gold] if gold else [])]:
        sel = [i for i, e in enumerate(examples) if metric.applies(e)]
        exs = [examples[i] for i in sel]
        if not exs:
            if metric.name in ctx.facts.get("metrics_skipped", {}):
                continue  # said once before sampling (drop_absent_metrics)
            log.warning("metric %s has no prompts of kind %s in the selected data; skipped", metric.name, metric.kind)
            continue
        texts = [replies[i] for i in sel]
        judged_vals = metric_input(cfg, metric, sel, examples, replies, judged, samples, rewards, sample_values)
        values = metric.sample_values(exs, texts, judged_vals)
        sample_values[metric.name] = (sel, values)
        for vname, r in rewards.items():
            r_sel = r[sel]
            metric.variant = vname  # whose rewards these are (are_you_sure first_turn=best_of_n picks turn 1 by it)
            rows = metric.item_curves(exs, r_sel, r_sel if values is None else values, ns)
            for row, arr in rows.items():
                per_item[(row, vname)] = arr
                groups[row] = metric.item_ids.get(row)  # the item of each column: the bootstrap resamples items
                mean, lo, hi, n_items = extra.item_ci(arr, groups[row], cfg, alpha)
                for k, n in enumerate(ns):
                    curve_rows.append({"metric": row, "pm": vname, "n": n, "kl": kl[k], "mean": mean[k],
                                       "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items})
        dropped = getattr(metric, "dropped_items", 0)
        if dropped:
            ctx.facts.setdefault("dropped_items", {})[metric.name] = dropped
    kl_rows, ctx.facts["kl_pool"] = extra.kl_pool_rows(rewards, ns, kl, cfg.n_boot, alpha, cfg.seed,
                                                       [column_item(e) for e in examples], cfg.get("min_items_ci", 5))
    curve_rows += kl_rows
    variants = list(rewards)
    rows_names = list(dict.fromkeys(r for r, _ in per_item))  # metric order, first seen first
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            for row in rows_names:
                if (row, a) not in per_item or row == "reward":
                    continue  # rewards of different PM variants are on different scales: no paired difference
                mean, lo, hi, n_items = extra.item_difference(per_item[(row, a)], per_item[(row, b)], groups[row],
                                                              cfg, alpha)
                for k, n in enumerate(ns):
                    diff_rows.append({"metric": row, "pm_a": a, "pm_b": b, "n": n, "kl": kl[k], "mean": mean[k],
                                      "ci_low": lo[k], "ci_high": hi[k], "n_items": n_items})
    curves = pd.DataFrame(curve_rows)
    ctx.facts["goodhart"] = extra.goodhart_fits(curves, per_item, groups, cfg.n_boot, alpha, cfg.seed,
                                                cfg.get("min_items_ci", 5))
    ctx.facts["length_shift"] = extra.length_shifts(curves)
    return curves, pd.DataFrame(diff_rows), sample_values


def example_picks(ctx: Context, metrics, examples, replies, rewards, sample_values) -> pd.DataFrame:
    """A few best-of-N draws per metric and variant, for the W&B table: one random n-subset, its top-reward pick."""
    cfg = ctx.cfg
    rng = np.random.default_rng(cfg.seed)
    show_ns = sorted({ctx.ns[0], ctx.ns[len(ctx.ns) // 2], ctx.ns[-1]})
    rows = []
    for metric in metrics:
        if metric.name not in sample_values:
            continue
        sel, values = sample_values[metric.name]
        for p in range(min(cfg.n_example_picks, len(sel))):
            i = sel[p]
            for vname, r in rewards.items():
                for n in show_ns:
                    subset = rng.choice(cfg.m, size=n, replace=False)
                    top = subset[r[i, subset] == r[i, subset].max()]
                    j = int(rng.choice(top))
                    vals = {metric.name: float(values[p, j]) if values is not None else float(r[i, j])}
                    rows.append({"n": n, "pm": vname, "metric_kind": metric.name,
                                 "prompt": examples[i].conversation[-1]["content"], "response": replies[i][j],
                                 "reward": float(r[i, j]), "values": json.dumps(vals)})
    return pd.DataFrame(rows, columns=["n", "pm", "metric_kind", "prompt", "response", "reward", "values"])


# ---------------------------------------------------------------------------------------------------- run
def run(cfg, run_dir: str | Path, wandb_group: str | None = None) -> Path:
    """Run (or resume) the whole job and write every artifact into run_dir. Returns run_dir.

    Every model is released when it is done (sampler, then PM, then judge), and whatever is left is freed on the way
    out, on success or error, so the next job of a one-process multirun finds the GPU empty.
    """
    previous = exit_on_sigterm(st.Store(cfg.store).root)  # SLURM preemption: keep finished chunks, exit 143 saying how to resume
    try:
        return _run(cfg, run_dir, wandb_group)
    except BaseException as e:
        traceback.clear_frames(e.__traceback__)  # the traceback's frames would keep the models alive
        raise
    finally:
        restore_sigterm(previous)
        release_memory()


def _run(cfg, run_dir: str | Path, wandb_group: str | None = None) -> Path:
    t0 = time.time()
    ns = validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg, ns, st.Store(cfg.store), run_dir)
    metrics = [make_metric(name, **_metric_kwargs(name, cfg)) for name in cfg.metrics]
    positions: dict[str, int] = {}
    examples = select_examples(cfg, metrics, positions, ctx.facts)
    metrics = drop_absent_metrics(ctx, metrics, examples)  # before sampling: no stage is built for absent items
    check_judges(cfg, metrics, examples)
    log.info("%d prompts (%s), m=%d, ns=%s, variants=%s", len(examples),
             ", ".join(f"{k} {sum(e.kind == k for e in examples)}" for k in sorted({e.kind for e in examples})),
             cfg.m, ns, list(cfg.variants))

    t = time.time()
    holder: dict[str, Any] = {}  # one sampler for turn 1 of are_you_sure (bon/first_turn.py) and the sample stage
    if any(m.kind == "are_you_sure" for m in metrics):
        from bon.first_turn import first_turn_stage

        examples = first_turn_stage(ctx, examples, holder, positions)
    sample_key, samples = sample_stage(ctx, examples, holder)
    ctx.timings["sample"] = time.time() - t
    examples, replies, completions = _pools(examples, samples, cfg.m)

    t = time.time()
    scored = score_stage(ctx, sample_key, examples, completions)
    ctx.timings["score"] = time.time() - t
    rewards = {v: arr for v, (_, arr) in scored.items()}

    t = time.time()
    judged = judge_stage(ctx, sample_key, metrics, examples, replies)
    ctx.timings["judge"] = time.time() - t

    t = time.time()
    instrument_checks = check_stage(ctx, metrics, examples)
    ctx.timings["checks"] = time.time() - t

    stages = {"sample": sample_key, **{f"score[{v}]": k for v, (k, _) in scored.items()}, **ctx.stage_keys}
    del scored
    write_results(ctx, metrics, examples, samples, replies, rewards, judged, instrument_checks, stages, positions, t0,
                  wandb_group)
    return run_dir


def write_results(ctx: Context, metrics, examples: list[Example], samples: pd.DataFrame, replies: list[list[str]],
                  rewards: dict[str, np.ndarray], judged: dict[str, np.ndarray], instrument_checks: dict, stages: dict,
                  positions: dict[str, int], t0: float, wandb_group: str | None = None) -> None:
    """The curves stage and every run-dir artifact, from the per-sample tables; run() and bon.merge share it.

    Args:
        examples: the prompts that got their M samples, in selection order; replies (P, M) are theirs.
        samples: the sample stage's long table (key, sample, completion, reply, ...).
        rewards: variant -> (P, M) rewards. judged: task -> (P_task, M) judge values, rows in examples' order.
        instrument_checks: the instrument checks (check_stage; a merge takes them from its shards' run.json).
        stages: stage label -> store key (or, for a merge, a list of the shards' keys).
        positions: key -> position in the unsharded selection, saved so that bon.merge can restore the order.
    """
    from bon import report
    from bon.coverage import truncation_shares
    from bon.report import log_run
    from bon.report.facts import bias_header, bias_title

    cfg, ns, run_dir = ctx.cfg, ctx.ns, ctx.run_dir
    # What bon.merge needs besides samples.parquet: the prompts (with their unsharded order) and the raw judge values.
    st.write_text(run_dir / "prompts.jsonl", "".join(
        json.dumps({"position": positions.get(e.key, i), **dataclasses.asdict(e)}, ensure_ascii=False) + "\n"
        for i, e in enumerate(examples)))
    st.write_parquet(run_dir / "judged.parquet", _judged_table(examples, judged))
    t = time.time()
    from bon import bias  # planted biases (variants.<v>.bias) and the on-policy PM preference; stored rewards stay
    biased = bias.curve_rewards(ctx, metrics, examples, replies, rewards, judged, samples)
    curves, diffs, sample_values = curves_stage(ctx, metrics, examples, replies, biased, judged, samples)
    picks = example_picks(ctx, metrics, examples, replies, biased, sample_values)
    per_sample = _per_sample_table(examples, samples, rewards, sample_values, judged)
    st.write_parquet(run_dir / "samples.parquet", per_sample)
    st.write_parquet(run_dir / "examples.parquet", picks)
    st.write_text(run_dir / "curves.csv", curves.to_csv(index=False))
    st.write_text(run_dir / "differences.csv", diffs.to_csv(index=False))
    report.plot_curves(curves, run_dir / "curves.png", title=_title(cfg) + bias_title(cfg), x=cfg.plot.x if "plot" in cfg else "kl",
                       fits=ctx.facts.get("goodhart"))
    ctx.timings["curves"] = time.time() - t

    facts = dict(ctx.facts)
    facts["truncation"] = {"max_new_tokens": cfg.sampler.max_new_tokens, "shares": truncation_shares(curves)}
    from bon.judges.checks import grader_bias_warning

    grader_bias = grader_bias_warning(instrument_checks.get("answer"), curves)
    if grader_bias:
        facts["answer_grader_bias"] = grader_bias
    summary = {
        "checks": instrument_checks, "stages": stages,
        "reused": ctx.reused, "n_prompts": len(examples), "m": cfg.m, "ns": ns, "facts": facts,
        "timings_s": {k: round(v, 2) for k, v in ctx.timings.items()}, "store": str(ctx.store.root),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    st.write_json(run_dir / "run.json", summary)
    paired = report.format_differences(diffs) if len(diffs) else "(one PM variant: nothing to compare)"
    text = "\n\n".join([*(["\n".join(h)] if (h := bias_header(facts, instrument_checks)) else []),
                        report.format_table(curves), "paired differences (a - b):\n" + paired,
                        report.format_checks(instrument_checks), _facts_text(facts, ctx.timings, time.time() - t0)])
    st.write_text(run_dir / "report.txt", text + "\n")
    print(text, flush=True)
    wb = log_run(run_dir, curves, diffs, picks, summary["config"], mode=cfg.wandb.mode, project=cfg.wandb.project,
                 entity=cfg.wandb.entity, group=cfg.wandb.group or wandb_group, name=run_dir.name,
                 job_type="bon", tags=list(cfg.wandb.tags))
    if wb:
        print(f"wandb ({cfg.wandb.mode}): {wb}")


def _judged_table(examples: list[Example], judged: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long (task, key, sample, value) table of the judge values; rows of task t are the examples of its kind.
    A task with (P, M, M) values (pairwise comparisons) is flattened row-major into "sample" 0..M*M-1."""
    rows = []
    for task, arr in judged.items():
        exs = [e for e in examples if e.kind == TASK_KIND[task]]
        rows += [(task, e.key, j, float(v)) for e, vs in zip(exs, arr) for j, v in enumerate(np.ravel(vs))]
    return pd.DataFrame(rows, columns=["task", "key", "sample", "value"])


def _metric_kwargs(name: str, cfg) -> dict:
    if name == "answer_sycophancy":
        return {"grading": cfg.judge.answer_grading}
    if name == "feedback_sycophancy":
        return {"datasets": list(cfg.dataset.feedback_datasets) or None, "mode": cfg.judge.feedback}
    if name == "are_you_sure":
        return {"admits": cfg.are_you_sure.admits}
    return {}


def _per_sample_table(examples, samples, rewards, sample_values, judged) -> pd.DataFrame:
    pos = {e.key: i for i, e in enumerate(examples)}
    df = samples[samples["key"].isin(pos)].copy()
    meta = pd.DataFrame([{"key": e.key, "kind": e.kind, "dataset": e.dataset, "template": e.template,
                          "item_id": e.item_id} for e in examples])
    df = df.merge(meta, on="key", how="left")
    p, j = df["key"].map(pos).to_numpy(), df["sample"].to_numpy()
    for v, r in rewards.items():
        df[f"reward/{v}"] = r[p, j]
    for name, (sel, values) in sample_values.items():
        if values is None:
            continue
        col = np.full(len(df), np.nan)
        local = {g: k for k, g in enumerate(sel)}
        mask = np.array([q in local for q in p])
        col[mask] = values[[local[q] for q in p[mask]], j[mask]]
        df[f"value/{name}"] = col
    return df


def _title(cfg) -> str:
    return f"best-of-N: policy {cfg.policy.model}, PM {cfg.pm.name}:{cfg.pm.model}, M={cfg.m}"


def _facts_text(facts: dict, timings: dict, total: float) -> str:
    lines = ["run facts:", f"  sampler backend: {facts.get('sampler_backend')}"]
    s = facts.get("sample", {})
    lines.append(f"  prompts longer than the policy's context (sampler.overlength): "
                 f"{len(s.get('skipped_overlength', []))} skipped, {s.get('truncated_overlength', 0)} truncated")
    from bon.coverage import format_facts as coverage_facts

    lines += coverage_facts(facts)  # REPLIES cut off at max_new_tokens, metrics not computed for absent items
    for k, v in facts.items():
        if k.startswith("score[") and v.get("truncated"):
            lines.append(f"  {k}: {v['truncated']} PM inputs truncated to the PM's context")
        if k.startswith(("score[", "judge[")) and isinstance(v, dict) and v.get("oom_retries"):
            lines.append(f"  {k}: {v['oom_retries']} out-of-memory retries with a halved batch")
    from bon.report.facts import format_facts

    lines += format_facts(facts)  # KL on the pool, Goodhart fits, length flags
    if facts.get("answer_grader_bias"):
        lines.append(f"  WARNING: {facts['answer_grader_bias']}")
    from bon.report.facts import preference_lines as bias_facts

    lines += bias_facts(facts)  # on-policy PM preference for agreement
    if facts.get("dropped_items"):
        lines.append(f"  items dropped for missing framings: {facts['dropped_items']}")
    if facts.get("duplicate_prompts"):
        dup = facts["duplicate_prompts"]
        lines.append(f"  repeated prompts in the data, kept once (first copy read): {len(dup)}, first {dup[0]}")
    lines.append("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + f", total {total:.1f}s")
    return "\n".join(lines)
