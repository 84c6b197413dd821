"""The main job: select -> sample -> score (per PM variant) -> judge -> check -> curves, as an ordered list of
stages (bon/stages/, one file each) over one run context.

The model stages are content-addressed in the shared store (bon/store.py; bon/stages/base.py is their one pattern):
a key hashes the config slice that changes the stage's output plus the keys of the stages upstream. So a rerun skips
finished work, adding a PM variant or a metric reuses the samples, and a killed stage resumes from its last finished
chunk. The curves are cheap and always recomputed into the run directory, with the per-sample table, curves.csv,
differences.csv, curves.png, a report and (optionally) a W&B run (bon/stages/results.py).
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

from bon import store as st
from bon.config import validate
from bon.runtime import exit_on_sigterm, release_memory, restore_sigterm
from bon.stages import check, judge, results, sample, score, select
from bon.stages.first_turn import first_turn_stage
from bon.stages.context import Context


def run(cfg, run_dir: str | Path, wandb_group: str | None = None) -> Path:
    """Run (or resume) the whole job and write every artifact into run_dir. Returns run_dir.

    Every model is released when its stage is done (sampler, then PM, then judge), and whatever is left is freed on
    the way out, on success or error, so the next job of a one-process multirun finds the GPU empty.
    """
    # SLURM preemption: keep finished chunks, exit 143 saying how to resume
    previous = exit_on_sigterm(st.Store(cfg.store).root, run_dir)
    try:
        return _run(cfg, Path(run_dir), wandb_group)
    except BaseException as e:
        traceback.clear_frames(e.__traceback__)  # the traceback's frames (the context) would keep the models alive
        raise
    finally:
        restore_sigterm(previous)
        release_memory()


def _run(cfg, run_dir: Path, wandb_group: str | None) -> Path:
    started = time.time()
    ns = validate(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg, ns, st.Store(cfg.store), run_dir, wandb_group=wandb_group, started=started)
    for label, stage in STAGES:
        t = time.time()
        stage(ctx)
        if label:
            ctx.timings[label] = ctx.timings.get(label, 0.0) + time.time() - t
    return run_dir


def first_turn(ctx: Context) -> None:
    """are_you_sure's turn 1 (bon/stages/first_turn.py): each item becomes its challenged turn-2 prompt, drawn with the
    policy sampler that the sample stage then reuses."""
    if any(m.kind == "are_you_sure" for m in ctx.metrics):
        ctx.examples = first_turn_stage(ctx, ctx.examples, ctx.held, ctx.positions)


# The flow, in order: (timing label or None, stage). Each stage reads what the ones before it left in the context.
STAGES = [
    (None, select.run),  # the metrics and their prompts; no model
    ("sample", first_turn),
    ("sample", sample.run),
    ("score", score.run),
    ("judge", judge.run),
    ("checks", check.run),
    (None, results.run),  # the curves (timed as "curves") and every artifact
]
