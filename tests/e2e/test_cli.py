"""What a user sees from ``python -m bon.run`` on a real (tiny) run: quiet logs, ``results:`` even when a late step
fails, ``resumed: k of n chunks done`` after an interruption, and a resume hint instead of a traceback on Ctrl-C.

The runs are the demo's on the tiny real-family models (tests/conftest.py): the console, the store and the signal
handling are the same whatever the model; the demo on the bundled SmolLM2 runs in tests/stages/test_pipeline.py."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

# One tiny real run: HF backend, 1 item per kind (11 prompts), 2 samples of <= 4 tokens; the tiny models are added
# by the tests (tiny_run).
TINY = ["experiment=demo", "sampler=hf", "dataset.max_items=1", "m=2", "sampler.max_new_tokens=4", "chunk_prompts=2"]
# A log record as Hydra's console handler prints it: [time][logger][LEVEL] - message; vLLM's own format: INFO 11-27 ...
RECORD = re.compile(r"^\[[^\]]*\]\[([^\]]+)\]\[([A-Z]+)\]", re.M)
VLLM_RECORD = re.compile(r"^(INFO|DEBUG) \d\d-\d\d ", re.M)


def bon_run(tmp_path, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "bon.run", *args, f"store={tmp_path}/store"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=1200)


def assert_quiet(r):
    out = r.stdout + r.stderr
    records = RECORD.findall(out)
    assert any(name == "bon" for name, _ in records)  # bon's own lines stay
    loud = [(n, lvl) for n, lvl in records if n.split(".")[0] != "bon" and lvl in ("INFO", "DEBUG")]
    assert not loud, loud
    assert not VLLM_RECORD.search(out) and "FutureWarning" not in out and "Loading weights" not in out
    assert "sample:" in r.stderr  # the progress bars stay


def test_tiny_run_quiet_results_after_a_late_failure_and_resume(tmp_path, tiny_run):
    # 1. W&B cannot write its folder (a file named wandb sits where it goes): the run fails after its results.
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "wandb").write_text("in the way")
    r = bon_run(tmp_path, *TINY, *tiny_run, f"run_dir={tmp_path}/a", f"hydra.run.dir={tmp_path}/a")
    assert r.returncode == 1, r.stderr[-3000:]
    assert f"results: {tmp_path}/a" in r.stdout and (tmp_path / "a" / "curves.csv").is_file()
    assert "Traceback" not in r.stdout + r.stderr
    assert "error: after the results were written" in r.stderr and "Traceback" in (tmp_path / "a" / "run.log").read_text()
    assert_quiet(r)

    # 2. Drop the last two chunks of the sample stage and its DONE marker, as a kill mid-stage leaves the store.
    [stage] = (tmp_path / "store" / "sample").iterdir()
    chunks = sorted((stage / "chunks-2").glob("*.json"))
    n_prompts = json.loads((tmp_path / "a" / "run.json").read_text())["n_prompts"]
    assert len(chunks) == -(-n_prompts // 2) >= 3  # chunk_prompts=2
    for p in [stage / "DONE", stage / "table.parquet", *chunks[-2:], *(c.with_suffix(".parquet") for c in chunks[-2:])]:
        p.unlink()
    r = bon_run(tmp_path, *TINY, *tiny_run, f"hydra.run.dir={tmp_path}/b")
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(rf"sample: resumed: {len(chunks) - 2} of {len(chunks)} chunks done", r.stdout), r.stdout
    assert f"results: {tmp_path}/b" in r.stdout and (tmp_path / "b" / "wandb").is_dir()  # W&B offline, quietly
    assert_quiet(r)


def test_ctrl_c_prints_how_to_resume(tmp_path, tiny_run):
    # A job started in the background by a non-interactive shell (as CI may run the suite) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: restore the default, as a terminal has it.
    p = subprocess.Popen([sys.executable, "-m", "bon.run", *TINY, *tiny_run, f"store={tmp_path}/store",
                          f"hydra.run.dir={tmp_path}/run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in p.stdout:  # the first stage has started: the policy is loading
        if "sampling with backend" in line:
            break
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 130, err[-3000:]
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in err
    assert "interrupted: finished chunks are saved in the store" in err
    assert "python -m bon.run experiment=demo sampler=hf" in err  # the command to rerun
