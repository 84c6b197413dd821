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
