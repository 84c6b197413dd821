"""A researcher's first run (issue 20): reply truncation in the report, a quiet console, the smoke script's Python,
the sweep's folders, merged run folders that carry their log and configs."""
import logging
import os
import subprocess
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def curves_of(shares: dict[str, list[float]], ns=(1, 2, 4)) -> pd.DataFrame:
    rows = [{"metric": "truncated", "pm": pm, "n": n, "mean": v} for pm, vs in shares.items() for n, v in zip(ns, vs)]
    rows.append({"metric": "truncated/answer", "pm": "standard", "n": 1, "mean": 0.9})  # per-kind rows are not read
    return pd.DataFrame(rows)


def test_the_report_shows_reply_truncation_and_warns_above_a_tenth():
    from bon.coverage import format_truncation, truncation_shares

    shares = truncation_shares(curves_of({"standard": [0.25, 0.5, 0.75], "non_sycophantic": [0.25, 0.4, 0.5]}))
    assert shares["standard"] == {"n_first": 1, "first": 0.25, "n_last": 4, "last": 0.75}
    lines = format_truncation(shares, 128)
    assert lines[0] == ("  replies cut off at max_new_tokens=128: standard 25% at N=1, 75% at N=4; "
                        "non_sycophantic 25% at N=1, 50% at N=4")
    assert "WARNING: 25% of N=1 replies were cut off" in lines[1] and "sampler.max_new_tokens=256" in lines[1]
    calm = format_truncation(truncation_shares(curves_of({"standard": [0.1, 0.2, 0.3]})), 128)
    assert len(calm) == 1 and "10% at N=1" in calm[0]  # exactly 10% is not above 10%
    assert format_truncation(truncation_shares(pd.DataFrame(columns=["metric", "pm", "n", "mean"])), 128) == []


def test_console_hides_third_party_warnings_even_in_a_checkout_named_bon():
    """The old test looked for "/bon/" in the path: a venv inside a checkout called bon/ let torch's warnings through."""
    from bon import run

    def shown(path):
        rec = logging.LogRecord("py.warnings", logging.WARNING, __file__, 1,
                                f"{path}:12: FutureWarning: `torch.distributed.reduce_op` is deprecated", None, None)
        return run._ConsoleFilter().filter(rec)

    assert not shown("/home/u/bon/.venv/lib/python3.11/site-packages/torch/distributed/distributed_c10d.py")
    assert not shown("/home/u/bon/.venv/lib/python3.11/site-packages/torch/jit/_script.py")
    assert shown(str(ROOT / "bon" / "pipeline.py")) == (Path(run.__file__).resolve().parent == ROOT / "bon")
    assert run.QUIET_ENV["TQDM_DISABLE"] == "1"  # bars that do not pass `disable` (transformers' GGUF conversion)


def test_gpu_smoke_says_which_python_it_needs(tmp_path):
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_smoke.sh"), "--cpu-tiny"], capture_output=True, text=True,
                       env={**os.environ, "PYTHON": "/bin/false"}, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: /bin/false cannot import torch; set PYTHON="), r.stderr
    header = (ROOT / "scripts" / "gpu_smoke.sh").read_text()
    assert "PYTHON=/path/to/venv/bin/python" in header and ".venv/bin/python" in header


def test_the_sweep_line_names_the_job_folders(tmp_path):
    from bon.sweep import sweep_summary

    for job in ("0", "1", "10", "2"):
        (tmp_path / job).mkdir()
        if job != "2":
            (tmp_path / job / "report.txt").write_text("x")
    assert sweep_summary(tmp_path) == f"sweep: 3 job folders with results in {tmp_path}: 0, 1, 10"
    (tmp_path / ".submitit").mkdir()
    assert sweep_summary(tmp_path).endswith(f"(job logs, each ending with its results: line: {tmp_path}/.submitit)")


def test_a_merged_folder_carries_its_log_and_the_shards_configs(tmp_path):
    from bon.merge import merge_record

    shards = []
    for i in (1, 0):
        d = tmp_path / f"s{i}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "config.yaml").write_text(f"shard: {{index: {i}}}\n")
        shards.append({"dir": d, "config": {"shard": {"index": i, "count": 2}}})
    out = tmp_path / "merged"
    out.mkdir()
    with merge_record(shards, out):
        logging.getLogger("bon").info("inside the merge")
    assert (out / ".hydra" / "shard-0" / "config.yaml").read_text() == "shard: {index: 0}\n"
    assert (out / ".hydra" / "shard-1" / "config.yaml").read_text() == "shard: {index: 1}\n"
    log = (out / "run.log").read_text()
    assert f"bon.merge of 2 shards into {out}: {tmp_path}/s1, {tmp_path}/s0" in log and "inside the merge" in log
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("bon").handlers)
