"""Hydra callback: at the end of a multirun, say where the job folders are, and for a planted-bias sweep print the
effect of the bias against its weight at each N (bon/report/bias_sweep.py).

With the submitit launchers (hydra/launcher=local or slurm) each job runs in a process of its own, and its report
and ``results:`` line go to its job log (``<sweep dir>/.submitit/<job id>/*_log.out``), not to this console; this
line tells the user where to look. Registered in conf/config.yaml (hydra.callbacks).
"""
from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback


def sweep_summary(sweep_dir: str | Path) -> str:
    """One line: the sweep folder, the job folders that hold a report, and where submitit's job logs are.

    Args:
        sweep_dir: hydra.sweep.dir of the multirun.

    Returns:
        e.g. "sweep: 2 job folders with results in multirun/x: 0, 1 (job logs: multirun/x/.submitit)".
    """
    root = Path(sweep_dir)
    done = sorted((p.name for p in root.iterdir() if (p / "report.txt").is_file()), key=lambda n: (len(n), n)) \
        if root.is_dir() else []
    logs = root / ".submitit"
    return (f"sweep: {len(done)} job folders with results in {root}: {', '.join(done) or 'none'}"
            + (f" (job logs, each ending with its results: line: {logs})" if logs.is_dir() else ""))


def bias_table(sweep_dir: str | Path) -> str:
    """The planted-bias sweep's table over the job folders (bon/report/bias_sweep.py), also written to
    ``<sweep dir>/bias_sweep.csv``; "" when no job planted a bias."""
    from bon import store as st
    from bon.report.bias_sweep import format_sweep, sweep_rows

    root = Path(sweep_dir)
    rows = sweep_rows(sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
                      if root.is_dir() else [])
    if rows.empty:
        return ""
    st.write_text(root / "bias_sweep.csv", rows.to_csv(index=False))
    return format_sweep(rows) + f"\n(all rows: {root / 'bias_sweep.csv'})"


class SweepFolders(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        if config.get("dry_run"):  # the jobs printed their cost tables (bon/dry_run.py); add them up
            from bon.dry_run import JOBS, table, total

            print(table(total(JOBS), f"dry run: expected cost, sum over {len(JOBS)} jobs") if JOBS else
                  "dry run: the jobs ran in processes of their own (a submitit launcher): each job log holds its "
                  "table, and no sum is printed here", flush=True)
            JOBS.clear()
            return
        table = bias_table(config.hydra.sweep.dir)
        if table:
            print(table, flush=True)
        print(sweep_summary(config.hydra.sweep.dir), flush=True)
