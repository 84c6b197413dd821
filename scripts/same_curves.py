"""Do two run folders hold the same curves? For refactors that must not move a number (issue 16).

Compares curves.csv and differences.csv of two runs row by row (same rows, same order, every numeric cell equal to
within --atol; 0, the default, asks for identical values), and report.txt with its timing and W&B lines dropped.

    python -m bon.run experiment=demo store=S hydra.run.dir=A        # on the old code
    python -m bon.run experiment=demo store=S hydra.run.dir=B        # on the new code, the same store
    python scripts/same_curves.py A B

Prints one line per file and, last, one JSON object: {"same": bool, "files": {name: {"rows": n, "max_abs_diff": x}}}.
Exit status 0 when every file matches, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

_VOLATILE = re.compile(r"^\s*(time:|wandb)")  # the timings and the W&B run folder differ run to run


def compare_csv(a: Path, b: Path, atol: float) -> dict:
    x, y = pd.read_csv(a), pd.read_csv(b)
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return {"same": False, "why": f"shape {x.shape} vs {y.shape} or columns differ"}
    num = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and pd.api.types.is_numeric_dtype(y[c])]
    text = [c for c in x.columns if c not in num]
    if not x[text].fillna("").astype(str).equals(y[text].fillna("").astype(str)):
        return {"same": False, "why": f"text columns {text} differ"}
    xv, yv = x[num].to_numpy(float), y[num].to_numpy(float)
    both_nan = np.isnan(xv) & np.isnan(yv)
    diff = np.where(both_nan, 0.0, np.abs(xv - yv))
    worst = float(np.nanmax(diff, initial=0.0)) if diff.size else 0.0
    same = not np.isnan(diff).any() and worst <= atol
    return {"same": bool(same), "rows": len(x), "max_abs_diff": worst}


def compare_report(a: Path, b: Path) -> dict:
    keep = [[line for line in p.read_text().splitlines() if not _VOLATILE.match(line)] for p in (a, b)]
    return {"same": keep[0] == keep[1], "lines": len(keep[0])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--atol", type=float, default=0.0, help="largest allowed absolute difference (default 0)")
    args = ap.parse_args()
    files = {}
    for name in ("curves.csv", "differences.csv", "report.txt"):
        pa, pb = args.a / name, args.b / name
        if not (pa.exists() and pb.exists()):
            files[name] = {"same": False, "why": f"missing in {args.a if not pa.exists() else args.b}"}
        else:
            files[name] = compare_csv(pa, pb, args.atol) if name.endswith(".csv") else compare_report(pa, pb)
        print(f"{name}: {'same' if files[name]['same'] else 'DIFFERENT'} {json.dumps(files[name])}")
    same = all(f["same"] for f in files.values())
    print(json.dumps({"same": same, "files": files}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
