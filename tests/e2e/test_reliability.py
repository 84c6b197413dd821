"""Faults on real models: out of memory, truncation counts, SIGTERM and SIGKILL mid-run (RELIABILITY.md).

The faults are the engine's, the store's and the process's, not the model's: the PM is the tiny Llama-3-style model
(prompted) or the tiny Llama reward model, and the killed runs sample with the tiny Llama policy (tests/conftest.py)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bon import pipeline
from bon.stages import results, sample, score
from bon import store as st
from bon.chat import Prompt
from bon.data import bundled_dir, load
from bon.scoring import NON_SYCOPHANTIC, make_pm
from runs import cfg_of as compose_config
from conftest import build_tiny, tiny_models

ROOT = Path(__file__).resolve().parents[2]


def cfg_of(*overrides):
    return compose_config("experiment=demo", *overrides)


def test_hf_sampler_gets_max_model_len():
    """sampler.max_model_len was hashed into the sample key but never reached the HF sampler."""
    cfg = cfg_of("sampler=hf", "sampler.max_model_len=64")
    assert sample.backend_kwargs("hf", cfg.sampler)["max_model_len"] == 64


# ------------------------------------------------------------------------------------------------ out of memory
def inject_oom(monkeypatch, engine, error):
    """Make the engine's next forward raise ``error`` once, then run normally; returns the list of raised errors."""
    body, real, raised = engine.body, engine.body.forward, []

    def forward(*args, **kwargs):
        if not raised:
            raised.append(error)
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(body, "forward", forward)
    return raised


PROMPTS = [Prompt.of(e.conversation, e.prefill, e.key) for e in load([bundled_dir()], kinds=["answer"]).examples[:3]]
REPLIES = [["Canberra.", "I think it is Sydney, but I am not sure at all.", "No idea."]] * 3


@pytest.fixture(scope="module")
def pm(tiny):
    return make_pm("prompted", model=str(tiny / "llama"), token_budget=256)


@pytest.mark.parametrize("error", [RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), MemoryError(),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: "
                                                "can't allocate memory: you tried to allocate 1 GB. Out of memory")])
def test_oom_halves_the_batch_retries_and_gives_the_same_scores(pm, monkeypatch, error):
    from bon.scoring.engine import counts, counts_since

    clean = pm.score_groups(PROMPTS, REPLIES, NON_SYCOPHANTIC, progress=False)
    budget, before = pm.engine.token_budget, counts(pm)
    raised = inject_oom(monkeypatch, pm.engine, error)
    got = pm.score_groups(PROMPTS, REPLIES, NON_SYCOPHANTIC, progress=False)
    assert raised == [error]
    assert counts_since(pm, before) == {"truncated": 0, "oom_retries": 1}
    assert pm.engine.token_budget == budget // 2  # smaller batches from now on
    # exactly the scores of an uninjected run at the halved budget; the full budget's to float tolerance (other
    # batch shapes round differently in the last bits)
    halved = pm.score_groups(PROMPTS, REPLIES, NON_SYCOPHANTIC, progress=False)
    for a, b, c in zip(clean, got, halved):
        np.testing.assert_array_equal(b, c)
        np.testing.assert_allclose(a, b, atol=1e-4)
    pm.engine.token_budget, pm.engine.kv_budget, pm.engine.naive_batch_size = budget, 4 * budget, 8


def test_other_errors_are_not_retried(pm, monkeypatch):
    from bon.scoring.engine import counts

    before = counts(pm)
    inject_oom(monkeypatch, pm.engine, RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        pm.score_groups(PROMPTS[:1], REPLIES[:1], progress=False)
    assert counts(pm) == before


# ------------------------------------------------------------------------------------------------ truncation counts
def test_score_facts_count_truncations_per_variant_exactly(tmp_path, monkeypatch, tiny_run):
    """2 real truncations per variant are reported as 2 per variant (a running total summed over chunks and carried
    across variants once made it 5 and 11), and an OOM retry in one variant is counted in that variant only."""
    cfg = cfg_of(*tiny_run, "m=3", "ns=[1,3]", "pm.max_length=300", "chunk_prompts=1", f"store={tmp_path}/store")
    examples = load([bundled_dir()], kinds=["answer"]).examples[:3]
    long = "very " * 400  # ~400 tokens: over max_length in both variants; the others fit
    completions = [["Canberra.", long, "No."], ["Paris.", "Rome.", long], ["Yes.", "No.", "Maybe."]]
    real_load = score.load_pm

    def load_pm_with_one_oom(c):  # fault injection on the real PM: its first forward runs out of memory
        model = real_load(c)
        inject_oom(monkeypatch, model.engine, RuntimeError("CUDA out of memory"))
        return model

    monkeypatch.setattr(score, "load_pm", load_pm_with_one_oom)
    ctx = pipeline.Context(cfg, [1, 3], st.Store(cfg.store), tmp_path / "run")
    out = score.score_stage(ctx, "s" * 16, examples, completions)
    assert ctx.facts["score[standard]"] == {"truncated": 2, "oom_retries": 1}
    assert ctx.facts["score[non_sycophantic]"] == {"truncated": 2, "oom_retries": 0}
    assert "1 out-of-memory retries" in results.facts_text(ctx.facts, {}, 0.0)
    # reused from the store, the facts are the same
    ctx2 = pipeline.Context(cfg, [1, 3], st.Store(cfg.store), tmp_path / "run2")
    again = score.score_stage(ctx2, "s" * 16, examples, completions)
    assert ctx2.facts == ctx.facts
    for v in out:
        np.testing.assert_array_equal(out[v][1], again[v][1])


# ------------------------------------------------------------------------------------------------ SIGTERM, SIGKILL
# The demo pipeline on the tiny models: 6 answer items (24 prompts), one PM variant, 2 samples of <= 16 tokens, one
# prompt per chunk so that a kill lands between chunks (a tiny model takes a fraction of a second a prompt: 24 chunks
# leave the kill, sent after the 3rd, well inside the stage).
TINY = ["experiment=demo", "dataset.max_items=6", "dataset.kinds=[answer]", "metrics=[reward,answer_sycophancy]",
        "variants=standard_only", "m=2", "ns=[1,2]", "sampler=hf", "sampler.max_new_tokens=16", "chunk_prompts=1",
        "wandb.mode=disabled", "n_boot=100", "progress=false", "seed=3"]


def start(tmp, store, run):
    models = tiny_models(build_tiny())
    return subprocess.Popen([sys.executable, "-m", "bon.run", *TINY, *models, f"store={tmp}/{store}",
                             f"run_dir={tmp}/{run}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def finish(tmp, store, run):
    p = start(tmp, store, run)
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-3000:]
    return out, err


def wait_for(pattern: str, root: Path, n: int, p, timeout=600):
    deadline = time.time() + timeout
    while len(list(root.glob(pattern))) < n:
        assert p.poll() is None, f"the job ended before {n} x {pattern}: " + p.stderr.read()[-3000:]
        assert time.time() < deadline, f"no {n} x {pattern} in {timeout} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """An uninterrupted run with its own fresh store: its curves.csv bytes and its store."""
    tmp = tmp_path_factory.mktemp("clean")
    finish(tmp, "store", "run")
    return (tmp / "run" / "curves.csv").read_bytes(), tmp / "store"


def fresh_store(tmp, clean_store) -> Path:
    """A new, empty store: every sample/score/judge artifact is recomputed. (The instrument checks score labelled
    sets, never this run's samples, and are shared by the session's runs through BON_CHECK_STORE, tests/conftest.)"""
    assert not (clean_store / "check").exists()  # they live in the shared check store, not in the run's store
    return tmp / "store"


def test_sigkill_mid_sampling_and_mid_scoring_then_resume_gives_the_same_curves(tmp_path, clean_run):
    curves, clean_store = clean_run
    store = fresh_store(tmp_path, clean_store)
    p = start(tmp_path, "store", "run")  # killed mid-sampling
    wait_for("sample/*/chunks-1/*.json", store, 3, p)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    assert not list(store.glob("sample/*/DONE")) and not list(store.glob("score/*"))
    p = start(tmp_path, "store", "run")  # resumes sampling, killed mid-scoring
    wait_for("score/*/chunks-1/*.json", store, 3, p)
    p.send_signal(signal.SIGKILL)
    p.communicate()
    assert list(store.glob("sample/*/DONE")) and not list(store.glob("score/*/DONE"))
    done = {c: c.stat().st_mtime_ns for c in store.glob("s*/*/chunks-1/*.parquet") if c.with_suffix(".json").exists()}
    out, _ = finish(tmp_path, "store", "run")
    assert all(c.stat().st_mtime_ns == t for c, t in done.items())  # finished chunks were reused, not redone
    assert (tmp_path / "run" / "curves.csv").read_bytes() == curves


def test_sigterm_saves_finished_chunks_exits_143_and_says_how_to_resume(tmp_path, clean_run):
    curves, clean_store = clean_run
    store = fresh_store(tmp_path, clean_store)
    p = start(tmp_path, "store", "run")
    wait_for("sample/*/chunks-1/*.json", store, 2, p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err[-3000:]
    assert "stopped by SIGTERM" in err and f"saved in the store {store}" in err and "To resume, rerun" in err
    assert "bon.run" in err and f"store={store}" in err  # the command to rerun, with its overrides
    assert "Traceback" not in err
    saved = list(store.glob("sample/*/chunks-1/*.json"))
    assert len(saved) >= 2 and not list(store.glob("sample/*/DONE"))
    assert not list(store.rglob("*.tmp"))  # nothing half-written left behind
    _, err = finish(tmp_path, "store", "run")
    assert (tmp_path / "run" / "curves.csv").read_bytes() == curves
