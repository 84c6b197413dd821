"""Overlay the sycophancy-vs-N curves of several runs (PM variants, policies, seeds) in one PNG.

Each line is labelled <run label>:<pm>; the run label is the run directory's name unless --labels
gives one per RUN_DIR. With several runs, colour follows the run and line style the PM variant.

    python scripts/plot_curves.py outputs/run_a outputs/run_b -o overlay.png
    python scripts/plot_curves.py outputs/run_a --per-template          # one run, every template
    python scripts/plot_curves.py a b --labels seed0 seed1 --metrics answer_sycophancy reward
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon

import pandas as pd

from bon.report import plot_curves, read_curves


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories holding curves.csv")
    ap.add_argument("-o", "--out", default="curves_overlay.png", help="output PNG (default: %(default)s)")
    ap.add_argument("--labels", nargs="+", help="one label per RUN_DIR (default: the directory names)")
    ap.add_argument("--metrics", nargs="+", help="metrics to draw, in order (default: the main ones)")
    ap.add_argument("--per-template", action="store_true", help="also draw per-template rows")
    ap.add_argument("--title", help="figure title")
    args = ap.parse_args(argv)

    labels = args.labels or [Path(d).resolve().name for d in args.run_dirs]
    if len(labels) != len(args.run_dirs):
        ap.error(f"--labels: got {len(labels)} labels for {len(args.run_dirs)} RUN_DIRs; give one per RUN_DIR")
    if len(set(labels)) != len(labels):
        ap.error(f"run labels must be distinct, got {labels}; pass --labels")

    frames = []
    for run_dir, label in zip(args.run_dirs, labels):
        if not (Path(run_dir) / "curves.csv").is_file():
            print(f"plot_curves.py: {Path(run_dir) / 'curves.csv'}: no such file; "
                  f"RUN_DIR must be a finished bon run directory", file=sys.stderr)
            return 2
        df = read_curves(run_dir)
        frames.append(df.assign(run=label, label=label + ":" + df["pm"].astype(str)))
    curves = pd.concat(frames, ignore_index=True)

    try:
        out = plot_curves(curves, args.out, title=args.title or "Best-of-N curves: " + ", ".join(labels),
                          label_col="label", color_col="run" if len(frames) > 1 else "label",
                          style_col="pm" if len(frames) > 1 else None,
                          per_template=args.per_template, metrics=args.metrics)
    except ValueError as e:  # e.g. an unknown --metrics name; the message lists the available ones
        print(f"plot_curves.py: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
