"""The audit columns of samples.parquet: what a person needs to check one sample's grade without joining files.

Per sample, beside the sample stage's columns and the existing ``reward/<variant>`` and ``value/<metric>``:

- ``question``: the item's question, argument or poem (``base.question`` / ``text`` / ``poem``); ``prompt``: the
  dialog the policy answered, one ``role: content`` block per turn (the prefill last);
- ``ref/correct``, ``ref/incorrect``, ``ref/accepted``: the reference answers where the item has them (answer and
  are_you_sure: the correct answer, the user's incorrect one, every accepted alias; mimicry: the true poet and the
  poet the user names);
- ``graded_by/<metric>``: the instrument behind ``value/<metric>`` on this sample (the metric's own rule, or
  ``<judge> judge (<task>)`` where the judge stage graded it); ``judge/<task>``: the judge stage's raw score (a
  pairwise task: the mean over the baseline comments, what the metric reads);
- ``reward_curve/<variant>``: only for a variant with a planted bias, the reward the curves pick by;
- ``rank/<variant>``: the sample's rank within its prompt by the curves' reward, 1 = highest; tied samples share
  the best rank of their block;
- ``pick/<variant>/N=<n>``: the probability that this sample is the best-of-N pick, exactly as the estimator
  counts it (:func:`bon.estimator.pick_probabilities`, ties broken uniformly at random); sums to 1 over a prompt.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bon.estimator import pick_probabilities
from bon.judges import TASK_KIND, judge_name, judge_task_of

QUESTION_FIELDS = ("question", "text", "poem")  # base fields that hold what a prompt asks about, first found wins


def prompt_text(e) -> str:
    """The dialog as plain text: ``role: content`` per turn, then the assistant prefill if any."""
    turns = [f"{t.get('role', '?')}: {t.get('content', '')}" for t in e.conversation]
    return "\n\n".join(turns + ([f"assistant (prefill): {e.prefill}"] if e.prefill else []))


def references(e) -> dict:
    """ref/correct, ref/incorrect, ref/accepted of one prompt (None where its kind has no such answer)."""
    b, md = e.base, e.metadata
    correct = b.get("correct_answer") or b.get("attribution")
    if b.get("correct_letter"):
        correct = f"({b['correct_letter']}) {correct}"
    incorrect = b.get("incorrect_answer") or md.get("incorrect_attribution")
    accepted = None
    if isinstance(b.get("correct_answer"), str) and not b.get("correct_letter"):  # the answer metric's aliases
        listed = b.get("answer") if isinstance(b.get("answer"), list) else []
        accepted = list(dict.fromkeys(str(a) for a in [*listed, b["correct_answer"]]))
    return {"ref/correct": correct, "ref/incorrect": incorrect, "ref/accepted": accepted}


def graders(metric, cfg, examples) -> list[str]:
    """The instrument behind each of these prompts' values under ``metric`` (they are ``metric.select``-ed)."""
    task = metric.judge_task
    rule = f"{metric.name} rule"
    judge = f"{judge_name(cfg.judge, judge_task_of(task))} judge ({task})" if task else None
    gradings = getattr(metric, "gradings", None)  # per prompt, where the metric routes items (answer grading)
    if gradings:
        return [judge if g == "judge" else rule if g == "string" else f"{g} grader" for g in gradings(examples)]
    if not task:
        return [rule] * len(examples)
    rows = getattr(metric, "judged_rows", None)
    judged = rows(examples) if rows else [True] * len(examples)
    return [judge if j else rule for j in judged]


def ranks(rewards: np.ndarray) -> np.ndarray:
    """(P, M) within-row ranks, 1 = highest reward, tied samples sharing the best rank of their block."""
    # rank = 1 + number of samples with a strictly higher reward = 1 + M - (number <= it); O(M log M) per row
    m = rewards.shape[1]
    if rewards.shape[0] == 0:
        return np.zeros(rewards.shape, dtype=np.int64)
    asc = np.sort(rewards, axis=1)
    return np.stack([1 + m - np.searchsorted(a, r, side="right") for a, r in zip(asc, rewards)]).reshape(
        rewards.shape).astype(np.int64)


def add_audit_columns(df: pd.DataFrame, examples, pos: np.ndarray, j: np.ndarray, *, cfg, metrics, judged: dict,
                      curve_rewards: dict, rewards: dict, ns) -> pd.DataFrame:
    """Add the module docstring's columns to samples.parquet's rows.

    Args:
        df: one row per (prompt, sample), in any order; ``pos[r]``, ``j[r]`` are row r's prompt index into
            ``examples`` and its sample index.
        cfg: the run config (``judge`` names the instruments).
        metrics: the run's metrics (their ``select``, ``judge_task`` and ``judged_rows`` say who graded what).
        judged: the judge stage's values, task -> (P_kind, M) or (P_kind, M, M) over the prompts of its kind.
        curve_rewards: variant -> (P, M) rewards the curves pick by (planted biases included).
        rewards: variant -> (P, M) stored PM rewards.
        ns: the best-of-N grid.
    Returns:
        ``df`` with the columns added.
    """
    cols: dict[str, object] = {}
    per_prompt = [{"question": next((str(e.base[f]) for f in QUESTION_FIELDS if e.base.get(f)), None),
                   "prompt": prompt_text(e), **references(e)} for e in examples]
    for name in per_prompt[0] if per_prompt else ():
        cols[name] = [per_prompt[p][name] for p in pos]
    for metric in metrics:
        sel = [i for i, e in enumerate(examples) if metric.applies(e)]
        if not sel or metric.kind is None:  # graded values only: reward, length, win_rate... are no grade
            continue
        by = dict(zip(sel, graders(metric, cfg, [examples[i] for i in sel])))
        cols[f"graded_by/{metric.name}"] = [by.get(p) for p in pos]
    for task, arr in judged.items():
        kind_pos = {k: i for i, k in enumerate(i for i, e in enumerate(examples) if e.kind == TASK_KIND[task])}
        vals = np.asarray(arr, dtype=np.float64)
        vals = vals.mean(axis=2) if vals.ndim == 3 else vals  # pairwise: mean P(beats a baseline comment)
        col = np.full(len(pos), np.nan)
        mask = np.array([p in kind_pos for p in pos], dtype=bool)
        if mask.any():
            col[mask] = vals[[kind_pos[p] for p in pos[mask]], j[mask]]
        cols[f"judge/{task}"] = col
    for v, r in curve_rewards.items():
        r = np.asarray(r, dtype=np.float64)
        if v in rewards and not np.array_equal(r, rewards[v]):
            cols[f"reward_curve/{v}"] = r[pos, j]
        cols[f"rank/{v}"] = ranks(r)[pos, j]
        probs = pick_probabilities(r, list(ns))  # (L, P, M)
        for k, n in enumerate(ns):
            cols[f"pick/{v}/N={n}"] = probs[k][pos, j]
    return pd.concat([df.reset_index(drop=True), pd.DataFrame(cols)], axis=1)
