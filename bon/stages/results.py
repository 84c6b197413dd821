"""The results step: the curves stage (bon/stages/curves.py) on the per-sample tables, and every run-dir artifact:
prompts.jsonl and judged.parquet (what bon.merge reads), samples.parquet, examples.parquet, curves.csv,
differences.csv, curves.png, run.json, report.txt, report.html and the W&B run. A run and bon.merge both end here."""
from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from bon import store as st
from bon.stages.curves import curves_stage, example_picks
from bon.stages.judge import judged_table
from bon.stages.selection import write_outputs

if TYPE_CHECKING:
    from bon.stages.context import Context


def run(ctx: Context) -> None:
    """Write every artifact from the run's state (ctx: examples, samples, replies, rewards, judged, checks)."""
    from bon import bias, report
    from bon.coverage import truncation_shares
    from bon.report import log_run
    from bon.report.facts import bias_header, bias_title
    from bon.report.text import format_gate

    cfg, ns, run_dir = ctx.cfg, ctx.ns, ctx.run_dir
    metrics, examples, samples, replies = ctx.metrics, ctx.examples, ctx.samples, ctx.replies
    rewards, judged, instrument_checks = ctx.rewards, ctx.judged, ctx.checks
    # What bon.merge needs besides samples.parquet: the prompts (with their unsharded order) and the raw judge values.
    st.write_text(run_dir / "prompts.jsonl", "".join(
        json.dumps({"position": ctx.positions.get(e.key, i), **dataclasses.asdict(e)}, ensure_ascii=False) + "\n"
        for i, e in enumerate(examples)))
    st.write_parquet(run_dir / "judged.parquet", judged_table(examples, judged))
    t = time.time()
    # planted biases (variants.<v>.bias) and the on-policy PM preference; stored rewards stay
    biased = bias.curve_rewards(ctx, metrics, examples, replies, rewards, judged, samples)
    curves, diffs, sample_values = curves_stage(ctx, metrics, examples, replies, biased, judged, samples)
    selector_text = write_outputs(ctx, curves[~curves["extrapolated"]], _title(cfg) + bias_title(cfg))  # pareto.*, drift.* (bon/selectors)
    curves_all, diffs_all = curves, diffs
    curves = curves[curves["selector"] == "bon"]  # the tables, curves.png and W&B charts are hard best-of-N's
    diffs = diffs[diffs["selector"] == "bon"] if len(diffs) else diffs
    picks = example_picks(ctx, metrics, examples, replies, biased, sample_values)
    per_sample = per_sample_table(examples, samples, rewards, sample_values, judged)
    from bon.report.audit import add_audit_columns  # question, references, graders, ranks, pick probabilities

    pos = per_sample["key"].map({e.key: i for i, e in enumerate(examples)}).to_numpy()
    per_sample = add_audit_columns(per_sample, examples, pos, per_sample["sample"].to_numpy(), cfg=cfg,
                                   metrics=metrics, judged=judged, curve_rewards=biased, rewards=rewards, ns=ns)
    st.write_parquet(run_dir / "samples.parquet", per_sample)
    st.write_parquet(run_dir / "examples.parquet", picks)
    st.write_text(run_dir / "curves.csv", curves_all.to_csv(index=False))
    st.write_text(run_dir / "differences.csv", diffs_all.to_csv(index=False))
    from bon.report.extrapolation import backtest_frame, format_extrapolation

    extrapolation = ctx.facts.get("extrapolation", {})
    st.write_text(run_dir / "backtest.csv", backtest_frame(extrapolation).to_csv(index=False))
    exact = curves[~curves["extrapolated"].astype(bool)] if "extrapolated" in curves.columns else curves
    report.plot_curves(curves, run_dir / "curves.png", title=_title(cfg) + bias_title(cfg),
                       x=cfg.plot.x if "plot" in cfg else "kl", fits=ctx.facts.get("goodhart"))
    ctx.timings["curves"] = time.time() - t

    facts = dict(ctx.facts)
    facts["truncation"] = {"max_new_tokens": cfg.sampler.max_new_tokens, "shares": truncation_shares(exact)}
    from bon.judges.checks import grader_bias_warning

    graders = (facts.get("gate") or {}).get("answer_sycophancy", {}).get("instruments", [])
    total = sum(g["items"] for g in graders) or 1
    warnings = [w for g in graders if (w := grader_bias_warning(  # each grader on the items it graded
        instrument_checks.get(g["check"]), exact, g["what"], g["items"] / total))]
    if warnings:
        facts["answer_grader_bias"] = " | ".join(warnings)
    summary = {
        "checks": instrument_checks, "stages": ctx.stage_keys,
        "reused": ctx.reused, "n_prompts": len(examples), "m": cfg.m, "ns": ns, "facts": facts,
        "timings_s": {k: round(v, 2) for k, v in ctx.timings.items()}, "store": str(ctx.store.root),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    st.write_json(run_dir / "run.json", summary)
    paired = report.format_differences(diffs) if len(diffs) else "(one PM variant: nothing to compare)"
    text = "\n\n".join([*(["\n".join(h)] if (h := bias_header(facts, instrument_checks)) else []),
                        report.format_table(exact), "paired differences (a - b):\n" + paired,
                        format_extrapolation(curves, extrapolation),
                        report.format_checks(instrument_checks), format_gate(facts.get("gate") or {}), selector_text,
                        facts_text(facts, ctx.timings, time.time() - ctx.started)])
    st.write_text(run_dir / "report.txt", text + "\n")
    from bon.report.html import write_report_html

    write_report_html(run_dir)  # report.html: one page of the files above, for auditing grades
    print(text, flush=True)
    wb = log_run(run_dir, exact, diffs, picks, summary["config"], mode=cfg.wandb.mode, project=cfg.wandb.project,
                 entity=cfg.wandb.entity, group=cfg.wandb.group or ctx.wandb_group, name=run_dir.name,
                 job_type="bon", tags=list(cfg.wandb.tags))
    if wb:
        print(f"wandb ({cfg.wandb.mode}): {wb}")


def per_sample_table(examples, samples, rewards, sample_values, judged) -> pd.DataFrame:
    """samples.parquet: the sample stage's rows of the kept prompts, with their prompt's kind, dataset, template and
    item, the reward of each PM variant (reward/<variant>) and each metric's per-sample value (value/<metric>)."""
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


def facts_text(facts: dict, timings: dict, total: float) -> str:
    """The report's "run facts" block."""
    from bon.data.choose import selection_lines

    lines = ["run facts:", *selection_lines(facts), f"  sampler backend: {facts.get('sampler_backend')}"]
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
    if facts.get("answer_grading"):  # which instrument graded how many answer prompts (bon/stages/check.py)
        lines.append("  answer items graded by: " + ", ".join(f"{k} {v}" for k, v in sorted(facts["answer_grading"].items())))
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
