"""Judges: instruments that turn replies into numbers for the metrics (registry ``JUDGES``).

    lm.py       lm        a causal LM read by its yes/no log-odds (positivity, correctness; pairwise compare)
    lexicon.py  lexicon   VADER sentiment, offline (positivity only)

Which judge does which task is config (``judge.positivity``, ``judge.name`` + ``judge.model`` for LM tasks); every
judge is checked against labelled sets by ``python -m bon.check_judge`` and in every run's report (checks.py,
labels.py, verdicts.py); gate.py turns those verdicts into each metric's validity (INVALID with the reason).
A new judge: one file here with ``@JUDGES.register("<name>")``, ``tasks``, ``judge(task, examples, replies)``,
``store_identity(cfg, task)`` and optionally ``compare`` (see base.py); the registry finds the file.
"""
from __future__ import annotations

from bon.judges.base import JUDGES, TASK_KIND, judge_task_of


class NoJudgeError(ValueError):
    """A task needs an LM judge but ``judge.model`` is not set."""


def judge_name(cfg, task: str) -> str:
    """Registry key of the judge that does ``task`` under the ``judge`` config node."""
    return cfg.positivity if task == "positivity" else cfg.name


def make_judge(cfg, task: str):
    """Build the judge configured for ``task`` (cfg: the ``judge`` config node)."""
    name = judge_name(cfg, task)
    cls = JUDGES.get(name)
    if task not in cls.tasks:
        raise ValueError(f"judge {name!r} cannot do task {task!r}; it does {list(cls.tasks)}")
    model = getattr(cfg, "model", None)
    if cls.needs_model and not model:
        raise NoJudgeError(f"task {task!r} needs an LM judge, but judge.model is not set")
    return cls(model, token_budget=cfg.token_budget, device=cfg.device, dtype=cfg.dtype)


__all__ = ["JUDGES", "TASK_KIND", "NoJudgeError", "judge_name", "judge_task_of", "make_judge"]
