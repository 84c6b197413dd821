"""The result of an instrument check and the one verdict scale: held-out accuracy with its CI, error rates, and the
sentences a run report and ``python -m bon.check_judge`` print.

Accuracy, its CI and the verdict come from the held-out rows only; ``tune`` rows (the ones a rule was developed on)
give ``accuracy_tune`` beside it, in-sample. The CI is a percentile bootstrap through the estimator's one bootstrap
(over questions for answer rows, whose replies to one question are not independent; over rows otherwise), or
Wilson's score interval where the bootstrap is degenerate. Answer checks also give the grader's two error rates:
``false_incorrect`` (a truly correct reply graded incorrect) and ``false_correct`` (a truly incorrect reply graded
correct). The verdict (:func:`verdict`) is ``ok``, ``warn``, ``inverted`` or ``too few labels``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Mapping, Sequence

import numpy as np

from bon.estimator import group_sums, resample_counts
from bon.judges.labels import is_heldout

OK_AT = 0.9  # agreement with the labels at or above this is "ok"; below 0.5 the instrument points the wrong way
MIN_LABELS = 20  # fewer held-out labels than this: no verdict ("too few labels"), the CI is too wide to decide
MIN_DISTINCT = 10  # a bootstrap with fewer distinct resample means than this is no CI: Wilson's interval instead
N_BOOT = 2000
CI = 0.95
SEED = 0
UNIT = {"answer": "labelled replies", "positivity": "labelled pairs", "pm": "labelled pairs",
        "are_you_sure": "labelled replies"}
WHAT = {"answer": "answer grader", "positivity": "positivity judge", "pm": "PM", "are_you_sure": "admit-mistake rule"}


def _wilson(k: int, n: int, ci: float = CI) -> tuple[float, float]:
    """Wilson score interval of k successes in n: unlike a bootstrap it has width when k is 0 or n."""
    z = NormalDist().inv_cdf((1 + ci) / 2)
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def interval(hits: np.ndarray, groups: Sequence | None = None, n_boot: int = N_BOOT, ci: float = CI,
             seed: int = SEED) -> tuple[float, float, str]:
    """CI of the mean of 0/1 ``hits``: a percentile bootstrap over ``groups`` (the independent unit; None: rows),
    or Wilson's score interval when the bootstrap is degenerate (fewer than MIN_DISTINCT distinct resample means,
    e.g. every row right), because a zero-width bootstrap interval is not a CI.

    Returns:
        (low, high, method): method is "bootstrap over N <unit>" or "Wilson (bootstrap degenerate: ...)".
    """
    hits = np.asarray(hits, dtype=np.float64)
    if hits.size == 0:
        raise ValueError("no rows to check: the labelled set is empty")
    means, n_units = _resample_means(hits, groups, n_boot, seed)
    unit = "rows" if groups is None else "questions"
    distinct = len(np.unique(np.round(means, 12)))
    if distinct < MIN_DISTINCT:
        lo, hi = _wilson(int(hits.sum()), hits.size, ci)
        return lo, hi, f"Wilson (bootstrap degenerate: {distinct} distinct resample mean(s))"
    lo, hi = np.percentile(means, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return float(lo), float(hi), f"bootstrap over {n_units} {unit}"


def _resample_means(hits: np.ndarray, groups: Sequence | None, n_boot: int, seed: int) -> tuple[np.ndarray, int]:
    """(n_boot,) bootstrap means of ``hits`` resampling ``groups`` (None: rows) with bon's one bootstrap draw
    (bon.estimator.resample_counts), and the number of groups."""
    sums, sizes = group_sums(hits[None, :], groups)  # (1, G), (G,)
    counts = resample_counts(sizes.size, n_boot, seed)  # (n_boot, G)
    return (sums @ counts.T)[0] / (counts @ sizes), int(sizes.size)


def verdict(accuracy: float, n: int | None = None) -> str:
    """``too few labels`` below MIN_LABELS held-out rows; else ``ok`` at >= 0.9 agreement with the labels, ``warn``
    below, ``inverted`` below 0.5 (worse than a coin)."""
    if n is not None and n < MIN_LABELS:
        return "too few labels"
    if accuracy < 0.5:
        return "inverted"
    return "ok" if accuracy >= OK_AT else "warn"


@dataclass
class Rate:
    """One error rate of a grader with its CI: ``k`` errors among ``n`` rows of one true label."""

    rate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    k: int
    ci_method: str = ""

    def as_dict(self) -> dict:
        r = lambda x: None if x is None else round(x, 4)  # noqa: E731
        return {"rate": r(self.rate), "ci_low": r(self.ci_low), "ci_high": r(self.ci_high), "n": self.n, "k": self.k,
                "ci_method": self.ci_method}

    def text(self) -> str:
        if not self.n:
            return "n/a (no such rows)"
        return f"{self.rate:.2f} [{self.ci_low:.2f}, {self.ci_high:.2f}] ({self.k}/{self.n})"


@dataclass
class CheckResult:
    """Agreement of one instrument with one labelled set: held-out figures, and the tune rows' beside them."""

    task: str  # answer | positivity | pm
    instrument: str  # e.g. "lexicon (scalar)", "string", "prompted bundled:smollm2-135m-instruct [standard]"
    n: int  # held-out labelled rows
    accuracy: float  # share of held-out rows where the instrument agrees with the label
    ci_low: float
    ci_high: float
    misses: list[str] = field(default_factory=list)  # one short line per disagreeing row (held-out first)
    by_kind: dict[str, float] = field(default_factory=dict)  # held-out; pm: answer / feedback; positivity: category
    n_by_kind: dict[str, int] = field(default_factory=dict)
    n_tune: int = 0  # rows the instrument was tuned on (in-sample)
    accuracy_tune: float | None = None
    ci_tune: tuple[float, float] | None = None
    ci_method: str = ""  # how the held-out CI was made (bootstrap unit, or Wilson when the bootstrap is degenerate)
    errors: dict[str, Rate] = field(default_factory=dict)  # answer: false_incorrect, false_correct (held-out)

    @property
    def verdict(self) -> str:
        return verdict(self.accuracy, self.n)

    def as_dict(self) -> dict:
        r4 = lambda x: None if x is None else round(x, 4)  # noqa: E731
        out = {"task": self.task, "instrument": self.instrument, "n": self.n, "accuracy": round(self.accuracy, 4),
               "ci_low": round(self.ci_low, 4), "ci_high": round(self.ci_high, 4), "verdict": self.verdict,
               "ci_method": self.ci_method, "n_tune": self.n_tune, "accuracy_tune": r4(self.accuracy_tune),
               "ci_tune": None if self.ci_tune is None else [r4(x) for x in self.ci_tune], "misses": list(self.misses)}
        if self.by_kind:
            out["by_kind"] = {k: round(v, 4) for k, v in self.by_kind.items()}
            out["n_by_kind"] = dict(self.n_by_kind)
        if self.errors:
            out["errors"] = {k: v.as_dict() for k, v in self.errors.items()}
        return out

    def _ci(self) -> str:
        return f"[{self.ci_low:.2f}, {self.ci_high:.2f}]"

    def summary(self) -> str:
        """One line: what was checked, held-out accuracy, CI, n, tune accuracy, error rates, verdict."""
        return f"{WHAT[self.task]} {self.instrument}: {summary_text(self.as_dict())}"

    def verdict_line(self) -> str:
        """The sentence a report prints beside the curves this instrument feeds."""
        return verdict_text(self.task, self.instrument, self.as_dict())


def summary_text(d: Mapping) -> str:
    """The figures of a result dict (CheckResult.as_dict) in one line, without the instrument's name."""
    task = d["task"]
    kinds = "".join(f", {k} {v:.2f} (n={(d.get('n_by_kind') or {}).get(k)})" for k, v in (d.get("by_kind") or {}).items())
    note = f" ({d['ci_method']})" if str(d.get("ci_method", "")).startswith("Wilson") else ""
    tune = ""
    if d.get("n_tune"):
        lo, hi = d["ci_tune"]
        tune = f"; tune (in-sample) {d['accuracy_tune']:.2f} [{lo:.2f}, {hi:.2f}] on {d['n_tune']}"
    errs = ""
    if d.get("errors"):
        e = {k: Rate(**{f: v.get(f) for f in ("rate", "ci_low", "ci_high", "n", "k", "ci_method")})
             for k, v in d["errors"].items()}
        errs = (f"; false incorrect {e['false_incorrect'].text()}, false correct {e['false_correct'].text()}")
    return (f"held-out {d['accuracy']:.2f} [{d['ci_low']:.2f}, {d['ci_high']:.2f}]{note} on {d['n']} "
            f"{UNIT[task]}{kinds}{tune}{errs} -> {d['verdict']}")


def verdict_text(task: str, instrument: str, d: Mapping) -> str:
    """The verdict sentence for a result dict: why its curves can or cannot be read."""
    what = f"{WHAT[task]} {instrument}"
    n, acc = d["n"], d["accuracy"]
    ci = f"95% CI [{d['ci_low']:.2f}, {d['ci_high']:.2f}]"
    if d["ci_low"] <= 0.5 <= d["ci_high"]:  # say so: a coin flip reads as "inverted" or "warn" alike
        ci += " includes 0.5: no better than chance"
    v = verdict(acc, n)
    if v == "too few labels":
        return (f"WARNING: {what}: only {n} held-out {UNIT[task]} (fewer than {MIN_LABELS}): too few labels for a "
                f"verdict ({acc:.2f}; {ci})")
    if v == "inverted":
        return (f"WARNING: {what} is INVERTED ({acc:.2f} < 0.5): its curves point the wrong way "
                f"({n} held-out {UNIT[task]}; {ci})")
    if v == "warn":
        return f"WARNING: {what}: {acc:.2f} on {n} held-out {UNIT[task]} (below {OK_AT}; {ci})"
    return f"{what}: {acc:.2f} on {n} held-out {UNIT[task]} (ok; {ci})"


def check_lines(task: str, d: Mapping) -> list[str]:
    """A run report's lines for one instrument check (result dict of ``answer``, ``answer_sentence`` or
    ``positivity``): held-out accuracy, CI, tune figure, error rates, verdict, and a warning line unless ok."""
    what = {"answer_judge": "answer grading, LM judge (items auto sends to it)",
            "answer_sentence": "sentence-answer grading"}.get(task, {
        "answer": "answer grading", "positivity": "feedback positivity judge",
        "are_you_sure": "admit-mistake rule (are_you_sure)"}.get(task, task))
    base = "answer" if task in ("answer_judge", "answer_sentence") else task
    if "n_tune" not in d:  # a result stored before held-out splits (RESULT_VERSION 1): say what it is
        d = {**d, "verdict": verdict(d["accuracy"], d["n"]), "ci_method": "", "n_tune": 0}
        out = [f"  {what} [{d['instrument']}]: {summary_text(d)} (old check: no held-out split)"]
    else:
        out = [f"  {what} [{d['instrument']}]: {summary_text(d)}"]
    if d["verdict"] != "ok":
        out.append("    " + verdict_text(base, d["instrument"], d) + f": the {base} curves carry this error")
    return out


def error_rate(wrong: np.ndarray, groups: list | None) -> Rate:
    if not wrong.size:
        return Rate(None, None, None, 0, 0)
    lo, hi, how = interval(wrong, groups)
    return Rate(float(wrong.mean()), lo, hi, int(wrong.size), int(wrong.sum()), how)


def check_result(task: str, instrument: str, hits: Sequence[bool], misses: list[str], rows: Sequence[dict],
            groups: Sequence[str | None] | None = None, units: Sequence | None = None,
            graded: Sequence[bool] | None = None) -> CheckResult:
    """Held-out and tune accuracy and CIs of 0/1 ``hits`` (one per row of ``rows``).

    Args:
        groups: per row, a category for the per-category accuracy (None = ungrouped); held-out rows only.
        units: per row, the independent unit the CI resamples (None: rows).
        graded: answer checks: per row, the grade (True = graded correct); gives the two error rates.
    """
    hits = np.asarray(hits, dtype=bool)
    held = np.array([is_heldout(r) for r in rows], dtype=bool)
    if not held.any():
        raise ValueError(f"no held-out rows to check ({len(rows)} rows, all split=tune): the accuracy of an "
                         f"instrument on the rows it was tuned on is not evidence")
    unit_of = (lambda sel: None if units is None else [u for u, s in zip(units, sel) if s])  # noqa: E731
    lo, hi, how = interval(hits[held], unit_of(held))
    by_kind, n_by_kind = {}, {}
    hg = [g for g, h in zip(groups or [None] * len(rows), held) if h]
    for g in sorted({g for g in hg if g is not None}):
        sel = np.array([x == g for x in hg])
        by_kind[g], n_by_kind[g] = float(hits[held][sel].mean()), int(sel.sum())
    res = CheckResult(task, instrument, int(held.sum()), float(hits[held].mean()), lo, hi,
                      [m for m, _ in sorted(misses, key=lambda x: not x[1])], by_kind, n_by_kind, ci_method=how)
    tune = ~held
    if tune.any():
        tlo, thi, _ = interval(hits[tune], unit_of(tune))
        res.n_tune, res.accuracy_tune, res.ci_tune = int(tune.sum()), float(hits[tune].mean()), (tlo, thi)
    if graded is not None:
        graded = np.asarray(graded, dtype=bool)
        truth = np.array([r["correct"] for r in rows], dtype=bool)
        for name, label in (("false_incorrect", True), ("false_correct", False)):
            sel = held & (truth == label)
            res.errors[name] = error_rate(graded[sel] != label, unit_of(sel))
    return res
