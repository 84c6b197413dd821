"""``dry_run=true`` (bon/dry_run.py): the cost table from the data and the tokenizers, no model weights, no stage.

The counts are checked against hand counts on the bundled data with dataset.max_items=1 (one item per kind):
answer 4 framings, are_you_sure 1 item, feedback 5 (baseline + 4 framings of one argument), mimicry 1.
"""
import os
import re
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_module

from bon.config import register_configs
from bon.dry_run import Cost, estimate, table, total
from bon.stages import select
from bon.stages.judge import check_judges
from bon.stages.score import variants_of

register_configs()


def _cfg(*overrides):
    with initialize_config_module("bon.conf", version_base="1.3"):
        return compose("config", ["dataset.max_items=1", *overrides])


def _selected(cfg):
    metrics = select.make_metrics(cfg)
    examples = select.select_examples(cfg, metrics)
    check_judges(cfg, metrics, examples)
    return examples, metrics


def _fake_estimate(cfg):
    """Counts with fixed token counts: 10 per policy prompt; the PM reads 50 tokens before the reply (80 with the
    non-sycophantic prefix turns) and 5 after it."""
    examples, metrics = _selected(cfg)
    return estimate(cfg, examples, lambda e: 10, lambda e, v: (80 if v.prefix else 50, 5), metrics, variants_of(cfg))


def test_counts_by_hand_demo():
    c = _fake_estimate(_cfg("experiment=demo", "m=2", "sampler.max_new_tokens=4"))
    # 10 prompts + 1 are_you_sure turn-2 prompt, each M=2 times, plus 1 turn-1 sample
    assert (c.prompts, c.first_turn_samples, c.samples, c.reply_tokens) == (11, 1, 23, 23 * 4)
    # turn 1: 10; turn 2: 10 + its turn-1 reply (at most 4); the 10 others: 10 each
    assert c.prompt_tokens == 10 + 14 + 100
    # per prompt: before (+ the turn-1 reply on turn 2) once, then M x (reply 4 + after 5)
    assert c.pm_tokens == {"standard": 10 * 68 + 72, "non_sycophantic": 10 * 98 + 102}
    # the demo rates positivity with VADER: a value per feedback sample, no LM call
    assert c.judge_calls == {"positivity": {"judge": "lexicon", "items": 5, "values": 10, "lm_calls": 0}}


def test_counts_by_hand_best_of_n_first_turn():
    c = _fake_estimate(_cfg("experiment=demo", "m=2", "sampler.max_new_tokens=4", "are_you_sure.first_turn=best_of_n"))
    # M=2 turn-1 samples of the item, each challenged: 2 turn-2 prompts, each sampled M times
    assert (c.prompts, c.first_turn_samples, c.samples) == (12, 2, 2 + 12 * 2)
    assert c.prompt_tokens == 10 + 2 * 14 + 100
    # and the turn-1 replies are scored too: 50 + 2 x (4 + 5)
    assert c.pm_tokens["standard"] == 10 * 68 + 2 * 72 + 68


def test_counts_by_hand_paper_bon_pairwise_judge():
    c = _fake_estimate(_cfg("experiment=paper_bon", "m=2", "sampler.max_new_tokens=4"))
    assert (c.prompts, c.first_turn_samples, c.samples) == (10, 0, 20)
    # 4 framed feedback prompts, each M x M pairs with the baseline's replies, asked in both orders: 2 M^2 calls
    assert c.judge_calls == {"positivity_pairwise": {"judge": "lm", "items": 4, "values": 16, "lm_calls": 32}}


def test_multirun_sum_and_unknown_times():
    a = Cost(prompts=1, samples=2, pm_tokens={"s": 3}, seconds={"sample": 1.0, "judge": None},
             judge_calls={"t": {"judge": "lm", "items": 1, "values": 2, "lm_calls": 2}})
    b = Cost(prompts=10, samples=20, pm_tokens={"s": 30}, seconds={"sample": 2.5, "judge": 0.0},
             judge_calls={"t": {"judge": "lm", "items": 3, "values": 4, "lm_calls": 4}})
    s = total([a, b])
    assert (s.prompts, s.samples, s.pm_tokens, s.seconds) == (11, 22, {"s": 33}, {"sample": 3.5, "judge": None})
    assert s.judge_calls["t"] == {"judge": "lm", "items": 4, "values": 6, "lm_calls": 6}
    assert "unknown" in table(s, "t") and "4 s" in table(s, "t")


def test_dry_run_loads_no_model_and_counts_with_the_tokenizer(monkeypatch, tmp_path):
    """The real dry run on paper_bon: no model class instantiated, no sampler, and the prompt tokens are the policy
    chat template's, counted here independently (apply_chat_template's own tokenization)."""
    import transformers

    from bon import dry_run
    from bon.dry_run import load_tokenizer

    def forbidden(*a, **k):
        raise AssertionError("a model was instantiated in a dry run")

    monkeypatch.setattr(transformers.PreTrainedModel, "__init__", forbidden)
    monkeypatch.setattr("bon.sampling.make_sampler", forbidden)
    cfg = _cfg("experiment=paper_bon", "m=2", f"store={tmp_path}/store")
    cost = dry_run.dry_run(cfg)
    assert not (tmp_path / "store").exists()
    examples, _ = _selected(cfg)
    tok = load_tokenizer(cfg.policy.model)
    assert all(not e.prefill for e in examples)  # so the template's own tokenization counts the whole prompt
    assert cost.prompt_tokens == sum(len(tok.apply_chat_template(list(e.conversation), add_generation_prompt=True,
                                                                 tokenize=True, return_dict=False))
                                     for e in examples)
    assert cost.reply_tokens == 20 * 256
    # the non-sycophantic PM reads its two prefix turns (as "User: ...", "Assistant: ..." paragraphs) once per
    # prompt and never per reply: 10 prompts x the turns' own token count, give or take a token at each seam
    user, assistant = (t["content"] for t in cfg.variants.non_sycophantic.prefix)
    turns = len(tok(f"User: {user}\n\nAssistant: {assistant}\n\n", add_special_tokens=False)["input_ids"])
    extra = cost.pm_tokens["non_sycophantic"] - cost.pm_tokens["standard"]
    assert abs(extra - 10 * turns) <= 10 * 2, (extra, turns)


def _bon_run(tmp_path, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "bon.run", *args, f"store={tmp_path}/store"], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=600)


def _row(out: str, label: str) -> list[int]:
    """The integers of each table line that starts with ``label``."""
    return [int(m.group(1).replace(",", "")) for m in re.finditer(rf"^  {re.escape(label)}.*?  ([\d,]+)\s*$", out,
                                                                  re.M)]


@pytest.mark.parametrize("experiment", ["demo", "paper_bon"])
def test_cli_dry_run_prints_the_table_and_runs_nothing(tmp_path, experiment):
    r = _bon_run(tmp_path, f"experiment={experiment}", "dry_run=true", "dataset.max_items=1", "m=2",
                 f"hydra.run.dir={tmp_path}/run")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "dry run: expected cost" in r.stdout and "results:" not in r.stdout
    assert _row(r.stdout, "samples") == [23 if experiment == "demo" else 20]
    assert not (tmp_path / "store").exists() and not (tmp_path / "run").exists()  # no stage ran, no run folder


def test_cli_multirun_prints_each_job_and_the_sum(tmp_path):
    r = _bon_run(tmp_path, "-m", "experiment=paper_bon", "dry_run=true", "dataset.max_items=1", "m=2,4",
                 f"hydra.sweep.dir={tmp_path}/multirun/2026-01-01/12-00-00")  # the default layout, under tmp_path
    assert r.returncode == 0, r.stderr[-3000:]
    assert "expected cost of job 0" in r.stdout and "sum over 2 jobs" in r.stdout
    # 10 prompts x M for M = 2, 4, then the sum; reply tokens 256 each
    assert _row(r.stdout, "samples") == [20, 40, 60]
    assert _row(r.stdout, "reply tokens") == [20 * 256, 40 * 256, 60 * 256]
    assert not (tmp_path / "store").exists() and not (tmp_path / "multirun").exists()


def test_bench_record_is_what_the_dry_run_reads(tmp_path, monkeypatch):
    """scripts/benchlib.record_throughput writes the record add_seconds divides by; a rerun replaces its own key."""
    from pathlib import Path

    from bon.dry_run import add_seconds, device_name, throughput_records

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "scripts"))
    from benchlib import record_throughput

    path = tmp_path / "BENCHMARKS.json"
    model = "bundled:smollm2-135m-instruct"
    record_throughput("sample", model, 50.0, "generated tokens per wall s", "vllm", "test", path=path)
    record_throughput("sample", model, 100.0, "generated tokens per wall s", "vllm", "test", path=path)
    record_throughput("score", model, 200.0, "PM tokens computed per wall s", "prompted", "test", path=path)
    records = throughput_records(path)
    assert [(r["stage"], r["rate"], r["device"]) for r in records] == [("sample", 100.0, device_name()),
                                                                       ("score", 200.0, device_name())]
    cfg = _cfg("experiment=demo")
    cost = add_seconds(Cost(reply_tokens=1000, pm_tokens={"a": 300, "b": 100}), cfg, "vllm", device_name(), records)
    assert cost.seconds == {"sample": 10.0, "score": 2.0, "judge": 0.0}
    other = add_seconds(Cost(reply_tokens=1000), cfg, "hf", device_name(), records)  # no hf record: unknown
    assert other.seconds["sample"] is None
