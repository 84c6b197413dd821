"""experiment=truthfulqa (conf/experiment/truthfulqa.yaml): the demo on TruthfulQA's sentence answers, from a path
outside the repo; a missing file is a config error naming it, before any model loads."""
import pytest

from bon.config import ConfigError, validate
from runs import cfg_of as compose_config
from conftest import shared_file


def cfg_of(*overrides):
    return compose_config("experiment=truthfulqa", *overrides)


def test_preset_carries_sentence_grading_and_a_reply_budget():
    cfg = cfg_of()
    assert list(cfg.dataset.paths) == ["../shared/data/truthfulqa/answer.jsonl"] and list(cfg.dataset.kinds) == ["answer"]
    assert cfg.judge.answer_grading == "auto" and cfg.sampler.max_new_tokens == 128
    assert cfg.m == 8 and cfg.dataset.max_items == 6  # the demo's model and M, the issue-25 run's 6 questions


def test_missing_file_is_a_config_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ../shared is not beside this folder
    with pytest.raises(ConfigError, match=r"dataset\.paths: \.\./shared/data/truthfulqa/answer\.jsonl does not exist "
                                          r"\(relative to .*, where bon runs\); pass dataset\.paths=\[PATH\]"):
        validate(cfg_of())


def test_preset_validates_on_the_real_file():
    path = shared_file("data/truthfulqa/answer.jsonl")
    assert validate(cfg_of(f"dataset.paths=[{path}]")) == [1, 2, 4, 8]
