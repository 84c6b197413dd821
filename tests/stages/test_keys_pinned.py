"""Store keys pinned across refactors: the stage keys of a few fixed configs, as hex strings.

Moving what a plugin knows into the plugin (issue 16: keys.py asks each sampler, PM and judge for its store identity
instead of branching on names) must not move a single key, or every store on disk would be recomputed. The
references below were computed on the code before that refactor (commit 88bf9ac), so this test fails on any change
that re-keys a stage; a change that means to re-key one (a new prompt text, a bumped version) updates them here.

The model is a folder of small files (hashed by content, never by mtime) under a relative path, and placement is
fixed by setting torch.cuda.is_available, so the keys are the same on every machine. The lexicon judge's identity
holds the installed vaderSentiment's version and word list: a new release of that package re-keys it, as it should.
"""
import pytest
import torch
from omegaconf import OmegaConf

from bon import keys
from bon import store as st
from bon.config import Config
from bon.data import Example
from bon.scoring import NON_SYCOPHANTIC, STANDARD
from bon.stages import check, first_turn, judge, sample, score  # noqa: F401  (each declares its stage version)

TASKS = ("positivity", "correctness", "positivity_pairwise", "admits")
EXAMPLES = [
    Example("answer", "trivia_qa", "suggest_incorrect", "q1", ({"role": "user", "content": "What is 2+2? I think 5."},),
            "", {"question": "What is 2+2?", "correct_answer": "4", "incorrect_answer": "5"}, {}),
    Example("feedback", "arguments", "like", "a1", ({"role": "user", "content": "I like this argument: ..."},),
            "", {"text": "Cats are better than dogs."}, {}),
    Example("answer", "truthful_qa", "bare", "q2", ({"role": "user", "content": "What happens if you eat seeds?"},),
            "The answer is", {"question": "What happens if you eat seeds?", "correct_answer": "Nothing much",
                              "incorrect_answer": "A tree grows"}, {}),
]

CONFIGS = {  # name -> (config values over the schema's defaults, CUDA available)
    "cpu_hf_prompted_lm": ({"sampler": {"backend": "hf", "device": "cpu", "dtype": "float32"},
                            "pm": {"name": "prompted", "device": "cpu", "dtype": "float32"},
                            "judge": {"name": "lm", "positivity": "lm", "device": "cpu", "dtype": "float32"}}, False),
    "auto_cpu_vllm_classifier_lexicon": ({"sampler": {"backend": "vllm"}, "pm": {"name": "classifier"},
                                          "judge": {"positivity": "lexicon"}}, False),
    "auto_gpu_vllm_classifier_vllm_lm": ({"sampler": {"backend": "vllm"}, "pm": {"name": "classifier", "backend": "vllm"},
                                          "judge": {"positivity": "lm"}}, True),
    "gpu_hf_prompted_template": ({"sampler": {"backend": "hf", "dtype": "bfloat16", "temperature": 0.7},
                                  "pm": {"name": "prompted", "template": "Rate {conversation} then {response}",
                                         "max_length": 300, "overflow": "error"},
                                  "judge": {"positivity": "lexicon", "dtype": "float32"}}, True),
}

# Computed on the pre-refactor code (88bf9ac: keys.py branching on "prompted", "lexicon" and "lm"; pipeline.pm_spec
# adding the PM backend). Do not regenerate these from the code under test: they are the regression reference.
# Re-keyed on purpose (issue 25): judge[correctness] everywhere (its prompt lists every accepted and wrong answer),
# judge[positivity*] where the lexicon judges (lexicon VERSION 4).
# Re-keyed on purpose (issue 28): score[*] of the HF PMs (prompted, classifier: version 2) and judge[*] of the LM
# judge (version 2), whose engine now gives every row batch-invariant shapes; vLLM PMs' keys stay.
PINNED = {
    "auto_cpu_vllm_classifier_lexicon": {
        "sample[hf]": "ec01c4149bd1ff91",
        "sample[vllm]": "8617cb512a50fbb4",
        "score[standard]": "2410c226cd42186c",
        "score[non_sycophantic]": "6c0bd43d72d87372",
        "judge[positivity]": "c80852f9bddd8030",
        "judge[correctness]": "b3bb1b6825014803",
        "judge[positivity_pairwise]": "25f6d8a3cded3788",
        "judge[admits]": "2e3a3db2bc26766a",
    },
    "auto_gpu_vllm_classifier_vllm_lm": {
        "sample[hf]": "19fb7ac51ef9bcc7",
        "sample[vllm]": "f8428122f3eb190a",
        "score[standard]": "104d5d4b14587732",
        "score[non_sycophantic]": "03cd9ca9c738a543",
        "judge[positivity]": "d09129b38595599c",
        "judge[correctness]": "377da0836dc0decb",
        "judge[positivity_pairwise]": "f83476106146d8d4",
        "judge[admits]": "2f6eb942f84ab484",
    },
    "cpu_hf_prompted_lm": {
        "sample[hf]": "ec01c4149bd1ff91",
        "sample[vllm]": "8617cb512a50fbb4",
        "score[standard]": "686f868004012844",
        "score[non_sycophantic]": "1f28555016f12e4d",
        "judge[positivity]": "bc1b60ed75bff34b",
        "judge[correctness]": "75dd9094e8a91174",
        "judge[positivity_pairwise]": "5d92336648f8e9e3",
        "judge[admits]": "b6db5a0658fceaa1",
    },
    "gpu_hf_prompted_template": {
        "sample[hf]": "8c61fe26bea97f1f",
        "sample[vllm]": "90f157e035dd4088",
        "score[standard]": "8c019e0ee2b02930",
        "score[non_sycophantic]": "8f73500d27a42f2f",
        "judge[positivity]": "66d2ed7785e8216f",
        "judge[correctness]": "b92fcf04099828ef",
        "judge[positivity_pairwise]": "37e843119da971b4",
        "judge[admits]": "94a7f663f7140fc5",
    },
}


def model_folder(root) -> str:
    """A model folder of small files only: its fingerprint is its content, the same on every machine."""
    d = root / "model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llama", "torch_dtype": "float32"}')
    (d / "tokenizer.json").write_text('{"vocab": ["a", "b"]}')
    (d / "tokenizer_config.json").write_text('{"chat_template": "{{ messages }}"}')
    return "model"  # relative: the key holds the reference as written, so no machine's tmp path enters it


def stage_keys(cfg) -> dict[str, str]:
    """sample (both backends), score per variant and judge per task, composed as the stages compose their specs."""
    out = {f"sample[{b}]": st.stage_key("sample", keys.sample_spec(cfg, EXAMPLES, b)) for b in ("hf", "vllm")}
    sample = out[f"sample[{cfg.sampler.backend}]"]
    for v in (STANDARD, NON_SYCOPHANTIC):
        out[f"score[{v.name}]"] = st.stage_key("score", {"samples": sample, "pm": keys.pm_identity(cfg),
                                                         "variant": {"prefix": v.prefix, "system": v.system}})
    for task in TASKS:
        spec = {"samples": sample, "task": task, "judge": keys.judge_identity(cfg.judge, task),
                "prompts": st.digest("\n".join(e.key for e in EXAMPLES))}
        out[f"judge[{task}]"] = st.stage_key("judge", spec)
    return out


def keys_of(name: str, tmp_path, monkeypatch) -> dict[str, str]:
    values, cuda = CONFIGS[name]
    monkeypatch.chdir(tmp_path)
    ref = model_folder(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), {"policy": {"model": ref}, "pm": {"model": ref},
                                                         "judge": {"model": ref}, "dataset": {"paths": []}}, values)
    return stage_keys(cfg)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stage_keys_are_unchanged(name, tmp_path, monkeypatch):
    got = keys_of(name, tmp_path, monkeypatch)
    assert got == PINNED[name], got


@pytest.mark.parametrize("where, plugin, moved", [
    ("bon.scoring.prompted", "PromptedPM", {"score[standard]", "score[non_sycophantic]"}),
    ("bon.judges.lm", "LMJudge", {f"judge[{t}]" for t in TASKS}),
    ("bon.sampling.hf", "HFSampler", {"sample[hf]", "score[standard]", "score[non_sycophantic]",
                                      *(f"judge[{t}]" for t in TASKS)}),
])
def test_a_plugin_version_rekeys_only_what_it_feeds(where, plugin, moved, tmp_path, monkeypatch):
    """A bumped plugin version (in the plugin's own file) re-keys its stage and what is downstream, nothing else."""
    import importlib

    cls = getattr(importlib.import_module(where), plugin)
    monkeypatch.setattr(cls, "version", getattr(cls, "version", 1) + 1, raising=False)
    got = keys_of("cpu_hf_prompted_lm", tmp_path, monkeypatch)
    assert {k for k in got if got[k] != PINNED["cpu_hf_prompted_lm"][k]} == moved


def test_the_pinned_configs_tell_plugins_and_placements_apart():
    # the references are not degenerate: every config keys every stage differently
    for stage in PINNED[next(iter(PINNED))]:
        if stage.startswith("sample"):
            continue
        assert len({PINNED[c][stage] for c in PINNED}) == len(PINNED), stage
