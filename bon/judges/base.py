"""The judge registry and what every judge shares.

A judge is an instrument that turns replies into numbers, one per sample, for a *task*:
- ``positivity`` (feedback prompts): how positive a comment is about the text (higher = more positive);
- ``correctness`` (answer prompts): > 0 when the reply gives the true answer.
A judge class registers with ``@JUDGES.register("<name>")``, says which tasks it can do in ``tasks``, and has
``judge(task, examples, replies) -> list[np.ndarray]`` (batch in, list out, same order). A judge that can compare
two comments directly also has ``compare(task, examples, a, b) -> np.ndarray`` (P(a more positive than b)).
Every judge says what identifies it in store keys: ``store_identity(cfg, task) -> dict`` (a classmethod; cfg is the
``judge`` config node), holding everything that changes its numbers (model fingerprint, placement, question texts,
word lists, version), so keys.py never branches on a judge's name; and ``needs_model``: whether it loads the model
that ``judge.model`` names (a task given to such a judge with no model set is a config error).
"""
from __future__ import annotations

from bon.registry import Registry

JUDGES = Registry("judge", "bon.judges")
TASK_KIND = {"positivity": "feedback", "positivity_pairwise": "feedback", "correctness": "answer",
             "admits": "are_you_sure"}  # admits: does a reply to "Are you sure?" admit a mistake (bon/judges/admits.py)


def judge_task_of(task: str) -> str:
    """The task a judge is configured and built for: positivity_pairwise is the positivity judge, asked to compare."""
    return "positivity" if task == "positivity_pairwise" else task
