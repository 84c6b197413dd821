"""Time `python -m bon.run experiment=demo` from an empty stage store, then again (everything reused).

Usage: python scripts/bench_demo.py [--quick]. The model cache (the one-time GGUF conversion) is kept: it belongs to
installation. Writes the "demo" section of BENCHMARKS.md (not with --quick); the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from benchlib import emit, update_section  # noqa: E402


def run(args: list[str]) -> tuple[float, dict]:
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "bon.run", *args], cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode != 0:
        sys.exit(f"demo run failed ({r.returncode}):\n{r.stderr[-4000:]}")
    last = r.stdout.strip().splitlines()[-1]
    run_dir = Path(last.removeprefix("results: "))
    return wall, json.loads((run_dir / "run.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller demo (2 items per kind, m=4)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = ["experiment=demo", f"store={tmp}/store", "progress=false"]
        if args.quick:
            base += ["dataset.max_items=2", "m=4", "ns=[1,2,4]", "sampler.max_new_tokens=16"]
        first, info = run(base + [f"run_dir={tmp}/run1"])
        second, info2 = run(base + [f"run_dir={tmp}/run2"])
    stages = info["timings_s"]
    res = {"first_s": round(first, 1), "second_s": round(second, 1), "stages_s": stages,
           "reused_second": info2["reused"], "prompts": info["n_prompts"], "m": info["m"],
           "backend": info["facts"]["sampler_backend"], "quick": args.quick}
    if not args.quick:
        rows = "\n".join(f"| {k} | {v:.1f} |" for k, v in stages.items())
        update_section("demo", f"""## demo: `make demo` (python -m bon.run experiment=demo)

{info['n_prompts']} prompts x M={info['m']} samples, SmolLM2-135M as policy, PM and judge, 2 PM variants, sampler
backend {info['facts']['sampler_backend']} (auto); fresh stage
store, model already converted (installation). Target: first run < 10 min, second run < 1 min.

| run | wall s |
|---|---:|
| first (everything computed) | {first:.1f} |
| second (every stage reused: {', '.join(info2['reused'])}) | {second:.1f} |

Stages of the first run (s):

| stage | s |
|---|---:|
{rows}
""")
    emit(res)


if __name__ == "__main__":
    main()
