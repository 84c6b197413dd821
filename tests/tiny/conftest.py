"""Tiny random-weight checkpoints of real families (scripts/tiny_models.py), built once and cached.

The cache is keyed by the script's content hash (~/.cache/bon/tiny/<hash>, or $BON_TINY_CACHE/<hash>), built under a
file lock into a temporary folder and renamed into place, so two pytest-xdist workers never race or see half a build.
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "tiny_models.py"
FAMILIES = ("llama", "qwen2", "llama-rm")


def build_tiny() -> Path:
    digest = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("BON_TINY_CACHE", Path.home() / ".cache" / "bon" / "tiny"))
    root.mkdir(parents=True, exist_ok=True)
    final = root / digest
    with open(root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not all((final / f / "config.json").exists() for f in FAMILIES):
            tmp = root / f"{digest}.tmp{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run([sys.executable, str(SCRIPT), str(tmp)], check=True, capture_output=True)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    return final


@pytest.fixture(scope="session")
def tiny() -> Path:
    """Folder holding llama/, qwen2/ and llama-rm/."""
    return build_tiny()
