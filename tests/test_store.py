"""Store integrity: stage keys cover every input that changes outputs (and no numerics-only knob), one lock per key,
and a corrupt or foreign artifact is recomputed, never trusted. No model is loaded here."""
import json
import logging
import multiprocessing
import os
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from bon import keys, models
from bon import store as st
from bon.data import bundled_dir, load
from bon.scoring import Variant
from bon.stages import check, judge, score
from runs import cfg_of as compose_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = load([bundled_dir()], kinds=["answer"]).examples[:4]


def cfg_of(*overrides):
    return compose_config("experiment=demo", "sampler=hf", *overrides)


def all_keys(cfg) -> dict:
    """The key of every stage for this config (sample, score per variant, judge per task), built as bon/stages/
    builds them."""
    sample = st.stage_key("sample", keys.sample_spec(cfg, EXAMPLES, cfg.sampler.backend))
    out = {"sample": sample}
    for name in ("standard", "non_sycophantic"):
        v = cfg.variants[name] or {}
        variant = Variant(name=name, prefix=[dict(t) for t in v.get("prefix") or []], system=v.get("system"))
        out[f"score[{name}]"] = st.stage_key("score", {"samples": sample, "pm": score.pm_spec(cfg),
                                                       "variant": {"prefix": variant.prefix,
                                                                   "system": variant.system}})
    for task in ("positivity", "correctness", "positivity_pairwise"):
        out[f"judge[{task}]"] = st.stage_key("judge", judge.judge_stage_spec(cfg, sample, task, EXAMPLES))
    return out


@pytest.fixture(scope="module")
def base_keys():
    return all_keys(cfg_of("judge.positivity=lm"))


@pytest.mark.parametrize("override", [
    "pm.token_budget=64", "judge.token_budget=64", "sampler.prompts_per_batch=1", "chunk_prompts=3",
    "sampler.gpu_memory_utilization=0.5", "sampler.dtype=float32", "pm.dtype=float32", "pm.device=cpu",
    "sampler.device=cpu", "progress=false", "n_boot=10",
])
def test_numerics_only_settings_and_resolved_autos_keep_every_key(base_keys, override):
    # on this CPU machine dtype auto *is* float32 and device auto *is* cpu: the same run, the same keys
    assert all_keys(cfg_of("judge.positivity=lm", override)) == base_keys


@pytest.mark.parametrize("override, changed", [
    ("sampler.dtype=bfloat16", "sample"), ("pm.dtype=bfloat16", "score"), ("judge.dtype=bfloat16", "judge"),
    ("sampler.max_model_len=512", "sample"), ("seed=1", "sample"), ("sampler.temperature=0.7", "sample"),
    ("pm.max_length=300", "score"), ("pm.overflow=error", "score"), ("judge.positivity=lexicon", "judge[positivity"),
])
def test_each_output_setting_changes_its_key(base_keys, override, changed):
    got = all_keys(cfg_of("judge.positivity=lm", override))
    for stage, key in got.items():
        # a changed stage gets a new key, and so does everything downstream of a new sample key
        moved = stage.startswith(changed) or (changed == "sample")
        assert (key != base_keys[stage]) == moved, (stage, override)


def test_gpu_placement_changes_every_key(base_keys, monkeypatch):
    """auto resolves on a GPU to cuda + bfloat16: a GPU run never reuses a CPU run's artifacts."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cfg = cfg_of("judge.positivity=lm")
    assert keys.pm_identity(cfg)["device"] == "cuda" and keys.pm_identity(cfg)["dtype"] == "bfloat16"
    got = all_keys(cfg)
    assert all(got[k] != base_keys[k] for k in got)


@pytest.mark.parametrize("where, name, value", [
    ("bon.scoring.prompted", "JUDGE_TEMPLATE", "Is this reply good? {conversation} {response}"),
    ("bon.scoring.prompted", "YES_WORDS", ("yes",)),
    ("bon.scoring.prompted", "NO_WORDS", ("no",)),
    ("bon.scoring.prompted", "ROLE_NAMES", {"system": "S", "user": "Human", "assistant": "AI"}),
    ("bon.judges.lm", "POSITIVITY", "Is the comment nice? {noun} {Noun} {text} {response}"),
    ("bon.judges.lm", "CORRECTNESS", "Right? {question} {correct_answer} {response}"),
    ("bon.judges.lm", "PAIRWISE", "A or B? {noun} {Noun} {text} {response}"),
])
def test_prompt_texts_in_code_change_keys(base_keys, monkeypatch, where, name, value):
    import importlib

    monkeypatch.setattr(importlib.import_module(where), name, value)
    got = all_keys(cfg_of("judge.positivity=lm"))
    changed = {k for k in got if got[k] != base_keys[k]}
    if where == "bon.scoring.prompted":
        expect = {"score[standard]", "score[non_sycophantic]"}
        if name in ("YES_WORDS", "NO_WORDS"):  # the LM judge reads the same yes/no words
            expect |= {"judge[positivity]", "judge[correctness]", "judge[positivity_pairwise]"}
    else:
        expect = {"judge[" + {"POSITIVITY": "positivity", "CORRECTNESS": "correctness",
                              "PAIRWISE": "positivity_pairwise"}[name] + "]"}
    assert changed == expect


def test_judge_key_holds_the_judged_prompts():
    # answer_grading auto judges only sentence answers, judge all of them: same samples, different tables
    cfg = cfg_of("judge.positivity=lm")
    sample = st.stage_key("sample", keys.sample_spec(cfg, EXAMPLES, cfg.sampler.backend))
    every = st.stage_key("judge", judge.judge_stage_spec(cfg, sample, "correctness", EXAMPLES))
    some = st.stage_key("judge", judge.judge_stage_spec(cfg, sample, "correctness", EXAMPLES[:2]))
    assert every != some
    assert every == st.stage_key("judge", judge.judge_stage_spec(cfg, sample, "correctness", list(EXAMPLES)))


def test_pairwise_check_is_keyed_by_the_pairwise_question(monkeypatch):
    import bon.judges.lm as lm

    def check_keys():
        return {mode: st.stage_key("check", check.positivity_check_spec(
            cfg_of("judge.positivity=lm", f"judge.feedback={mode}"), "labels")) for mode in ("scalar", "pairwise")}

    before = check_keys()
    monkeypatch.setattr(lm, "PAIRWISE", "A or B? {noun} {Noun} {text} {response}")
    after = check_keys()
    assert after["pairwise"] != before["pairwise"] and after["scalar"] == before["scalar"]
    monkeypatch.setattr(lm, "POSITIVITY", "Nice? {noun} {Noun} {text} {response}")
    last = check_keys()
    assert last["scalar"] != after["scalar"] and last["pairwise"] == after["pairwise"]


def test_lexicon_judge_identity_is_its_version_and_word_list():
    import importlib.metadata
    import hashlib

    ident = keys.judge_identity(cfg_of().judge, "positivity")
    dist = importlib.metadata.distribution("vaderSentiment")
    words = Path(dist.locate_file("vaderSentiment/vader_lexicon.txt")).read_bytes()
    from bon.judges.lexicon import LexiconJudge

    assert ident == {"name": "lexicon", "vaderSentiment": dist.version,
                     "lexicon": hashlib.sha256(words).hexdigest()[:16], "feedback_lists": LexiconJudge.identity()}


def fake_model(tmp_path) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llama", "torch_dtype": "float32"}')
    (d / "tokenizer.json").write_text('{"vocab": ["a", "b"]}')
    (d / "tokenizer_config.json").write_text('{"chat_template": "{{ messages }}"}')
    (d / "model.safetensors").write_bytes(b"\0" * 4096)
    return d


def test_model_fingerprint_sees_files_replaced_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "SMALL_FILE", 1024)  # model.safetensors (4 KiB) counts as a big weight file here
    d = fake_model(tmp_path)
    first = models.fingerprint(str(d))
    assert models.fingerprint(str(d)) == first  # stable (and memoised: the folder is hashed once per process)
    cfg = cfg_of(f"policy.model={d}", f"pm.model={d}")
    k0 = all_keys(cfg)
    # a chat template edited in place, same size: content hash
    (d / "tokenizer_config.json").write_text('{"chat_template": "{{ messagez }}"}')
    second = models.fingerprint(str(d))
    assert second != first
    k1 = all_keys(cfg)
    assert k1["sample"] != k0["sample"] and k1["score[standard]"] != k0["score[standard]"]
    # weights replaced in place with the same size: the mtime moves
    st_ = (d / "model.safetensors").stat()
    (d / "model.safetensors").write_bytes(b"\1" * 4096)
    os.utime(d / "model.safetensors", ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    assert models.fingerprint(str(d)) != second
    # a new file (e.g. generation_config.json) changes it; a hidden lock file does not
    third = models.fingerprint(str(d))
    (d / ".lock").write_text("")
    assert models.fingerprint(str(d)) == third
    (d / "generation_config.json").write_text("{}")
    assert models.fingerprint(str(d)) != third


# ------------------------------------------------------------------------------------------------ run_chunked
COLS = ["key", "sample", "value"]


def squares(calls: list | None = None, delay: float = 0.0):
    def compute(chunk):
        if calls is not None:
            calls.append(list(chunk))
        time.sleep(delay)
        return pd.DataFrame([(f"k{i}", 0, float(i * i)) for i in chunk], columns=COLS), {"n": len(chunk)}
    return compute


def run(store, compute, items=range(5), spec=None):
    return store.run_chunked("judge", "abc", spec or {"x": 1}, list(items), 2, compute, columns=COLS)


def test_resume_and_hit_read_the_stored_table(tmp_path):
    store = st.Store(tmp_path)
    calls = []
    table, facts = run(store, squares(calls))
    assert calls == [[0, 1], [2, 3], [4]] and facts == {"n": 5}
    pd.testing.assert_frame_equal(table, pd.read_parquet(tmp_path / "judge" / "abc" / "table.parquet"))
    again, facts2 = run(store, squares(calls))
    assert len(calls) == 3 and facts2 == facts
    pd.testing.assert_frame_equal(again, table)
    marker = json.loads((tmp_path / "judge" / "abc" / "DONE").read_text())
    assert marker["rows"] == 5 and marker["columns"] == COLS and len(marker["sha256"]) == 64


def corrupt_table_bytes(d):  # same size, one byte flipped in the middle
    p = d / "table.parquet"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0xFF
    p.write_bytes(bytes(b))


def truncate_table(d):
    p = d / "table.parquet"
    p.write_bytes(p.read_bytes()[:-20])


def foreign_columns(d):  # a valid Parquet file and a DONE marker that agree, but not this stage's schema
    df = pd.DataFrame({"key": ["k0"], "reward": [1.0]})
    df.to_parquet(d / "table.parquet", index=False)
    (d / "DONE").write_text(json.dumps({"sha256": st.file_sha256(d / "table.parquet"), "rows": 1,
                                        "columns": ["key", "reward"]}))


def foreign_spec(d):  # another job's artifact copied under this key
    (d / "spec.json").write_text(json.dumps({"stage": "judge", "version": 1, "spec": {"x": 2}}))


def old_marker(d):  # a DONE from before hashes were recorded
    (d / "DONE").write_text("")


@pytest.mark.parametrize("damage", [corrupt_table_bytes, truncate_table, foreign_columns, foreign_spec, old_marker])
def test_corrupt_or_foreign_table_is_recomputed(tmp_path, caplog, damage):
    store = st.Store(tmp_path)
    good, _ = run(store, squares())
    damage(tmp_path / "judge" / "abc")
    calls = []
    with caplog.at_level(logging.WARNING, logger="bon"):
        table, facts = run(store, squares(calls))
    assert "corrupt or foreign" in caplog.text
    pd.testing.assert_frame_equal(table, good)
    assert facts == {"n": 5}
    if damage is foreign_spec:
        assert calls == [[0, 1], [2, 3], [4]]  # a foreign spec's chunks are not reused either
    # the repaired artifact is trusted again
    calls.clear()
    run(store, squares(calls))
    assert calls == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "no_record"])
def test_corrupt_chunk_is_recomputed_alone(tmp_path, caplog, damage):
    store = st.Store(tmp_path)
    good, _ = run(store, squares())
    d = tmp_path / "judge" / "abc"
    (d / "DONE").unlink()  # as after a kill before the stage finished
    chunk = d / "chunks-2" / "00001.parquet"
    if damage == "flip":
        b = bytearray(chunk.read_bytes())
        b[len(b) // 2] ^= 0xFF
        chunk.write_bytes(bytes(b))
    elif damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:10])
    else:
        (d / "chunks-2" / "00001.json").unlink()
    calls = []
    with caplog.at_level(logging.WARNING, logger="bon"):
        table, _ = run(store, squares(calls))
    assert calls == [[2, 3]]
    pd.testing.assert_frame_equal(table, good)
    if damage != "no_record":
        assert "corrupt or foreign" in caplog.text


def _job(root, log_path, out_path):
    calls = []
    table, _ = run(st.Store(root), squares(calls, delay=0.5))
    Path(log_path).write_text(json.dumps(calls))
    table.to_csv(out_path, index=False)


def test_two_jobs_one_key_second_waits_and_reuses(tmp_path):
    ctx = multiprocessing.get_context("fork")
    a = ctx.Process(target=_job, args=(tmp_path / "s", tmp_path / "a.json", tmp_path / "a.csv"))
    a.start()
    deadline = time.time() + 30
    while not (tmp_path / "s" / "judge" / "abc" / ".lock").exists() and time.time() < deadline:
        time.sleep(0.01)
    b = ctx.Process(target=_job, args=(tmp_path / "s", tmp_path / "b.json", tmp_path / "b.csv"))
    b.start()
    a.join(60)
    b.join(60)
    assert a.exitcode == 0 and b.exitcode == 0
    calls_a, calls_b = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert sorted(map(len, (calls_a, calls_b))) == [0, 3]  # one job computed every chunk, the other none
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def _check_job(root, log_path, out_path):
    def compute(held):
        with open(log_path, "a") as f:
            f.write("computed\n")
        time.sleep(1.0)
        return {"accuracy": 0.5, "pid": os.getpid()}

    result = check._stored(st.Store(root), check.Check("pm", {"task": "x"}, compute))
    Path(out_path).write_text(json.dumps(result))


def test_two_jobs_sharing_a_check_store_compute_a_check_once(tmp_path):
    """Sweep jobs (or test workers) sharing check_store: the second waits for the first's check, then reads it."""
    ctx = multiprocessing.get_context("fork")
    jobs = [ctx.Process(target=_check_job, args=(tmp_path / "s", tmp_path / "log", tmp_path / f"{x}.json"))
            for x in "ab"]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(60)
    assert [j.exitcode for j in jobs] == [0, 0]
    assert (tmp_path / "log").read_text() == "computed\n"
    assert json.loads((tmp_path / "a.json").read_text()) == json.loads((tmp_path / "b.json").read_text())
