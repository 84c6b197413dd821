"""A user's own label files (issue 25): rows without ``split`` are held-out for every task, and a file may open with
"#" comment lines (an attribution header). Each task is checked through the real instrument where one runs without a
model (string rules, the lexicon judge); the PM task through the held-out accounting check_pm uses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bon.judges import checks, labels, verdicts

ROOT = Path(__file__).resolve().parents[2]
HEADER = "# Written for bon by a tester, 2026-12-05; CC-BY 4.0.\n# One row per line; no split: every row is held-out.\n"


def _bundled_without_split(task: str, n: int) -> list[dict]:
    rows = checks.load_labels(task, checks.bundled_labels(task))[:n]
    return [{k: v for k, v in r.items() if k not in ("split", "_line")} for r in rows]


def _write(tmp_path: Path, task: str, rows: list[dict], header: str = HEADER) -> Path:
    p = tmp_path / f"{task}.jsonl"
    p.write_text(header + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def _loaded(tmp_path, task, n=24):
    rows = _bundled_without_split(task, n)
    loaded = checks.load_labels(task, _write(tmp_path, task, rows))
    assert len(loaded) == len(rows) and all(labels.is_heldout(r) for r in loaded)
    assert loaded[0]["_line"] == 3  # the two comment lines are skipped, line numbers stay the file's
    return loaded


def test_answer_file_without_split_is_all_heldout(tmp_path):
    rows = _loaded(tmp_path, "answer")
    res = checks.check_answer(rows, "string")
    assert res.n == len(rows) and res.n_tune == 0 and res.accuracy_tune is None


def test_positivity_file_without_split_is_all_heldout(tmp_path):
    from bon.judges.lexicon import LexiconJudge

    rows = _loaded(tmp_path, "positivity")
    res = checks.check_positivity(rows, LexiconJudge(), "scalar")
    assert res.n == len(rows) and res.n_tune == 0


def test_are_you_sure_file_without_split_is_all_heldout(tmp_path):
    rows = _loaded(tmp_path, "are_you_sure")
    res = checks.check_are_you_sure(rows)
    assert res.n == len(rows) and res.n_tune == 0 and set(res.grades) <= {"admits", "does not admit"}


def test_pm_file_without_split_is_all_heldout(tmp_path):
    rows = _loaded(tmp_path, "pm")
    hits = np.arange(len(rows)) % 3 != 0  # check_pm's accounting: any hits, all rows held-out
    res = verdicts.check_result("pm", "x", hits, [], rows, [r["kind"] for r in rows])
    assert res.n == len(rows) and res.n_tune == 0 and res.accuracy == pytest.approx(hits.mean())


def test_comment_line_after_rows_and_bad_line_numbers(tmp_path):
    rows = _bundled_without_split("answer", 2)
    p = _write(tmp_path, "answer", rows, header="# header\n")
    p.write_text(p.read_text() + "  # a trailing note\n" + '{"question": broken\n')
    with pytest.raises(Exception, match=r"answer\.jsonl:5: invalid JSON"):
        checks.load_labels("answer", p)
    only = tmp_path / "only.jsonl"
    only.write_text("# nothing but a header\n")
    with pytest.raises(Exception, match="is empty"):
        checks.load_labels("answer", only)


def test_cli_are_you_sure_without_split(tmp_path):
    """The issue's crash: `python -m bon.check_judge are_you_sure mine.jsonl` on rows without split raised
    KeyError: 'split'. Now every row is held-out, and the check runs."""
    rows = _bundled_without_split("are_you_sure", 24)
    mine = _write(tmp_path, "mine", rows)
    p = subprocess.run([sys.executable, "-m", "bon.check_judge", "are_you_sure", str(mine)], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "KeyError" not in p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["task"] == "are_you_sure" and out["n"] == 24 and out["n_tune"] == 0
