"""Overlay the sycophancy-vs-N curves of several runs (PM variants, policies, seeds) in one PNG.

Each line is labelled <run label>:<pm>; the run label is what sets the run apart (the Hydra overrides in which the
runs differ, e.g. "seed=1"; a planted bias's weight, variants.standard.bias.agree=2, reads "standard w[agree]=2") or
the run directory's name, unless --labels gives one per run directory. A PM variant whose curves are the same
numbers in every run (a sweep's reference: the non-sycophantic variant, a planted variant's unbiased counterpart) is
drawn once, as "<pm> (every run)". Arguments that are not folders (multirun.yaml, bias_sweep.csv, caught by a glob
over a sweep folder) are skipped. With several runs, colour follows the run and line style the PM variant. The
Goodhart panels draw the fits each run stored in its run.json (none for a run without one): a plot never refits.

    python scripts/plot_curves.py outputs/run_a outputs/run_b -o overlay.png
    python scripts/plot_curves.py multirun/<date>/<time>/* -o overlay.png   # every job of a sweep
    python scripts/plot_curves.py outputs/run_a --per-template          # one run, every template
    python scripts/plot_curves.py a b --labels seed0 seed1 --metrics answer_sycophancy reward
    python scripts/plot_curves.py a b --metric gold/correctness --metric win_rate --x kl_pool   # any metric
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing bon

import pandas as pd

from bon.report import plot_curves, read_curves
from bon.report.files import read_run


def run_labels(run_dirs: list[str]) -> list[str]:
    """A label per run: the Hydra overrides (.hydra/overrides.yaml) in which the runs differ, e.g. "seed=1
    sampler.temperature=0.7" for the jobs of a sweep; the directory names when that does not tell them apart."""
    import yaml

    names = [Path(d).resolve().name for d in run_dirs]
    overrides = []
    for d in run_dirs:
        f = Path(d) / ".hydra" / "overrides.yaml"
        try:
            overrides.append([str(o) for o in (yaml.safe_load(f.read_text()) or [])] if f.is_file() else [])
        except (OSError, yaml.YAMLError):
            overrides.append([])
    common = set.intersection(*map(set, overrides)) if overrides else set()
    labels = [" ".join(_short(o) for o in ovs if o not in common) for ovs in overrides]
    if len(run_dirs) < 2 or not all(labels) or len(set(labels)) != len(labels):
        return names
    return labels


def run_fits(run_dirs: list[str], labels: list[str]) -> dict:
    """The Goodhart fits each run stored (run.json facts["goodhart"]: gold row -> pm -> fits), keyed by the overlay's
    line labels "<run label>:<pm>"."""
    out: dict = {}
    for run_dir, label in zip(run_dirs, labels):
        for row, by_pm in (read_run(run_dir).get("facts", {}).get("goodhart") or {}).items():
            out.setdefault(row, {}).update({f"{label}:{pm}": f for pm, f in by_pm.items()})
    return out


def shared_once(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, list[str]]:
    """The runs' curves in one frame, and the PM variants kept once: a PM variant whose curves are the same numbers in
    every run is kept once, as "<pm> (every run)": in a sweep over a planted bias the reference lines (the variant without the bias, and its
    unbiased counterpart) are the same in every job and are drawn once, not once per job."""
    if len(frames) < 2:
        return pd.concat(frames, ignore_index=True), []
    cols = ["metric", "n", "mean", "ci_low", "ci_high"]

    def of(df, pm):
        return df[df["pm"] == pm][cols].sort_values(["metric", "n"]).reset_index(drop=True)

    same = [pm for pm in dict.fromkeys(frames[0]["pm"])
            if all(pm in set(f["pm"]) and of(f, pm).equals(of(frames[0], pm)) for f in frames[1:])]
    out = [f[~f["pm"].isin(same)] for f in frames]
    first = frames[0][frames[0]["pm"].isin(same)]
    out.append(first.assign(run="every run", label=first["pm"].astype(str) + " (every run)"))
    return pd.concat(out, ignore_index=True), same


def _short(override: str) -> str:
    """A planted-bias override (variants.standard.bias.agree=2) as "standard w[agree]=2" (w: the planted weight; β is
    the Goodhart fit's coefficient, λ the selectors' setting); others unchanged."""
    m = re.fullmatch(r"\+{0,2}variants\.([^.=]+)\.bias\.([^.=]+)=(.*)", override)
    return f"{m[1]} w[{m[2]}]={m[3]}" if m else override


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories holding curves.csv")
    ap.add_argument("-o", "--out", default="curves_overlay.png", help="output PNG (default: %(default)s)")
    ap.add_argument("--labels", nargs="+",
                    help="one label per run directory (default: the overrides in which the runs differ, from "
                         ".hydra/overrides.yaml, else the directory names)")
    ap.add_argument("--metrics", nargs="+", help="metrics to draw, in order (default: the main ones)")
    ap.add_argument("--per-template", action="store_true", help="also draw per-template rows")
    ap.add_argument("--title", help="figure title")
    ap.add_argument("--metric", action="append", metavar="NAME",
                    help="a metric to overlay (any row of curves.csv: win_rate, length, kl_pool, gold/correctness, "
                         "answer_flip/regressive ...); repeat for several; added after --metrics")
    ap.add_argument("--x", choices=["kl", "kl_pool"], default="kl",
                    help="KL shown above N and on the Goodhart panels: the bound (default) or kl_pool, measured")
    args = ap.parse_args(argv)

    # A shell glob over a sweep folder (multirun/<date>/<time>/*) also catches multirun.yaml: skip what is no folder.
    run_dirs = [d for d in args.run_dirs if Path(d).is_dir()]
    skipped = [d for d in args.run_dirs if not Path(d).is_dir()]
    if skipped:
        print(f"plot_curves.py: skipped {', '.join(skipped)}: not a run directory", file=sys.stderr)
    if not run_dirs:
        ap.error("no run directory among the RUN_DIRs")
    labels = args.labels or run_labels(run_dirs)
    if len(labels) != len(run_dirs):
        ap.error(f"--labels: got {len(labels)} labels for {len(run_dirs)} run directories; give one per run directory")
    if len(set(labels)) != len(labels):
        ap.error(f"run labels must be distinct, got {labels}; pass --labels")

    frames = []
    for run_dir, label in zip(run_dirs, labels):
        if not (Path(run_dir) / "curves.csv").is_file():
            print(f"plot_curves.py: {Path(run_dir) / 'curves.csv'}: no such file; "
                  f"RUN_DIR must be a finished bon run directory", file=sys.stderr)
            return 2
        df = read_curves(run_dir)
        frames.append(df.assign(run=label, label=label + ":" + df["pm"].astype(str)))
    curves, shared = shared_once(frames)
    fits = run_fits(run_dirs, labels)
    for by_label in fits.values():  # a line drawn once for every run carries the first run's stored fit
        by_label.update({f"{pm} (every run)": by_label[f"{labels[0]}:{pm}"] for pm in shared
                         if f"{labels[0]}:{pm}" in by_label})

    try:
        out = plot_curves(curves, args.out, title=args.title or "Best-of-N curves: " + ", ".join(labels),
                          label_col="label", color_col="run" if len(frames) > 1 else "label",
                          style_col="pm" if len(frames) > 1 else None,
                          per_template=args.per_template,
                          metrics=(args.metrics or []) + (args.metric or []) or None, x=args.x,
                          fits=fits)
    except ValueError as e:  # e.g. an unknown --metrics name; the message lists the available ones
        print(f"plot_curves.py: {e}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
