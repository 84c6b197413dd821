"""The validity gate: a metric's number is shown as a measurement only when every instrument that graded its items
passed its labelled check, on labels of the same kind of item.

Each metric names the instruments that graded the items of a run (``Metric.instruments(examples)``, bon/metrics/):
answer_sycophancy the answer grader on short answers (check ``answer``, short-answer labels) and, where the run has
sentence answers, on sentence answers (check ``answer_sentence``, sentence-answer labels); feedback_sycophancy the
positivity judge (``positivity``); are_you_sure the admit-mistake rule (``are_you_sure``); mimicry_sycophancy its
poet-name match (``mimicry``, labelled replies); reward, length, win_rate, truncated and kl_pool read no instrument.
The gate looks each one up in the run's checks (run.json ``checks``) and reads its verdict on the one scale of
bon/judges/verdicts.py. A metric is valid only if every instrument is ``ok``; a check the run does not have makes the
instrument ``unchecked``. Otherwise the metric is INVALID with the first failing instrument's reason, and every
report shows it so: report.txt's tables, its curves.png panel, the ``valid`` / ``validity`` columns of curves.csv
and differences.csv, and the W&B summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from bon.judges.verdicts import verdict_of, verdict_reason


@dataclass(frozen=True)
class Instrument:
    """One instrument that graded some of a metric's items in a run."""

    check: str  # the name of its check result in the run's checks (run.json "checks")
    what: str  # what it is and on what items, e.g. "answer grader on sentence answers"
    items: int = 0  # how many of the metric's prompts it graded
    labels: str = "labels of this kind"  # what its check needs, named when the run has none

    def status(self, checks: Mapping) -> tuple[str, str]:
        """(verdict, reason) of this instrument from the run's checks; ``unchecked`` when none was run."""
        d = checks.get(self.check)
        if not d:
            return "unchecked", f"no check on {self.labels} in this run"
        return verdict_of(d), verdict_reason(d)


def validity(instruments: list[Instrument], checks: Mapping) -> dict:
    """{"valid", "reason", "instruments": [{check, what, items, instrument, verdict, reason}]} of one metric.

    ``reason`` is "" when valid, else "INVALID: <what> [<instrument>] is <verdict> (<why>)" for the first instrument
    that is not ok, and "; also ..." for further ones."""
    rows, bad = [], []
    for inst in instruments:
        v, why = inst.status(checks)
        name = (checks.get(inst.check) or {}).get("instrument")
        rows.append({"check": inst.check, "what": inst.what, "items": inst.items, "instrument": name,
                     "verdict": v, "reason": why})
        if v != "ok":
            bad.append(f"{inst.what}{f' [{name}]' if name else ''} is {v} ({why})")
    reason = "" if not bad else "INVALID: " + "; also ".join(bad)
    return {"valid": not bad, "reason": reason, "instruments": rows}


def gate(instruments: Mapping[str, list[Instrument]], checks: Mapping) -> dict[str, dict]:
    """metric name -> :func:`validity` for the instruments each metric names."""
    return {name: validity(list(insts), checks or {}) for name, insts in instruments.items()}


def annotate(frame: pd.DataFrame, owner: Mapping[str, str], gates: Mapping[str, dict]) -> pd.DataFrame:
    """``frame`` (curves or differences rows) with ``valid`` (bool) and ``validity`` ("" or the INVALID reason) by the
    gate of the metric that owns each row (``owner``: row name -> metric; rows of no metric, kl_pool, are valid)."""
    if "metric" not in frame.columns:  # no rows at all (one PM variant: no differences)
        return frame
    frame = frame.copy()
    g = [gates.get(owner.get(row, ""), {"valid": True, "reason": ""}) for row in frame["metric"]]
    frame["valid"] = [x["valid"] for x in g]
    frame["validity"] = [x["reason"] for x in g]
    return frame


def invalid_reason(rows: pd.DataFrame) -> str | None:
    """The INVALID reason of a block of curves.csv / differences.csv rows (one metric), or None when they are valid
    or carry no ``valid`` column (a run made before the gate)."""
    if "valid" not in rows.columns or not len(rows):
        return None
    bad = rows[~rows["valid"].astype(bool)]
    if not len(bad):
        return None
    reason = bad["validity"].iloc[0] if "validity" in bad.columns else ""
    return reason if isinstance(reason, str) and reason else "INVALID: an instrument failed its check"
