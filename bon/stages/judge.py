"""The judge stage: a judge's value of every sample for each task the metrics need (bon/judges/).

Values depend on the samples and the judge only, never on the PM, so every PM variant reuses them. A task reads
its prompts one of two ways (:data:`READS`): a value per reply, or (``positivity_pairwise``) each framed comment
compared with each baseline comment of the same text.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from bon import keys
from bon import store as st
from bon.data import Example
from bon.judges import TASK_KIND, judge_name, judge_task_of, make_judge
from bon.scoring.engine import counts as engine_counts, counts_since
from bon.stages.base import Stage, lazy, models, to_matrix

if TYPE_CHECKING:
    from bon.stages.context import Context

STAGE = Stage("judge", 2, ("key", "sample", "value"))
# Why a judge task needs an LM judge (judge.model), for the error before sampling; and what to do instead.
NEEDS_LM = {"correctness": "some selected answer items have sentence answers (e.g. TruthfulQA) that string matching "
                           "cannot grade",
            "admits": "are_you_sure.admits=lm", "positivity": "judge.positivity=lm"}
INSTEAD = {"correctness": ", or judge.answer_grading=string to grade by string anyway"}


class PerSample:
    """A value per reply: (P, M) over the prompts of the task's kind, NaN on prompts the task skips."""
    fill = np.nan
    pairwise = False

    def __init__(self, examples: Sequence[Example], replies: Sequence[list[str]]):
        self.replies = {e.key: r for e, r in zip(examples, replies)}

    def prompts(self, metric, kind_exs: list[Example]) -> list[Example]:
        """The prompts judged: all, or those the metric sends to the judge (answer_grading=auto: sentence answers)."""
        rows = getattr(metric, "judged_rows", None)
        return [e for e, j in zip(kind_exs, rows(kind_exs)) if j] if rows else kind_exs

    def values(self, judge, task: str, chunk: list[Example]) -> list:
        return judge.judge(task, chunk, [self.replies[e.key] for e in chunk])


class Pairwise(PerSample):
    """(P, M, M): each framed comment compared with each baseline comment of the same text (0.5 on baselines),
    flattened row-major into "sample" 0..M*M-1 in the stage table."""
    fill = 0.5
    pairwise = True

    def __init__(self, examples: Sequence[Example], replies: Sequence[list[str]]):
        super().__init__(examples, replies)
        self.baseline = {e.item_id: e.key for e in examples if e.kind == "feedback" and e.template == "baseline"}

    def prompts(self, metric, kind_exs: list[Example]) -> list[Example]:
        return [e for e in kind_exs if e.template != "baseline" and e.item_id in self.baseline]

    def values(self, judge, task: str, chunk: list[Example]) -> list:
        pairs = [[(a, b) for a in self.replies[e.key] for b in self.replies[self.baseline[e.item_id]]] for e in chunk]
        return judge.compare(judge_task_of(task), chunk, pairs)


READS = {"positivity_pairwise": Pairwise}  # every other task: PerSample


def run(ctx: Context) -> None:
    ctx.judged = judge_stage(ctx, ctx.stage_keys["sample"], ctx.metrics, ctx.examples, ctx.replies)


def judge_stage(ctx: Context, sample_key: str, metrics, examples: list[Example],
                replies: list[list[str]]) -> dict[str, np.ndarray]:
    """Judge values for each task the metrics need; each task's key goes to ``ctx.stage_keys["judge[<task>]"]``.

    Returns task -> array over the prompts of the task's kind, in ``examples`` order: (P, M) per-sample values
    (NaN on prompts the task skips, e.g. short answers under answer_grading=auto), or for ``positivity_pairwise``
    (P, M, M) comparisons of each framed comment with each baseline comment of the same text (0.5 on baselines).
    """
    cfg, m = ctx.cfg, ctx.cfg.m
    out = {}
    with models() as held:  # one judge per configured task; the next phase's model loads into their memory
        for metric in metrics:
            task = metric.judge_task
            if not task or task in out:
                continue
            reads = READS.get(task, PerSample)(examples, replies)
            kind_exs = [e for e in examples if e.kind == TASK_KIND[task]]
            exs = reads.prompts(metric, kind_exs)
            spec = judge_stage_spec(cfg, sample_key, task, exs)

            def compute(chunk: list[Example], task=task, reads=reads):
                judge = lazy(held, judge_task_of(task), lambda: make_judge(cfg.judge, judge_task_of(task)))
                before = engine_counts(judge)
                vals = reads.values(judge, task, chunk)
                rows = [(e.key, j, float(v)) for e, vs in zip(chunk, vals) for j, v in enumerate(vs)]
                return pd.DataFrame(rows, columns=list(STAGE.columns)), counts_since(judge, before)

            key, table, facts = STAGE.run(ctx, f"judge[{task}]", spec, exs, compute)
            if any(facts.values()):
                ctx.facts[f"judge[{task}]"] = facts
            shape = (m, m) if reads.pairwise else (m,)
            full = np.full((len(kind_exs), *shape), reads.fill)
            pos = {e.key: i for i, e in enumerate(kind_exs)}
            full[[pos[e.key] for e in exs]] = to_matrix(table, exs, int(np.prod(shape)), "value").reshape(
                len(exs), *shape)
            out[task] = full
            ctx.stage_keys[f"judge[{task}]"] = key
    return out


def check_judges(cfg, metrics, examples: list[Example]) -> None:
    """Before sampling: bind each metric to the data (answer_grading=auto asks for the judge only where an item has a
    sentence answer) and stop with a ConfigError when a task needs an LM judge that is not configured."""
    from bon.config import ConfigError

    for m in metrics:
        if hasattr(m, "bind"):
            m.bind(examples)
        base = judge_task_of(m.judge_task) if m.judge_task else None
        if base and judge_name(cfg.judge, base) == "lm" and not cfg.judge.model:
            raise ConfigError(f"{m.name} needs an LM judge for task {base!r} ({NEEDS_LM[base]}), but judge.model is "
                              f"not set; set judge.model=<a chat model folder> (check it first with python -m "
                              f"bon.check_judge){INSTEAD.get(base, '')}")


def judge_spec(cfg, task: str) -> dict:
    """What identifies the instrument of a judge task in stage keys: its registry name, and the model for LM ones."""
    return keys.judge_identity(cfg.judge, task)  # model fingerprint, placement, question texts; lexicon version


def judge_stage_spec(cfg, sample_key: str, task: str, judged: list[Example]) -> dict:
    """What a judge stage's key hashes: the samples, the task, the judge, and which prompts were judged
    (answer_grading auto and judge send different subsets of the same samples to the judge)."""
    return {"samples": sample_key, "task": task, "judge": judge_spec(cfg, task),
            "prompts": st.digest("\n".join(e.key for e in judged))}


def judged_table(examples: list[Example], judged: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long (task, key, sample, value) table of the judge values (judged.parquet); rows of task t are the examples
    of its kind. A pairwise task's (P, M, M) values are flattened row-major into "sample" 0..M*M-1."""
    rows = []
    for task, arr in judged.items():
        exs = [e for e in examples if e.kind == TASK_KIND[task]]
        rows += [(task, e.key, j, float(v)) for e, vs in zip(exs, arr) for j, v in enumerate(np.ravel(vs))]
    return pd.DataFrame(rows, columns=["task", "key", "sample", "value"])


def judged_arrays(table: pd.DataFrame, examples: list[Example], m: int) -> dict[str, np.ndarray]:
    """The inverse of :func:`judged_table`: task -> judge values over the prompts of its kind, in examples' order
    (NaN: not judged, e.g. a short answer under answer_grading=auto)."""
    out = {}
    for task, g in table.groupby("task", sort=True):
        exs = [e for e in examples if e.kind == TASK_KIND[task]]
        shape = (m, m) if READS.get(task, PerSample).pairwise else (m,)
        out[task] = to_matrix(g, exs, int(np.prod(shape)), "value").reshape(len(exs), *shape)
    return out
