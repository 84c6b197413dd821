"""Reports on a finished run, from its stored results: files, plots, text and W&B.

Consumers of stage outputs (STYLE.md 8): they read what the stages wrote (curves.csv, differences.csv, run.json) or
the same frames handed over in memory, and never refit or recompute a number.

    files.py      read curves.csv / differences.csv
    plot.py       curves.png: one panel per metric, one line per PM variant, the Goodhart panels
    text.py       report.txt's tables (curves, paired differences) and the instrument checks in words
    titles.py     which rows are main or extra and their panel titles
    pareto.py     pareto.csv / pareto.png: each selector's PM reward against each sycophancy metric
    wandb_log.py  the W&B run (off by default)
"""
from __future__ import annotations

from bon.report.files import read_curves, read_differences
from bon.report.plot import plot_curves
from bon.report.text import format_checks, format_differences, format_table
from bon.report.wandb_log import log_run

__all__ = ["format_checks", "format_differences", "format_table", "log_run", "plot_curves", "read_curves",
           "read_differences"]
