"""Store keys pinned to the values bon/pipeline.py gives today, so that moving its stages into files of their own
provably keeps an existing store reusable. No model is loaded here."""
from omegaconf import OmegaConf

from bon import keys
from bon import store as st
from bon.data import Example
from bon import checks, pipeline

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
# Computed with this config and these examples by bon.pipeline's spec builders (commit 88bf9ac).
# A change here means an existing store is no longer reused: bump the stage's version instead where bytes change.
PINNED = {
    "sample": "b4259c5481032048", "score": "d6a8b75d972e8383", "judge": "2d108b1777d23c90",
    "check": "a8d091ee4c60cab6", "first_turn": "a593a811b25f0729",
    "sample[fixed]": "831526853e2f566a",
    "score[standard]": "a48d4cac07a66c5d", "score[non_sycophantic]": "16e82b10613d5313",
    "check[pm/standard]": "74dae645daf98f0b", "check[pm/non_sycophantic]": "ba706fff25148bdc",
    "judge[correctness]": "a50f3c48dbc3397f", "judge[positivity]": "9a1231775e9951b1",
    "judge[positivity_pairwise]": "acf389d2a71a0b28", "judge[admits]": "e72bdd3411d0dce8",
    "check[positivity]": "b1938a7b0a3c537a", "check[answer]": "7cf4fabb4c2e36f0",
    "check[are_you_sure]": "9876d8dd70bfbf94", "score[standard, vllm classifier]": "573198a9ece7a478",
}



def test_stage_keys_are_the_ones_stored_before(monkeypatch):
    monkeypatch.setattr(keys, "fingerprint", lambda ref: f"fp:{ref}")  # weights' mtimes differ between machines
    cfg = OmegaConf.create(CFG)
    got = {name: st.stage_key(name, {"x": 1}) for name in ["sample", "score", "judge", "check", "first_turn"]}
    sample = st.stage_key("sample", keys.sample_spec(cfg, EXAMPLES, "hf"))
    got["sample[fixed]"] = sample
    fmt = checks.RESULT_VERSION
    for name, v in pipeline.variants_of(cfg).items():
        variant = {"prefix": v.prefix, "system": v.system}
        got[f"score[{name}]"] = st.stage_key("score", {"samples": sample, "pm": pipeline.pm_spec(cfg),
                                                       "variant": variant})
        got[f"check[pm/{name}]"] = st.stage_key("check", {"task": "pm", "pm": pipeline.pm_spec(cfg),
                                                          "variant": variant, "labels": "L", "format": fmt})
    for task in ("correctness", "positivity", "positivity_pairwise", "admits"):
        got[f"judge[{task}]"] = st.stage_key("judge", pipeline.judge_stage_spec(cfg, sample, task, EXAMPLES))
    got["check[positivity]"] = st.stage_key("check", pipeline.positivity_check_spec(cfg, "L"))
    got["check[answer]"] = st.stage_key("check", {"task": "answer", "grading": "judge", "labels": "L",
                                                  "judge": pipeline.judge_spec(cfg, "correctness"), "format": fmt})
    got["check[are_you_sure]"] = st.stage_key("check", {"task": "are_you_sure", "labels": "L",
                                                        "judge": pipeline.judge_spec(cfg, "admits"), "format": fmt})
    cfg.pm.backend, cfg.pm.name = "vllm", "classifier"
    got["score[standard, vllm classifier]"] = st.stage_key("score", {"samples": sample, "pm": pipeline.pm_spec(cfg),
                                                                     "variant": {"prefix": [], "system": None}})
    assert got == PINNED
