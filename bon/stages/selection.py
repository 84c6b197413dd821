"""The curves stage's selectors (bon/selectors/): for each selector, setting and PM variant, the rewards the pick
ranks by and the pick rule the estimator follows (bon.estimator.selection.selecting), built once per run from the
stored rewards and the run's graded values. No sampling and no scoring: a selector only re-reads the pools."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bon import bias
from bon.selectors import Selector, make_selectors

log = logging.getLogger("bon")


@dataclass
class Plan:
    """One curve family: a selector at one setting, with per variant (ranking rewards (P, M), picks or None)."""
    label: str
    selector: Selector
    setting: float | None
    variants: dict[str, tuple[np.ndarray, Any]] = field(default_factory=dict)
    spreads: dict[str, float] = field(default_factory=dict)  # variant -> s
    mc_error: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (row, variant) -> (L,) MC error


def pm_spread(ctx, variant: str, r: np.ndarray) -> float:
    """s of a variant: its stored PM rewards' pooled within-prompt SD (the planted bias's unit, where one is set)."""
    planted = ctx.facts.get("planted_bias", {}).get(variant)
    return float(planted["s"]) if planted else bias.pooled_within_sd(r)


def agreement(ctx, metrics, examples, replies, judged, samples) -> np.ndarray | None:
    """The run's (P, M) ``agree`` feature (bon.bias.sample_features), or None when the run's metrics cannot give it."""
    try:
        return bias.sample_features(examples, replies, judged, metrics, samples, ctx.cfg.m, names=["agree"])["agree"]
    except ValueError as e:
        log.info("agreement feature unavailable: %s", e)  # curve_rewards has said so
        return None


def selector_plans(ctx, rewards: dict[str, np.ndarray], examples, agree: np.ndarray | None) -> list[Plan]:
    """Every (selector, setting) of the run's ``selectors`` in config order, each with its per-variant picks."""
    from bon.selectors.penalty import false_belief_agree

    plans = []
    a = None if agree is None else false_belief_agree(examples, agree)
    for sel in make_selectors(ctx.cfg):
        if sel.needs_agree and a is None:
            raise ValueError(f"selector {sel.name} needs the agreement feature A, which this run's metrics do not "
                             f"grade (see the warning above)")
        for setting in sel.settings():
            plan = Plan(sel.label(setting), sel, setting)
            for v, r in rewards.items():
                s = pm_spread(ctx, v, r)
                plan.variants[v] = (sel.rewards(r, setting, s, a), sel.picks(setting, s))
                plan.spreads[v] = s
            plans.append(plan)
    return plans


def selector_facts(plans: list[Plan]) -> dict:
    """run.json's facts["selectors"]: per selector its version, exactness, settings and what it recorded."""
    out = {}
    for p in plans:
        sel = p.selector
        entry = out.setdefault(sel.name, {"version": sel.version, "exact": sel.exact, "title": sel.title,
                                          "labels": []})
        entry["labels"].append(p.label)
        entry.update(sel.facts())
    return out


def write_outputs(ctx, curves, title: str) -> str:
    """pareto.csv and pareto.png (bon/report/pareto.py), drift.csv and drift_groups.csv (bon/drift.py) in the run
    folder, the drift rows in ctx.facts; returns the report's selectors and drift blocks."""
    from bon import store as st
    from bon.drift import drift_tables, format_drift
    from bon.report.pareto import pareto_table, plot_pareto
    from bon.selectors.penalty import A_GRADED_BY

    run_dir, sel = ctx.run_dir, ctx.selection
    table = pareto_table(curves)
    st.write_text(run_dir / "pareto.csv", table.to_csv(index=False))
    if len(table):
        plot_pareto(table, run_dir / "pareto.png", title=title)
    kinds = {m.name: m.kind for m in ctx.metrics if m.higher_is_more_sycophantic and m.kind in A_GRADED_BY}
    hard = {k: v for k, v in sel.get("per_item", {}).items() if len(k) == 2}  # hard best-of-N's per-item rows
    rewards = {v: r for v, (r, _) in sel["plans"][0].variants.items()} if sel.get("plans") else {}
    drift, split = drift_tables(ctx.examples, sel.get("agree"), rewards, hard, sel.get("groups", {}), kinds, ctx.ns,
                                ctx.cfg, 1 - ctx.cfg.ci)
    st.write_text(run_dir / "drift.csv", drift.to_csv(index=False))
    st.write_text(run_dir / "drift_groups.csv", split.to_csv(index=False))
    ctx.facts["drift"] = drift.replace({np.nan: None}).to_dict("records")
    return "\n\n".join([_selector_lines(ctx.facts.get("selectors", {})), format_drift(drift)])


def _selector_lines(facts: dict) -> str:
    """The report's selectors block: which ran, exact or Monte Carlo, Poisson tails, what graded the penalty's A."""
    lines = ["selectors (bon/selectors/; curves.csv column selector, trade-offs in pareto.csv / pareto.png):"]
    for name, f in facts.items():
        how = "exact" if f.get("exact", True) else "Monte Carlo"
        lines.append(f"  {name} v{f['version']} ({how}): {', '.join(f['labels'])}")
        if f.get("flagged_n"):
            tails = ", ".join(f"n={n}: {f['tail_by_n'][n]:.3f}" for n in f["flagged_n"])
            lines.append(f"    FLAG: P(n > M) above {f['tail_flag']:g} at 1 + mu = {tails}; those points are the "
                         f"expectation given n <= M")
        if f.get("monte_carlo_rows"):
            bad = [r for r in f["monte_carlo_rows"] if not r["within_rule"]]
            lines.append(f"    Monte Carlo rows: {len(f['monte_carlo_rows']) - len(bad)} of {len(f['monte_carlo_rows'])} "
                         f"with an error below one tenth of their CI half-width" + (
                             f"; NOT: {', '.join(sorted({r['metric'] for r in bad}))} (raise selector.soft_draws)"
                             if bad else ""))
        for label, se in (f.get("monte_carlo_max_se") or {}).items():
            lines.append(f"    {label}: Monte Carlo ({f['draws']} seeded subsets per N), largest standard error of a "
                         f"pick probability {max(se.values()):.4f}")
        if f.get("a_graded_by"):
            lines.append("    A (agreement with a false belief) graded by: " + ", ".join(
                f"{k} prompts by {m}'s instrument" for k, m in f["a_graded_by"].items()))
    return "\n".join(lines)


def plan_rows(metric, plan: Plan, vname: str, picks, examples, ranking, values, ns) -> dict:
    """metric.item_curves under the plan's pick rule; for a Monte Carlo plan the mean over its replicates, with the
    Monte Carlo error of each row's item mean (spread of the replicates / sqrt of their number) kept in the plan."""
    from bon.estimator.selection import selecting

    reps = plan.selector.replicate_picks(plan.setting, pm_spread_of(plan, vname), ranking.shape[1], ns)
    runs = []
    for p in [picks, *reps]:
        with selecting(p):
            runs.append(metric.item_curves(examples, ranking, values, ns))
    if not reps:
        return runs[0]
    out = {}
    for row in runs[0]:
        stack = np.stack([r[row] for r in runs])  # (R, L, cols)
        out[row] = stack.mean(axis=0)
        plan.mc_error[(row, vname)] = stack.mean(axis=2).std(axis=0, ddof=1) / np.sqrt(len(runs))  # (L,)
    return out


def pm_spread_of(plan: Plan, vname: str) -> float:
    return plan.spreads.get(vname, 0.0)


def check_monte_carlo(plan: Plan, row: str, vname: str, lo, hi, facts: dict) -> None:
    """The rule for a Monte Carlo row: its error below one tenth of its CI half-width at every n; a row that breaks
    it (or has no CI to compare with) is listed in facts["selectors"][name]["monte_carlo_rows"]."""
    err = plan.mc_error.get((row, vname))
    if err is None:
        return
    half = (np.asarray(hi) - np.asarray(lo)) / 2
    ok = bool(np.all(np.isfinite(half)) and np.all(err < half / 10))
    facts.setdefault("monte_carlo_rows", []).append({"selector": plan.label, "metric": row, "pm": vname,
                                                     "max_error": float(np.max(err)), "within_rule": ok})
    if not ok:
        log.warning("%s %s %s: Monte Carlo error %.4f is not below one tenth of the CI half-width; raise "
                    "selector.soft_draws", plan.label, row, vname, float(np.max(err)))
