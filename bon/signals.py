"""SIGTERM (what SLURM sends before a preemption or at the time limit): stop now, keep what is finished, say how to
resume.

The handler abandons the chunk in flight at once rather than finishing it: SLURM's grace period before SIGKILL is
short (30 s by default) and a chunk can take longer. Nothing finished is lost: every chunk is written atomically
(temp file, then rename) as soon as it is done, and an abandoned write leaves only a temp file, removed on the way
out. The job exits with status 143 (128 + SIGTERM) and a message naming the store and the command to rerun.
"""
from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path

EXIT_CODE = 128 + signal.SIGTERM


class Preempted(SystemExit):
    """Raised in the main thread by the SIGTERM handler; a SystemExit, so ``except Exception`` lets it through."""


def resume_message(store: str | Path, argv: list[str] | None = None) -> str:
    argv = sys.argv if argv is None else argv
    cmd = shlex.join([Path(sys.executable).name, "-m", "bon.run", *argv[1:]])
    return (f"bon: stopped by SIGTERM. Finished chunks are saved in the store {store}; the chunk in flight was "
            f"abandoned. To resume, rerun the same command (finished stages and chunks are reused):\n  {cmd}")


def exit_on_sigterm(store: str | Path):
    """Install the SIGTERM handler (main thread only; elsewhere Python does not allow it, and it is a no-op).

    Returns the handler it replaced (None off the main thread), for :func:`restore_sigterm`.
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        print(resume_message(store), file=sys.stderr, flush=True)
        raise Preempted(EXIT_CODE)

    return signal.signal(signal.SIGTERM, handler)


def restore_sigterm(previous) -> None:
    """Put back the handler :func:`exit_on_sigterm` replaced, so an in-process caller keeps its own."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
