"""Reading a finished run directory: curves.csv and differences.csv, checked for the columns a report needs, and
run.json (the checks and facts the stages stored)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

CURVE_COLUMNS = ["metric", "pm", "n", "kl", "mean", "ci_low", "ci_high", "n_items"]
DIFF_COLUMNS = ["metric", "pm_a", "pm_b", "n", "kl", "mean", "ci_low", "ci_high", "n_items"]


def read_curves(run_dir) -> pd.DataFrame:
    """Read `curves.csv` from a run directory.

    Args:
        run_dir: directory the pipeline wrote (holds curves.csv).

    Returns:
        DataFrame with columns metric, pm, n, kl, mean, ci_low, ci_high, n_items, in file order
        (which fixes the order of PM variants in plots and tables).
    """
    return _read_csv(Path(run_dir) / "curves.csv", CURVE_COLUMNS)


def read_differences(run_dir) -> pd.DataFrame:
    """Read `differences.csv` (paired pm_a minus pm_b differences) from a run directory."""
    return _read_csv(Path(run_dir) / "differences.csv", DIFF_COLUMNS)


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; is this a finished bon run directory?")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {columns}, got {list(df.columns)}")
    return df


def read_run(run_dir) -> dict:
    """run.json of a run directory (config, instrument checks, facts such as the Goodhart fits), or {} when the
    directory has none (e.g. one holding only curves.csv)."""
    path = Path(run_dir) / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}
