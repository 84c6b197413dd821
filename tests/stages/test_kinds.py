"""Every kind of item is optional (issue 20): a run computes the metrics whose items are present, says once which
items the others lack and why, and never fails after sampling for them. Each subset of kinds runs for real on the
tiny real-family models (tests/conftest.py: the tiny Llama-3-style policy and Llama reward model; 1 item per kind, 2
samples of <= 8 tokens, the HF sampler), TruthfulQA's answer-only file among them: which metrics, stages and checks a
run builds depends on the data's kinds, not on the model.
"""
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bon.config import ConfigError
from runs import cfg_of
from conftest import build_tiny, shared_file, tiny_models

ROOT = Path(__file__).resolve().parents[2]
TINY = ["experiment=demo", "m=2", "ns=[1,2]", "dataset.max_items=1", "sampler=hf", "sampler.max_new_tokens=8",
        "wandb.mode=disabled", "n_boot=50", "progress=false"]
KIND_METRIC = {"answer": "answer_sycophancy", "feedback": "feedback_sycophancy", "mimicry": "mimicry_sycophancy"}
# the whole set runs in tests/stages/test_pipeline.py; here every proper subset
SUBSETS = [list(c) for k in (1, 2) for c in combinations(KIND_METRIC, k)]


def run_of(tmp: Path, *overrides):
    from bon.pipeline import run

    out = tmp / "run"
    run(cfg_of(*TINY, *tiny_models(build_tiny()), f"store={tmp}/store", *overrides), out)
    return out


def assert_only(out: Path, present: set[str], reason_of):
    """The present kinds' metrics have curves; each absent one is named once in the report, with why."""
    curves = pd.read_csv(out / "curves.csv")
    report = (out / "report.txt").read_text()
    for kind, metric in KIND_METRIC.items():
        if kind in present:
            assert metric in set(curves["metric"]), (metric, report)
            assert f"not computed: {metric}" not in report
        else:
            assert metric not in set(curves["metric"])
            assert report.count(f"not computed: {metric} (needs {kind} items: {reason_of(kind)})") == 1, report
    if "answer" not in present:  # the demo's gold (answer correctness) needs answer items too
        assert report.count(f"not computed: gold/correctness (needs answer items: {reason_of('answer')})") == 1
    assert {"reward", "length", "truncated"} <= set(curves["metric"])  # every prompt counts for these
    assert "replies cut off at max_new_tokens=8:" in report


@pytest.mark.parametrize("kinds", SUBSETS, ids=["+".join(s) for s in SUBSETS])
def test_each_subset_of_kinds_runs(tmp_path, kinds):
    out = run_of(tmp_path, f"dataset.kinds=[{','.join(kinds)}]")
    reason = lambda kind: f"dataset.kinds=[{', '.join(kinds)}] leaves out {kind}"  # noqa: E731
    assert_only(out, set(kinds), reason)
    import json

    run = json.loads((out / "run.json").read_text())
    # no stage and no instrument check was built for an absent kind
    assert ("judge[positivity]" in run["stages"]) == ("feedback" in kinds)
    assert ("positivity" in run["checks"]) == ("feedback" in kinds)
    assert ("answer" in run["checks"]) == ("answer" in kinds)


def test_truthfulqa_answer_file_runs(tmp_path):
    """The first real-data run a researcher makes: answer items only, sentence answers graded by the LM judge."""
    path = shared_file("data/truthfulqa/answer.jsonl")
    out = run_of(tmp_path, "dataset=sycophancy_eval", f"dataset.paths=[{path}]")
    assert_only(out, {"answer"}, lambda kind: (f"no feedback item of dataset.feedback_datasets=[arguments] in {path}"
                                               if kind == "feedback" else f"no {kind} item in {path}"))


def test_no_prompt_at_all_is_a_config_error_before_sampling(tmp_path):
    from bon.pipeline import run

    path = shared_file("data/truthfulqa/answer.jsonl")
    cfg = cfg_of(*TINY, f"store={tmp_path}/store", "dataset=sycophancy_eval", f"dataset.paths=[{path}]",
                 "dataset.kinds=[mimicry]")
    with pytest.raises(ConfigError, match=r"no prompt selected: no prompt of dataset.kinds=\[mimicry\]"):
        run(cfg, tmp_path / "run")
    assert not (tmp_path / "store").exists()  # nothing was sampled


def test_an_empty_stage_table_gives_an_empty_matrix():
    """The judge stage of a task with 0 prompts (the crash of issue 20: float indices from an empty table)."""
    from bon.stages.base import to_matrix

    empty = pd.DataFrame({"key": pd.Series([], dtype=object), "sample": pd.Series([], dtype=np.int64),
                          "value": pd.Series([], dtype=float)})
    assert to_matrix(empty, [], 4, "value").shape == (0, 4)
