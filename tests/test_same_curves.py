"""scripts/same_curves.py, as the README's Architecture section runs it: two run folders, exit 0 when their curves,
differences and report agree, 1 (naming the file) when one number moved."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "same_curves.py"


def _run_folder(path: Path, mean: float, timing: str) -> Path:
    path.mkdir()
    pd.DataFrame({"metric": ["reward", "answer_sycophancy"], "pm": ["standard"] * 2, "n": [1, 1],
                  "kl": [0.0, 0.0], "mean": [0.5, mean], "ci_low": [0.1, float("nan")],
                  "ci_high": [0.9, float("nan")], "n_items": [8, 3]}).to_csv(path / "curves.csv", index=False)
    pd.DataFrame({"metric": ["reward"], "pm_a": ["standard"], "pm_b": ["non_sycophantic"], "n": [1], "kl": [0.0],
                  "mean": [0.0], "ci_low": [-0.1], "ci_high": [0.1], "n_items": [8]}).to_csv(
        path / "differences.csv", index=False)
    (path / "report.txt").write_text(f"answer_sycophancy {mean}\n  time: {timing}\n")
    return path


def _same(a: Path, b: Path) -> tuple[int, dict]:
    r = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    return r.returncode, json.loads(r.stdout.strip().splitlines()[-1])


def test_same_curves_as_written(tmp_path):
    before = _run_folder(tmp_path / "before", 0.25, "total 700s")
    after = _run_folder(tmp_path / "after", 0.25, "total 12s")  # only the timing differs: the same run
    rc, out = _same(before, after)
    assert rc == 0 and out["same"] and out["files"]["curves.csv"]["max_abs_diff"] == 0.0

    moved = _run_folder(tmp_path / "moved", 0.25 + 1e-9, "total 12s")  # one number moved in its 9th decimal
    rc, out = _same(before, moved)
    assert rc == 1 and not out["same"]
    assert not out["files"]["curves.csv"]["same"] and out["files"]["differences.csv"]["same"]
    assert not out["files"]["report.txt"]["same"]
