"""Shared helpers for scripts/bench_*.py: update one section of BENCHMARKS.md, print the JSON headline."""
from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}"


def update_section(name: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the section between `<!-- bench:NAME -->` markers, atomically."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = f"{start}\n{body.rstrip()}\n\n_Last run: {stamp} on {machine()}._\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nEach section is rewritten by its script (`scripts/bench_*.py`).\n"
    pat = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bench-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def emit(obj: dict) -> None:
    """The last line of every bench script: one JSON object with its headline figures. A NaN or infinite figure
    (e.g. a CI half-width bootstrap_ci gives none for, on too few items) is written as null: strict JSON has no NaN."""
    print(json.dumps(_finite(obj), sort_keys=True, allow_nan=False), flush=True)


def _finite(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def run_peak_rss(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
    """Run ``cmd`` to completion and measure it: wall seconds, CPU seconds and peak resident memory.

    Peak RSS is ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest resident set of any waited-for descendant, so
    call this from a process that has run no other big child (a bench script, not a test runner).

    Returns:
        {"returncode", "wall_s", "cpu_s", "peak_rss_mib", "stdout", "stderr"}.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"returncode": r.returncode, "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": after.ru_maxrss / 1024,
            "stdout": r.stdout, "stderr": r.stderr}


BENCHMARKS_JSON = BENCHMARKS_MD.with_name("BENCHMARKS.json")


def record_throughput(stage: str, model: str, rate: float, unit: str, backend: str, source: str,
                      path: Path = BENCHMARKS_JSON) -> None:
    """Add (or replace) one machine-readable throughput in BENCHMARKS.json, keyed by (device, stage, model, backend):
    what ``python -m bon.run ... dry_run=true`` (bon/dry_run.py) divides its token counts by.

    Args:
        stage: "sample" (generated tokens per wall s), "score" (PM tokens computed per wall s) or "judge"
            (LM judge calls per wall s).
        model: the model reference as a config names it (e.g. "bundled:smollm2-135m-instruct").
        rate: the measured figure, per wall-clock second on this machine and load.
        unit: the rate's unit, in words.
        backend: the sampler backend (vllm, hf) or the PM name (prompted, classifier).
        source: the script and the BENCHMARKS.md section with the full figures.
    """
    from bon.dry_run import device_name

    rec = {"device": device_name(), "stage": stage, "model": model, "backend": backend, "rate": round(rate, 2),
           "unit": unit, "source": source, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "machine": machine(), "load_1min": round(os.getloadavg()[0], 2)}
    data = json.loads(path.read_text()) if path.exists() else {}
    key = ("device", "stage", "model", "backend")
    records = [r for r in data.get("records", []) if tuple(r.get(k) for k in key) != tuple(rec[k] for k in key)]
    text = json.dumps({**data, "records": records + [rec]}, indent=1) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".bench-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
