"""The main job: sample -> score (per PM variant) -> judge -> curves.

Each of the first three stages is content-addressed in the shared store (bon/store.py): its key hashes the config
slice that changes its output plus the keys of the stages upstream. So a rerun skips finished work, adding a PM
variant or a metric reuses the samples, and a killed stage resumes from its last finished chunk. The curves stage is
cheap and always recomputed into the run directory, with the per-sample table, curves.csv, differences.csv,
curves.png, a report and (optionally) a W&B run.
"""
from __future__ import annotations

import gc
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from bon import store as st
from bon.chat import Prompt
from bon.config import validate
from bon.data import Example, bundled_dir, load
from bon.estimator import bon_kl, bootstrap_ci, paired_difference
from bon.metrics import make_metric
from bon.metrics.judges import TASK_KIND, make_judge
from bon.scoring import Variant

log = logging.getLogger("bon")


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
def select_examples(cfg, metrics) -> list[Example]:
    """The prompts the metrics need, in file order; max_items keeps the first items of each kind (whole items,
    so framings stay paired)."""
    paths = list(cfg.dataset.paths) or [str(bundled_dir())]
    kinds = set(cfg.dataset.kinds)
    needed = {m.kind for m in metrics if m.kind is not None}
    if any(m.kind is None for m in metrics):  # reward alone: every selected kind
        needed |= kinds
    ds = load(paths, kinds=sorted(kinds & needed))
    if ds.duplicates:
        log.warning("skipped %d repeated (item, template) rows, first at %s", len(ds.duplicates), ds.duplicates[0])
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
    return out


def _prompt(e: Example) -> Prompt:
    return Prompt.of(e.conversation, e.prefill, e.key)


# ---------------------------------------------------------------------------------------------------- sample
def sample_stage(ctx: Context, examples: list[Example]) -> tuple[str, pd.DataFrame]:
    from bon.sampling import make_sampler, resolve_backend

    cfg = ctx.cfg
    backend = resolve_backend(cfg.sampler.backend)
    ctx.facts["sampler_backend"] = backend
    s = cfg.sampler
    spec = {
        "prompts": st.digest([(e.key, e.conversation, e.prefill) for e in examples]),
        "policy": cfg.policy.model, "backend": backend, "m": cfg.m, "seed": cfg.seed,
        "temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": s.max_new_tokens,
        "overlength": s.overlength, "dtype": s.dtype, "max_model_len": s.max_model_len,
    }
    if backend == "vllm" and not _cuda():
        spec["chunk_prompts"] = cfg.chunk_prompts  # engine-seeded on CPU: samples depend on the chunk's batch
    key = st.stage_key("sample", spec)
    holder: dict[str, Any] = {}

    def compute(chunk: list[Example]):
        if "sampler" not in holder:
            log.info("sampling with backend %s (requested %s)", backend, s.backend)
            holder["sampler"] = make_sampler(
                backend, model=cfg.policy.model, temperature=s.temperature, top_p=s.top_p,
                max_new_tokens=s.max_new_tokens, overlength=s.overlength, **_backend_kwargs(backend, s))
        sampler = holder["sampler"]
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
        return pd.DataFrame(rows, columns=["key", "sample", "completion", "reply", "n_tokens", "finish_reason",
                                           "logprob"]), facts

    ctx.check_reuse("sample", key, "sample")
    with _bar("sample", len(examples), cfg.progress) as bar:
        table, facts = ctx.store.run_chunked("sample", key, spec, examples, cfg.chunk_prompts, compute)
    if "sampler" in holder:
        close = getattr(holder["sampler"], "close", None)
        if close:
            close()  # free vLLM's engine before the PM loads in this process
        del holder["sampler"]
        gc.collect()
    ctx.facts["sample"] = facts
    return key, table


def _cuda() -> bool:
    return torch.cuda.is_available()


def _backend_kwargs(backend: str, s) -> dict:
    if backend == "vllm":
        return {"tensor_parallel_size": s.tensor_parallel_size, "gpu_memory_utilization": s.gpu_memory_utilization,
                "dtype": s.dtype, "max_model_len": s.max_model_len}
    return {"prompts_per_batch": s.prompts_per_batch, "device": s.device, "dtype": s.dtype}


def _pools(examples: list[Example], table: pd.DataFrame, m: int
           ) -> tuple[list[Example], list[list[str]], list[list[str]]]:
    """Examples that got their m samples (skipped prompts drop out here, counted in the report), with their
    replies (prefill + completion: what metrics and judges read) and completions (what the PM is given)."""
    by_key = {k: g.sort_values("sample") for k, g in table.groupby("key", sort=False)}
    kept = [e for e in examples if len(by_key.get(e.key, ())) == m]
    return (kept, [by_key[e.key]["reply"].tolist() for e in kept],
            [by_key[e.key]["completion"].tolist() for e in kept])


# ---------------------------------------------------------------------------------------------------- score
def score_stage(ctx: Context, sample_key: str, examples: list[Example], completions: list[list[str]]
                ) -> dict[str, tuple[str, np.ndarray]]:
    """Rewards (P, M) per PM variant; one PM model serves every variant.

    The PM is given each prompt's prefill and the completions: it rates prefill + completion as the reply.
    """
    from bon.scoring import make_pm

    cfg = ctx.cfg
    pm_spec = {"name": cfg.pm.name, "model": cfg.pm.model, "template": cfg.pm.template,
               "max_length": cfg.pm.max_length, "overflow": cfg.pm.overflow, "dtype": cfg.pm.dtype}
    holder: dict[str, Any] = {}
    out = {}
    for vname, vcfg in cfg.variants.items():
        vcfg = vcfg or {}
        variant = Variant(name=vname, prefix=[dict(t) for t in vcfg.get("prefix") or []], system=vcfg.get("system"))
        spec = {"samples": sample_key, "pm": pm_spec, "variant": {"prefix": variant.prefix, "system": variant.system}}
        key = st.stage_key("score", spec)
        idx = {e.key: i for i, e in enumerate(examples)}

        def compute(chunk: list[Example], variant=variant):
            if "pm" not in holder:
                opts = {"template": cfg.pm.template, "max_length": cfg.pm.max_length}
                holder["pm"] = make_pm(cfg.pm.name, model=cfg.pm.model, token_budget=cfg.pm.token_budget,
                                       overflow=cfg.pm.overflow, device=cfg.pm.device, dtype=cfg.pm.dtype,
                                       **{k: v for k, v in opts.items() if v is not None})
            pm = holder["pm"]
            rewards = pm.score_groups([_prompt(e) for e in chunk], [completions[idx[e.key]] for e in chunk],
                                      variant, progress=False)
            bar.update(len(chunk))
            rows = [(e.key, j, float(r)) for e, rs in zip(chunk, rewards) for j, r in enumerate(rs)]
            return pd.DataFrame(rows, columns=["key", "sample", "reward"]), {
                "truncated": int(pm.stats.get("truncated", 0))}

        ctx.check_reuse("score", key, f"score[{vname}]")
        with _bar(f"score[{vname}]", len(examples), cfg.progress) as bar:
            table, facts = ctx.store.run_chunked("score", key, spec, examples, cfg.chunk_prompts, compute)
        out[vname] = (key, _to_matrix(table, examples, cfg.m, "reward"))
        ctx.facts[f"score[{vname}]"] = facts
    holder.clear()
    gc.collect()
    return out


def _to_matrix(table: pd.DataFrame, examples: list[Example], m: int, col: str) -> np.ndarray:
    """Long table (key, sample, col) -> (P, M) array in the order of `examples`."""
    pos = {e.key: i for i, e in enumerate(examples)}
    arr = np.full((len(examples), m), np.nan)
    rows = table[table["key"].isin(pos)]
    arr[rows["key"].map(pos).to_numpy(), rows["sample"].to_numpy()] = rows[col].to_numpy()
    if np.isnan(arr).any():
        raise RuntimeError(f"stage table is missing values for column {col!r}; delete the stage dir to recompute")
    return arr


# ---------------------------------------------------------------------------------------------------- judge
def judge_stage(ctx: Context, sample_key: str, tasks: set[str], examples: list[Example],
                replies: list[list[str]]) -> tuple[dict[str, np.ndarray], Any]:
    """Per-sample judge values (P_kind, M) for each task; independent of the PM, so every variant reuses them.

    Returns the values and the judge model if one had to be loaded (None when every task was reused).
    """
    cfg = ctx.cfg
    holder: dict[str, Any] = {}
    out = {}
    idx = {e.key: i for i, e in enumerate(examples)}
    for task in sorted(tasks):
        exs = [e for e in examples if e.kind == TASK_KIND[task]]
        spec = {"samples": sample_key, "task": task, "judge": {"name": cfg.judge.name, "model": cfg.judge.model,
                                                               "dtype": cfg.judge.dtype}}
        key = st.stage_key("judge", spec)

        def compute(chunk: list[Example], task=task):
            if "judge" not in holder:
                holder["judge"] = make_judge(cfg.judge)
            vals = holder["judge"].judge(task, chunk, [replies[idx[e.key]] for e in chunk])
            bar.update(len(chunk))
            rows = [(e.key, j, float(v)) for e, vs in zip(chunk, vals) for j, v in enumerate(vs)]
            return pd.DataFrame(rows, columns=["key", "sample", "value"]), {}

        ctx.check_reuse("judge", key, f"judge[{task}]")
        with _bar(f"judge[{task}]", len(exs), cfg.progress) as bar:
            table, _ = ctx.store.run_chunked("judge", key, spec, exs, cfg.chunk_prompts, compute)
        out[task] = _to_matrix(table, exs, cfg.m, "value")
        ctx.stage_keys[f"judge[{task}]"] = key
    return out, holder.get("judge")


# ---------------------------------------------------------------------------------------------------- curves
def curves_stage(ctx: Context, metrics, examples, replies, rewards: dict[str, np.ndarray],
                 judged: dict[str, np.ndarray]):
    """Per-item curves per (metric row, variant) -> bootstrap CIs; paired differences between variants."""
    cfg, ns = ctx.cfg, ctx.ns
    kl = bon_kl(np.array(ns))
    alpha = 1 - cfg.ci
    curve_rows, diff_rows, per_item, sample_values = [], [], {}, {}
    for metric in metrics:
        sel = [i for i, e in enumerate(examples) if metric.applies(e)]
        exs = [examples[i] for i in sel]
        if not exs:
            log.warning("metric %s has no prompts of kind %s in the selected data; skipped", metric.name, metric.kind)
            continue
        texts = [replies[i] for i in sel]
        judged_vals = judged.get(metric.judge_task) if metric.judge_task else None
        values = metric.sample_values(exs, texts, judged_vals)
        sample_values[metric.name] = (sel, values)
        for vname, r in rewards.items():
            r_sel = r[sel]
            rows = metric.item_curves(exs, r_sel, r_sel if values is None else values, ns)
            for row, arr in rows.items():
                per_item[(row, vname)] = arr
                mean, lo, hi = bootstrap_ci(arr, n_boot=cfg.n_boot, alpha=alpha, seed=cfg.seed)
                for k, n in enumerate(ns):
                    curve_rows.append({"metric": row, "pm": vname, "n": n, "kl": kl[k], "mean": mean[k],
                                       "ci_low": lo[k], "ci_high": hi[k], "n_items": arr.shape[-1]})
        dropped = getattr(metric, "dropped_items", 0)
        if dropped:
            ctx.facts.setdefault("dropped_items", {})[metric.name] = dropped
    variants = list(rewards)
    rows_names = list(dict.fromkeys(r for r, _ in per_item))  # metric order, first seen first
    for i, a in enumerate(variants):
        for b in variants[i + 1:]:
            for row in rows_names:
                if (row, a) not in per_item or row == "reward":
                    continue  # rewards of different PM variants are on different scales: no paired difference
                mean, lo, hi = paired_difference(per_item[(row, a)], per_item[(row, b)], n_boot=cfg.n_boot,
                                                 alpha=alpha, seed=cfg.seed)
                for k, n in enumerate(ns):
                    diff_rows.append({"metric": row, "pm_a": a, "pm_b": b, "n": n, "kl": kl[k], "mean": mean[k],
                                      "ci_low": lo[k], "ci_high": hi[k], "n_items": per_item[(row, a)].shape[-1]})
    return pd.DataFrame(curve_rows), pd.DataFrame(diff_rows), sample_values


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
    """Run (or resume) the whole job and write every artifact into run_dir. Returns run_dir."""
    from bon import report
    from bon.wandb_log import log_run

    t0 = time.time()
    ns = validate(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg, ns, st.Store(cfg.store), run_dir)
    metrics = [make_metric(name, **_metric_kwargs(name, cfg)) for name in cfg.metrics]
    examples = select_examples(cfg, metrics)
    log.info("%d prompts (%s), m=%d, ns=%s, variants=%s", len(examples),
             ", ".join(f"{k} {sum(e.kind == k for e in examples)}" for k in sorted({e.kind for e in examples})),
             cfg.m, ns, list(cfg.variants))

    t = time.time()
    sample_key, samples = sample_stage(ctx, examples)
    ctx.timings["sample"] = time.time() - t
    examples, replies, completions = _pools(examples, samples, cfg.m)

    t = time.time()
    scored = score_stage(ctx, sample_key, examples, completions)
    ctx.timings["score"] = time.time() - t
    rewards = {v: arr for v, (_, arr) in scored.items()}

    t = time.time()
    tasks = {m.judge_task for m in metrics if m.judge_task}
    judged, judge = judge_stage(ctx, sample_key, tasks, examples, replies) if tasks else ({}, None)
    ctx.timings["judge"] = time.time() - t

    t = time.time()
    curves, diffs, sample_values = curves_stage(ctx, metrics, examples, replies, rewards, judged)
    picks = example_picks(ctx, metrics, examples, replies, rewards, sample_values)
    check = _pairwise_check(ctx, judge, examples, replies, judged)
    per_sample = _per_sample_table(examples, samples, rewards, sample_values, judged)
    st.write_parquet(run_dir / "samples.parquet", per_sample)
    st.write_parquet(run_dir / "examples.parquet", picks)
    st.write_text(run_dir / "curves.csv", curves.to_csv(index=False))
    st.write_text(run_dir / "differences.csv", diffs.to_csv(index=False))
    report.plot_curves(curves, run_dir / "curves.png", title=_title(cfg))
    ctx.timings["curves"] = time.time() - t

    facts = dict(ctx.facts)
    if check:
        facts["pairwise_check"] = check
    summary = {
        "stages": {"sample": sample_key, **{f"score[{v}]": k for v, (k, _) in scored.items()}, **ctx.stage_keys},
        "reused": ctx.reused, "n_prompts": len(examples), "m": cfg.m, "ns": ns, "facts": facts,
        "timings_s": {k: round(v, 2) for k, v in ctx.timings.items()}, "store": str(ctx.store.root),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    st.write_json(run_dir / "run.json", summary)
    paired = report.format_differences(diffs) if len(diffs) else "(one PM variant: nothing to compare)"
    text = "\n\n".join([report.format_table(curves), "paired differences (a - b):\n" + paired,
                        _facts_text(facts, ctx.timings, time.time() - t0)])
    st.write_text(run_dir / "report.txt", text + "\n")
    print(text, flush=True)
    wb = log_run(run_dir, curves, diffs, picks, summary["config"], mode=cfg.wandb.mode, project=cfg.wandb.project,
                 entity=cfg.wandb.entity, group=cfg.wandb.group or wandb_group, name=run_dir.name,
                 job_type="bon", tags=list(cfg.wandb.tags))
    if wb:
        print(f"wandb ({cfg.wandb.mode}): {wb}")
    return run_dir


def _metric_kwargs(name: str, cfg) -> dict:
    if name == "answer_sycophancy":
        return {"grading": cfg.judge.answer_grading}
    if name == "feedback_sycophancy":
        return {"datasets": list(cfg.dataset.feedback_datasets) or None}
    return {}


def _pairwise_check(ctx: Context, judge, examples, replies, judged) -> dict | None:
    """Agreement of the scalar positivity judge with a pairwise judge on a sampled subset of comment pairs."""
    n_pairs = ctx.cfg.judge.pairwise_check
    if not n_pairs or "positivity" not in judged:
        return None
    fb = [i for i, e in enumerate(examples) if e.kind == "feedback"]
    if not fb:
        return None
    judge = judge or make_judge(ctx.cfg.judge)  # judge values were all reused: load the judge for the check only
    return judge.pairwise_check([examples[i] for i in fb], [replies[i] for i in fb], judged["positivity"], n_pairs,
                                seed=ctx.cfg.seed)


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
    lines.append(f"  prompts skipped for length: {len(s.get('skipped_overlength', []))}, "
                 f"truncated: {s.get('truncated_overlength', 0)}")
    for k, v in facts.items():
        if k.startswith("score[") and v.get("truncated"):
            lines.append(f"  {k}: {v['truncated']} PM inputs truncated to the PM's context")
    if facts.get("dropped_items"):
        lines.append(f"  items dropped for missing framings: {facts['dropped_items']}")
    if facts.get("pairwise_check"):
        lines.append(f"  pairwise positivity check: {facts['pairwise_check']}")
    lines.append("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + f", total {total:.1f}s")
    return "\n".join(lines)
