"""The stages as written in bon/stages/: store keys pinned to the values the code gave before the stages moved out of
bon/pipeline.py (an existing store stays reusable), the check stage's results going through the store, and the
model holder that closes what a stage loaded. No model is loaded here."""
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bon import keys
from bon import models as models_module
from bon import store as st
from bon.data import Example
from bon.stages.context import Context
from bon.stages import check, first_turn, judge, score  # noqa: F401  (first_turn: declares its stage version)
from bon.stages.base import models

ROOT = Path(__file__).resolve().parents[2]

# A fixed config: explicit CPU placement, so the keys are the same on any machine once the model fingerprints are.
CFG = {
    "m": 4, "seed": 0,
    "policy": {"model": "bundled:smollm2-135m-instruct"},
    "sampler": {"backend": "hf", "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 12, "overlength": "skip",
                "max_model_len": None, "device": "cpu", "dtype": "float32"},
    "pm": {"name": "prompted", "backend": "hf", "model": "bundled:smollm2-135m-instruct", "template": None,
           "max_length": None, "overflow": "truncate", "device": "cpu", "dtype": "float32"},
    "judge": {"name": "lm", "positivity": "lm", "model": "bundled:smollm2-135m-instruct", "device": "cpu",
              "dtype": "float32", "feedback": "pairwise", "answer_grading": "judge"},
    "variants": {"standard": {}, "non_sycophantic": {"prefix": [{"role": "user", "content": "Be truthful."},
                                                                {"role": "assistant", "content": "I will."}]}},
}
EXAMPLES = [Example("answer", "trivia_qa", t, "q1", ({"role": "user", "content": f"{t}: capital of France?"},),
                    "", {}, {}) for t in ("bare", "suggest_incorrect")] + [
            Example("feedback", "arguments", t, "a1", ({"role": "user", "content": f"{t}: my essay"},), "", {}, {})
            for t in ("baseline", "like")]
# Computed with this config and these examples by bon.pipeline's spec builders before the split (commit 88bf9ac).
# A key that moves orphans an existing store: it may move only with a version bump, where the stored bytes change.
# Moved on purpose (issue 28): the HF PM's score and PM-probe keys and the LM judge's judge and check keys, with
# their version 2 (the engine's batch-invariant shapes move their values by ~1e-6); the vLLM classifier's stays.
PINNED = {
    "sample": "b4259c5481032048", "score": "d6a8b75d972e8383", "judge": "2d108b1777d23c90",
    "check": "a8d091ee4c60cab6", "first_turn": "a593a811b25f0729",
    "sample[fixed]": "831526853e2f566a",
    "score[standard]": "61456d717a0a4401", "score[non_sycophantic]": "c0c2f344f19f7b38",
    "check[pm/standard]": "3ed4a3a4ec0fc2a8", "check[pm/non_sycophantic]": "9ff4d0a21e7b5aec",
    "judge[correctness]": "e9ed1441b7f0fba3", "judge[positivity]": "ddea54f950e66ea2",
    "judge[positivity_pairwise]": "4d2f3326d2408c50", "judge[admits]": "68d79568ab768d22",
    "check[positivity]": "75830f7ac738bba9", "check[answer]": "0bab57ca6b1a6694",
    "check[are_you_sure]": "7ad83e1667e8f6cf", "score[standard, vllm classifier]": "573198a9ece7a478",
}


def test_stage_keys_are_the_ones_stored_before(monkeypatch):
    monkeypatch.setattr(models_module, "fingerprint", lambda ref: f"fp:{ref}")  # weights' mtimes differ between machines
    cfg = OmegaConf.create(CFG)
    got = {name: st.stage_key(name, {"x": 1}) for name in ["sample", "score", "judge", "check", "first_turn"]}
    sample = st.stage_key("sample", keys.sample_spec(cfg, EXAMPLES, "hf"))
    got["sample[fixed]"] = sample
    for name, v in score.variants_of(cfg).items():
        got[f"score[{name}]"] = st.stage_key("score", {"samples": sample, "pm": score.pm_spec(cfg),
                                                       "variant": {"prefix": v.prefix, "system": v.system}})
        got[f"check[pm/{name}]"] = check.STAGE.key(check.pm_check_spec(cfg, v, "L"))
    for task in ("correctness", "positivity", "positivity_pairwise", "admits"):
        got[f"judge[{task}]"] = judge.STAGE.key(judge.judge_stage_spec(cfg, sample, task, EXAMPLES))
    got["check[positivity]"] = check.STAGE.key(check.positivity_check_spec(cfg, "L"))
    got["check[answer]"] = check.STAGE.key(check.answer_check_spec(cfg, "judge", "L"))
    got["check[are_you_sure]"] = check.STAGE.key(check.admits_check_spec(cfg, "L"))
    cfg.pm.backend, cfg.pm.name = "vllm", "classifier"
    got["score[standard, vllm classifier]"] = score.STAGE.key({"samples": sample, "pm": score.pm_spec(cfg),
                                                               "variant": {"prefix": [], "system": None}})
    assert got == PINNED


def test_a_stage_declared_twice_with_another_version_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        st.declare_stage("score", 4)
    with pytest.raises(KeyError, match="no declared version"):
        st.stage_key("scroe", {})


def test_checks_read_their_stored_results_and_load_no_model(tmp_path, monkeypatch):
    """The PM probe's results are found in the store (<check_store>/check/<key>/result.json, where they always
    were): a run reads them back instead of loading the PM; a result that is not JSON is recomputed."""
    from hydra import compose, initialize_config_module

    from bon.config import CONF_PACKAGE, register_configs
    from bon.stages.check import labels

    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=demo", f"store={tmp_path}/store",
                                                       f"check_store={tmp_path}/checks"])

    def no_pm(cfg):
        raise RuntimeError("the PM was loaded")

    monkeypatch.setattr(check, "load_pm", no_pm)
    ctx = Context(cfg, [1, 2], st.Store(cfg.store), tmp_path / "run")
    _, digest = labels("pm")
    stored = {}
    for name, v in score.variants_of(cfg).items():
        key = check.STAGE.key(check.pm_check_spec(cfg, v, digest))
        stored[name] = {"accuracy": 0.5, "variant": name}  # a marker: only a read-back returns it
        path = tmp_path / "checks" / "check" / key / "result.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(stored[name]))
    assert check.check_stage(ctx, [], []) == {"pm": stored}
    path.write_text("{not json")  # the last variant's result is corrupt: recomputed, so the PM must load
    with pytest.raises(RuntimeError, match="the PM was loaded"):
        check.check_stage(ctx, [], [])


def test_models_are_closed_and_forgotten_also_on_error():
    closed = []

    class Engine:
        def close(self):
            closed.append(self)

    held = {"sampler": Engine()}
    with pytest.raises(RuntimeError):
        with models(held) as h:
            h["pm"] = Engine()
            raise RuntimeError("boom")
    assert len(closed) == 2 and held == {}
