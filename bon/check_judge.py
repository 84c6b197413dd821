"""Check an instrument of a run against hand labels: ``python -m bon.check_judge TASK LABELS.jsonl [overrides...]``.

TASK is ``answer`` (the configured answer grading: judge.answer_grading), ``positivity`` (the judge named by
judge.positivity, in judge.feedback mode), ``pm`` (cfg.pm under every variant in cfg.variants) or ``are_you_sure``
(are_you_sure.admits: the admit-mistake string rule or the LM judge, on the held-out rows) or ``mimicry`` (the
poet-name match of mimicry sycophancy, a string rule). The config is
composed exactly as ``python -m bon.run`` composes it (conf/, the same overrides: ``experiment=demo``,
``judge.positivity=lm``, ``pm=...``), so the check measures the instrument that run would use.

Output: the misses (at most 20, held-out first, one per line), one summary line per result (per variant for pm),
and a last line holding one JSON object: task, instrument, n, accuracy, ci_low, ci_high, verdict, all from the
held-out rows (rows without ``split`` are held-out), with n_tune, accuracy_tune and ci_tune beside them; answer
checks add ``errors`` (false_incorrect, false_correct: rate, CI, k of n); for pm, those of the first variant, plus
``variants``: each variant's accuracy, CI and by_kind. Fewer than 20 held-out rows: verdict "unchecked". Bad
labels or overrides: one line on stderr, exit 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

MAX_MISSES = 20

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class UsageError(ValueError):
    """A bad override or config value, told to the user in one line."""


def compose(overrides: list[str]):
    """The run's config (conf/config.yaml + overrides), composed with Hydra's compose API."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bon.config import CONF_PACKAGE, register_configs

    register_configs()
    try:
        with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as e:
        msg = str(e).split("Config search path")[0]
        if e.__cause__ is not None:  # "Error merging override" alone does not say what was wrong
            msg += f": {str(e.__cause__).splitlines()[0]}"
        msg = " ".join(msg.split())
        raise UsageError(f"bad override(s) {' '.join(overrides)}: {msg}") from None


def _variants(cfg) -> dict:
    """name -> Variant, built from cfg.variants the way bon.stages.score.variants_of builds them."""
    from bon.scoring import Variant

    if not cfg.variants:
        raise UsageError("variants: at least one PM variant is needed (e.g. variants=paper)")
    out = {}
    for vname, vcfg in cfg.variants.items():
        vcfg = vcfg or {}
        try:
            out[vname] = Variant(name=vname, prefix=[dict(t) for t in vcfg.get("prefix") or []],
                                 system=vcfg.get("system"))
        except (ValueError, AttributeError) as e:
            raise UsageError(f"variants.{vname}: {e}") from None
    return out


def _judge(cfg, task: str):
    from bon.judges import JUDGES, judge_name, make_judge
    from bon.registry import UnknownNameError

    name = judge_name(cfg.judge, task)
    try:
        JUDGES.get(name)
        return name, make_judge(cfg.judge, task)
    except UnknownNameError as e:
        raise UsageError(f"judge.{'positivity' if task == 'positivity' else 'name'}: {e}") from None


def run_check(task: str, rows: list[dict], cfg) -> tuple[list, dict]:
    """Build the configured instrument, check it on ``rows``. Returns (results, the last-line JSON dict)."""
    from bon.judges import checks

    if task == "positivity":
        from bon.metrics.feedback import FeedbackSycophancy

        mode = cfg.judge.feedback
        problems = FeedbackSycophancy.config_errors(cfg)
        if problems:
            raise UsageError(problems[0])
        name, judge = _judge(cfg, "positivity")
        label = f"{name} {cfg.judge.model} ({mode})" if type(judge).needs_model else f"{name} ({mode})"
        res = checks.check_positivity(rows, judge, mode, instrument=label)
        return [res], {**res.as_dict(), "mode": mode}
    if task == "answer":
        from bon.judges.answer_grading import judge_needed
        from bon.metrics.answer import AnswerSycophancy

        grading = cfg.judge.answer_grading
        problems = AnswerSycophancy.config_errors(cfg)
        if problems:
            raise UsageError(problems[0])
        judge = None
        if judge_needed(grading, [checks.answer_base(r) for r in rows]):
            name, judge = _judge(cfg, "correctness")  # loaded only when some row needs it
        res = checks.check_answer(rows, grading, judge)  # instrument: the grading, with per-row counts for auto
        if judge is not None:
            res.instrument += f" [judge: {name} {cfg.judge.model}]"
        return [res], {**res.as_dict(), "grading": grading}
    if task == "are_you_sure":  # are_you_sure.admits: the string rule, or the LM judge's task "admits"
        from bon.metrics import metric_from_config

        try:
            by_judge = metric_from_config("are_you_sure", cfg).judge_task is not None
        except ValueError as e:
            raise UsageError(str(e)) from None
        name, judge = _judge(cfg, "admits") if by_judge else (None, None)
        res = checks.check_are_you_sure(rows, judge, instrument=None if judge is None else f"{name} {cfg.judge.model}")
        return [res], {**res.as_dict(), "admits": cfg.are_you_sure.admits}
    if task == "mimicry":  # the poet-name match: a string rule, nothing to build
        res = checks.check_mimicry(rows)
        return [res], res.as_dict()
    from bon.registry import UnknownNameError
    from bon.scoring import PMS, pm_backends, pm_from_config, pm_key

    try:
        PMS.get(cfg.pm.name)
    except UnknownNameError as e:
        raise UsageError(f"pm.name: {e}") from None
    if pm_key(cfg.pm.name, cfg.pm.backend) not in PMS:
        raise UsageError(f"pm.backend must be one of {pm_backends().get(cfg.pm.name, ['hf'])} for pm.name={cfg.pm.name!r}, "
                         f"got {cfg.pm.backend!r}")
    variants = _variants(cfg)
    pm = pm_from_config(cfg.pm)  # the PM a run with these overrides scores with, on its backend
    results = checks.check_pm(rows, pm, variants, instrument=f"{cfg.pm.name} {cfg.pm.model}")
    first = next(iter(results.values())).as_dict()
    first["variants"] = {v: {k: d[k] for k in ("accuracy", "ci_low", "ci_high", "verdict", "by_kind", "n_by_kind")}
                         for v, d in ((v, r.as_dict()) for v, r in results.items())}
    return list(results.values()), first


def main(argv: list[str] | None = None) -> int:
    from bon.judges import checks
    from bon.judges.labels import TASKS

    ap = argparse.ArgumentParser(
        prog="python -m bon.check_judge",
        description="Check a grader, judge or PM variant of the run's config against hand labels; the last line "
                    "printed is one JSON object (task, instrument, n, accuracy, ci_low, ci_high, verdict).",
        epilog="examples:\n  python -m bon.check_judge positivity bon/data/labelled/positivity.jsonl\n"
               "  python -m bon.check_judge positivity bon/data/labelled/positivity.jsonl judge.positivity=lm "
               "judge.feedback=pairwise\n  python -m bon.check_judge pm bon/data/labelled/pm.jsonl experiment=demo\n"
               "label rows: see bon/judges/labels.py",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=list(TASKS), help="which instrument to check")
    ap.add_argument("labels", help="labelled set (.jsonl); bundled ones are in bon/data/labelled/")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m bon.run")
    args = ap.parse_args(argv)

    from bon.data import DataError
    from bon.judges import NoJudgeError
    from bon.models import ModelError

    try:
        rows = checks.load_labels(args.task, args.labels)  # before any model loads: bad labels fail fast
        if not any(r.get("split", "heldout") == "heldout" for r in rows):
            raise UsageError(f"{args.labels}: no held-out rows (every row has split=tune): an instrument's agreement "
                             f"with the rows it was tuned on is not evidence; add rows without split or with "
                             f'"split": "heldout"')
        cfg = compose(args.overrides)
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()  # "Loading weights" bars
        results, last = run_check(args.task, rows, cfg)
    except (DataError, UsageError, NoJudgeError, ModelError) as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    except OSError as e:  # a model folder or hub id that transformers cannot load (no network, missing files)
        print(f"error: cannot load the model: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
        return 2
    last["labels"] = args.labels
    misses = [(r.instrument, m) for r in results for m in r.misses]
    for inst, m in misses[:MAX_MISSES]:
        print(f"miss [{inst}] {m}" if len(results) > 1 else f"miss {m}")
    if len(misses) > MAX_MISSES:
        print(f"... and {len(misses) - MAX_MISSES} more misses")
    for r in results:
        print(r.summary())
    for r in results:
        if r.verdict != "ok":
            print(r.verdict_line())
    last.pop("misses", None)
    last["n_misses"] = sum(len(r.misses) for r in results)
    print(json.dumps(last, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
