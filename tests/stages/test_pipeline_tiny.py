"""The pipeline's plumbing on the tiny real-family models (tests/conftest.py): a new variant reusing the samples,
resume after SIGKILL, a multirun, the PM's reward of prefill + completion. The same stages, store and CLI as the
demo's own run on the bundled SmolLM2 (tests/stages/test_pipeline.py), on a real Llama-3-style policy and Llama reward
model, in seconds instead of minutes. A file of its own so that pytest-xdist (whole files per worker) can run it
beside the SmolLM2 run rather than after it."""
import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from runs import TINY, bon_run


@pytest.fixture(scope="module")
def tiny_first_run(tmp_path_factory, tiny_run):
    """TINY on the tiny models, with its own store: what the reuse tests build on."""
    tmp = tmp_path_factory.mktemp("tinypipe")
    r = bon_run(*TINY, *tiny_run, f"store={tmp}/store", f"run_dir={tmp}/run1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp, r


def test_new_variant_reuses_samples(tiny_first_run, tiny_run):
    tmp, _ = tiny_first_run
    r = bon_run(*TINY, *tiny_run, f"store={tmp}/store", f"run_dir={tmp}/run3", "variants=standard_only",
                "+variants.terse={system: Prefer short answers.}")
    assert r.returncode == 0, r.stderr[-3000:]
    reused = json.loads((tmp / "run3" / "run.json").read_text())["reused"]
    assert "sample" in reused and "score[standard]" in reused and "score[terse]" not in reused


def test_resume_after_kill(tmp_path, tiny_run):
    """SIGKILL mid-sampling; the rerun keeps the finished chunks and ends with the same samples as a clean run.
    On the tiny models a prompt samples in a fraction of a second, so the stage has 4 items (16 prompts) of up to 24
    tokens: the kill lands well inside it."""
    args = [*TINY, *tiny_run, "chunk_prompts=1", "dataset.kinds=[answer]", "metrics=[reward]",
            "variants=standard_only", "dataset.max_items=4", "sampler.max_new_tokens=24"]
    p = subprocess.Popen([sys.executable, "-m", "bon.run", *args, f"store={tmp_path}/store", f"run_dir={tmp_path}/a"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((tmp_path / "store").rglob("sample/*/chunks-1/*.parquet"))) < 3:
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_chunks = {c: c.stat().st_mtime_ns for c in (tmp_path / "store").rglob("sample/*/chunks-1/*.parquet")}
    assert 3 <= len(done_chunks) < 16, "the kill should land mid-stage"
    assert not list((tmp_path / "store").rglob("sample/*/DONE"))
    r = bon_run(*args, f"store={tmp_path}/store", f"run_dir={tmp_path}/a")
    assert r.returncode == 0, r.stderr[-3000:]
    assert all(c.stat().st_mtime_ns == t for c, t in done_chunks.items())  # finished chunks were not redone
    clean = bon_run(*args, f"store={tmp_path}/clean", f"run_dir={tmp_path}/b")
    assert clean.returncode == 0
    resumed = pd.read_parquet(tmp_path / "a" / "samples.parquet")
    fresh = pd.read_parquet(tmp_path / "b" / "samples.parquet")
    pd.testing.assert_frame_equal(resumed, fresh)


def test_multirun_two_jobs(tmp_path, tiny_run):
    r = bon_run("-m", *TINY, *tiny_run, "dataset.kinds=[answer]", "metrics=[reward,answer_sycophancy]", "seed=0,1",
                f"store={tmp_path}/store", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*"))
    assert [j.name for j in jobs] == ["0", "1"]
    c0, c1 = (pd.read_csv(j / "curves.csv") for j in jobs)
    assert list(c0.columns) == list(c1.columns) and not c0["mean"].equals(c1["mean"])  # different seeds
    assert [json.loads((j / "run.json").read_text())["config"]["seed"] for j in jobs] == [0, 1]


def test_pm_rates_prefill_plus_completion_once(tmp_path, tiny):
    """Prefilled prompts (are_you_sure: "The answer is ("): the stored reward is the PM's score of prefill + completion.
    The prompted PM (the demo's PM kind) on the tiny Llama-3-style model, which also samples."""
    pm_model = str(tiny / "llama")
    r = bon_run(*TINY, "policy=hf_model", f"policy.model={pm_model}", f"pm.model={pm_model}",
                "dataset.kinds=[are_you_sure]", "metrics=[reward]", "variants=standard_only", "m=2",
                "ns=[1,2]", f"store={tmp_path}/store", f"run_dir={tmp_path}/run")
    assert r.returncode == 0, r.stderr[-3000:]
    samples = pd.read_parquet(tmp_path / "run" / "samples.parquet")
    from bon.chat import Prompt
    from bon.data import bundled_dir, load
    from bon.scoring import Variant, make_pm

    examples = {e.key: e for e in load([bundled_dir()], kinds=["are_you_sure"]).examples}
    prefilled = samples[samples.key.map(lambda k: bool(examples[k].prefill))]
    assert len(prefilled) >= 2 and (prefilled.reply.str.count(r"The answer is \(") == 1).all()
    pm = make_pm("prompted", model=pm_model)
    for key, g in prefilled.groupby("key"):
        e = examples[key]
        want = pm.score_groups([Prompt.of(e.conversation, e.prefill, key)], [g.completion.tolist()],
                               Variant(name="standard"), progress=False)[0]
        assert abs(want - g["reward/standard"].to_numpy()).max() < 1e-4
