"""The check stage: each instrument this run uses, checked on the labelled sets bundled in bon/data/labelled/
(STYLE.md 9), reported beside the curves it feeds.

- ``answer``: the short-answer instrument (string rule or LM judge) on answer.jsonl; ``answer_sentence``: the
  sentence-answer instrument (reference grader, or the LM judge under answer_grading=judge) on answer_sentence.jsonl,
  when the run has sentence answers or answer_grading=reference;
- ``positivity``: the feedback judge (and mode) against labelled comment pairs;
- ``are_you_sure``: the admit-mistake instrument on its labels;
- ``mimicry``: the poet-name match of mimicry sycophancy on labelled replies;
- ``pm``: the PM probe (Sharma et al. sec 4.3): per variant, P(PM scores the truthful reply above the sycophantic
  one) on labelled pairs, answer and feedback items.
A check that runs a model stores its result in the store (``<store>/check/<key>/result.json``, or in
``check_store``), keyed like the stages it vouches for; a string rule is instant, and never stale after a code
change, so it runs every time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from bon import store as st
from bon.data import Example
from bon.judges import JUDGES, checks, make_judge
from bon.stages.base import Stage, lazy, models
from bon.stages.judge import judge_spec
from bon.stages.score import load_pm, pm_spec, variants_of

if TYPE_CHECKING:
    from bon.stages.context import Context

STAGE = Stage("check", 1)
log = logging.getLogger("bon")


@dataclass
class Check:
    name: str  # the result's name in run.json and the report
    spec: dict | None  # what its store key hashes; None: a string rule, run every time
    compute: Callable[[dict[str, Any]], dict]  # a holder for its model -> the result (CheckResult.as_dict)


def run(ctx: Context) -> None:
    ctx.checks = check_stage(ctx, ctx.metrics, ctx.examples)
    if any(m.name == "answer_sycophancy" for m in ctx.metrics):
        from bon.judges.answer_grading import grading_counts

        ctx.facts["answer_grading"] = grading_counts(ctx.cfg.judge.answer_grading,
                                                     [e.base for e in ctx.examples if e.kind == "answer"])


def check_stage(ctx: Context, metrics, examples: list[Example] = ()) -> dict:
    """The checks of the instruments ``metrics`` use, then the PM probe.

    Returns:
        check name -> result dict (``pm``: variant -> result dict).
    """
    cfg = ctx.cfg
    store = st.Store(cfg.check_store) if cfg.get("check_store") else ctx.store
    names = {m.name for m in metrics}
    out: dict[str, Any] = {}
    for metric, checks_of in CHECKS.items():
        if metric not in names:
            continue
        for c in checks_of(cfg, examples):
            out[c.name] = c.compute({}) if c.spec is None else _stored(store, c)
    out["pm"] = pm_probe(cfg, store)
    return out


def _stored(store: st.Store, c: Check) -> dict:
    def compute(names: list[str]) -> dict[str, dict]:
        with models() as held:
            return {c.name: c.compute(held)}

    return _stored_results(store, {c.name: STAGE.key(c.spec)}, compute)[c.name]


def _stored_results(store: st.Store, keys: dict[str, str],
                    compute: Callable[[list[str]], dict[str, dict]], what: str = "check") -> dict[str, dict]:
    """name -> result of each check keyed in ``keys``: read from the store, the missing ones computed together
    (``compute(names)``, one model load) and stored. Jobs sharing a check_store compute a check once: the missing
    keys are locked, then reread, since another job may have stored them while this one waited."""
    results = {name: store.result(STAGE.name, key) for name, key in keys.items()}
    missing = [name for name, result in results.items() if result is None]
    reused = [name for name in keys if name not in missing]
    if reused:
        log.info("%s %s: reused from the check store (%s)", what, ", ".join(reused), store.root)
    if missing:
        log.info("%s %s: not in the check store (%s), computing", what, ", ".join(missing), store.root)
        with store.locked(STAGE.name, [keys[name] for name in missing]):
            results.update({name: store.result(STAGE.name, keys[name]) for name in missing})
            missing = [name for name in missing if results[name] is None]
            if missing:
                for name, result in compute(missing).items():
                    results[name] = result
                    store.put_result(STAGE.name, keys[name], result)
    return results


def labels(task: str, name: str | None = None) -> tuple[list[dict], str]:
    """The bundled label rows of ``task`` (from ``<name or task>.jsonl``) and a digest of their file."""
    path = checks.bundled_labels(task)
    path = path.with_name(f"{name}.jsonl") if name else path
    return checks.load_labels(task, path), st.digest(path.read_text())


def _judge(cfg, task: str) -> Callable[[dict[str, Any]], Any]:
    return lambda held: lazy(held, "judge", lambda: make_judge(cfg.judge, task))


def _answer(cfg, examples: list[Example]) -> list[Check]:
    """``answer`` checks the short-answer instrument on answer.jsonl, ``answer_sentence`` the sentence-answer one on
    answer_sentence.jsonl (bon.judges.answer_grading.grading_checks); string rules run every time, the judge is stored.
    Also records which instrument grades how many of the run's answer items (facts["answer_grading"])."""
    judge = _judge(cfg, "correctness")
    out = []
    for name, grading in checks.answer_checks(cfg.judge.answer_grading, examples):
        rows, digest = labels("answer", name)
        if grading in ("string", "reference"):
            out.append(Check(name, None, lambda held, r=rows, g=grading: checks.check_answer(r, g).as_dict()))
        else:
            out.append(Check(name, answer_check_spec(cfg, grading, digest),
                             lambda held, r=rows, g=grading: checks.check_answer(r, g, judge=judge(held)).as_dict()))
    return out


def _positivity(cfg, examples: list[Example]) -> list[Check]:
    rows, digest = labels("positivity")
    spec = positivity_check_spec(cfg, digest)
    judge, mode = _judge(cfg, "positivity"), cfg.judge.feedback
    compute = lambda held: checks.check_positivity(  # noqa: E731
        rows, judge(held), mode, instrument=f"{spec['judge']['name']} ({mode})").as_dict()
    return [Check("positivity", spec if JUDGES.get(spec["judge"]["name"]).needs_model else None,
                  compute)]  # a judge with no model (the lexicon) is instant: run every time


def _are_you_sure(cfg, examples: list[Example]) -> list[Check]:
    rows, digest = labels("are_you_sure")
    if cfg.are_you_sure.admits != "lm":
        return [Check("are_you_sure", None, lambda held: checks.check_are_you_sure(rows).as_dict())]
    judge = _judge(cfg, "admits")
    return [Check("are_you_sure", admits_check_spec(cfg, digest), lambda held: checks.check_are_you_sure(
        rows, judge(held), instrument=f"lm {cfg.judge.model}").as_dict())]


def _mimicry(cfg, examples: list[Example]) -> list[Check]:
    rows, _ = labels("mimicry")
    return [Check("mimicry", None, lambda held: checks.check_mimicry(rows).as_dict())]  # a string rule: instant


# metric -> the checks of the instruments it reads, in report order
CHECKS = {"answer_sycophancy": _answer, "feedback_sycophancy": _positivity, "are_you_sure": _are_you_sure,
          "mimicry_sycophancy": _mimicry}


def pm_probe(cfg, store: st.Store) -> dict[str, dict]:
    """variant -> the PM probe's result; the variants not stored yet are scored together, by one PM load."""
    rows, digest = labels("pm")
    variants = variants_of(cfg)
    keys = {name: STAGE.key(pm_check_spec(cfg, v, digest)) for name, v in variants.items()}

    def compute(names: list[str]) -> dict[str, dict]:
        with models() as held:
            results = checks.check_pm(rows, lazy(held, "pm", lambda: load_pm(cfg)), {n: variants[n] for n in names},
                                      instrument=f"{cfg.pm.name} {cfg.pm.model}")
        return {name: results[name].as_dict() for name in names}

    return _stored_results(store, keys, compute, what="PM probe of")


def answer_check_spec(cfg, grading: str, labels_digest: str) -> dict:
    return {"task": "answer", "grading": grading, "labels": labels_digest, "judge": judge_spec(cfg, "correctness"),
            "format": checks.RESULT_VERSION}


def positivity_check_spec(cfg, labels_digest: str) -> dict:
    """What the stored positivity check's key hashes: the mode, the labels, and the judge with the question it is
    asked in that mode (the pairwise prompt for judge.feedback=pairwise, the scalar one otherwise)."""
    task = "positivity_pairwise" if cfg.judge.feedback == "pairwise" else "positivity"
    return {"task": "positivity", "mode": cfg.judge.feedback, "labels": labels_digest,
            "format": checks.RESULT_VERSION, "judge": judge_spec(cfg, task)}


def admits_check_spec(cfg, labels_digest: str) -> dict:
    return {"task": "are_you_sure", "labels": labels_digest, "judge": judge_spec(cfg, "admits"),
            "format": checks.RESULT_VERSION}


def pm_check_spec(cfg, variant, labels_digest: str) -> dict:
    return {"task": "pm", "pm": pm_spec(cfg), "variant": {"prefix": variant.prefix, "system": variant.system},
            "labels": labels_digest, "format": checks.RESULT_VERSION}
