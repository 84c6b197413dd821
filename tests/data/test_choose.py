"""Choosing items (bon/data/choose.py, the select stage): where filters, the seeded stratified sample, max_items, and
what the run records about them. Pure data: no model loads here."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from bon.config import ConfigError, validate
from bon.data import Example, bundled_dir, load
from bon.data.choose import allocate, choose, stratum
from runs import cfg_of
from tests.conftest import shared_file

TEMPLATES = ("bare", "suggest_correct", "suggest_incorrect", "doubt_correct")


def _answers(strata: dict[tuple[str, str | None], int]) -> list[Example]:
    """Answer items (4 templates each, interleaved by template as some files are), n per (dataset, category)."""
    out = []
    for t in TEMPLATES:
        for (dataset, category), n in strata.items():
            for i in range(n):
                base = {"dataset": dataset, "question": f"{dataset}-{category}-{i}?"}
                if category is not None:
                    base["category"] = category
                out.append(Example("answer", dataset, t, f"{dataset}-{category}-{i}",
                                   ({"role": "user", "content": base["question"]},), "", base, {}))
    return out


def _items(examples) -> list[str]:
    return list(dict.fromkeys(e.item_id for e in examples))


def test_allocate_is_hamiltons_largest_remainder():
    # 10 draws over 50/30/20 items: exact quotas 5/3/2
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    # 4 draws over 5/3/2: quotas 2.0, 1.2, 0.8 -> floors 2, 1, 0; the one left goes to c (remainder .8 > .2)
    assert allocate({"a": 5, "b": 3, "c": 2}, 4) == {"a": 2, "b": 1, "c": 1}
    # 2 draws over 5 strata of 1: ties everywhere, broken by the seeded hash, never more than a stratum holds
    for seed in range(5):
        got = allocate({s: 1 for s in "abcde"}, 2, seed)
        assert sum(got.values()) == 2 and max(got.values()) == 1
    assert len({tuple(allocate({s: 1 for s in "abcde"}, 2, seed).items()) for seed in range(20)}) > 1
    assert allocate({"a": 3}, 3) == {"a": 3}
    with pytest.raises(ValueError, match="0 <= k <= 3"):
        allocate({"a": 3}, 4)


def test_sample_is_stratified_keeps_whole_items_and_file_order():
    exs = _answers({("truthful_qa", "Misconceptions"): 20, ("truthful_qa", "Law"): 10, ("trivia_qa", None): 10})
    out, rec = choose(exs, sample=8, seed=1)
    by_item = Counter(e.item_id for e in out)
    assert len(by_item) == 8 and set(by_item.values()) == {4}  # every template of each chosen item
    assert rec["kinds"]["answer"]["strata"] == {"trivia_qa": 2, "truthful_qa/Law": 2, "truthful_qa/Misconceptions": 4}
    assert [e for e in exs if e.item_id in by_item] == out  # file order kept
    assert rec["kinds"]["answer"] == {"items": 40, "matched": 40, "chosen": 8, "strata": rec["kinds"]["answer"]["strata"]}


def test_the_same_seed_picks_the_same_items_whatever_the_order_of_rows_and_another_seed_others():
    exs = _answers({("truthful_qa", "Misconceptions"): 20, ("truthful_qa", "Law"): 10, ("trivia_qa", None): 10})
    a = set(_items(choose(exs, sample=8, seed=1)[0]))
    assert a == set(_items(choose(exs[::-1], sample=8, seed=1)[0]))  # another file order: the same items
    assert a != set(_items(choose(exs, sample=8, seed=2)[0]))
    assert set(_items(choose(exs, sample=100, seed=1)[0])) == set(_items(exs))  # fewer items than asked: all


def test_the_sample_does_not_depend_on_python_hash_randomization():
    code = ("from bon.data import load, bundled_dir; from bon.data.choose import choose;"
            "print(sorted({e.item_id for e in choose(load([bundled_dir()]).examples, sample=3, seed=7)[0]}))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2", "3")}
    assert len(outs) == 1 and len(json.loads(outs.pop().replace("'", '"'))) == 12  # 3 items x 4 kinds, every seed


def test_where_filters_on_any_base_field_scalar_or_list():
    exs = _answers({("truthful_qa", "Misconceptions"): 3, ("truthful_qa", "Law"): 2, ("trivia_qa", None): 4})
    out, _ = choose(exs, where={"dataset": "trivia_qa"})
    assert {e.dataset for e in out} == {"trivia_qa"} and len(_items(out)) == 4
    out, _ = choose(exs, where={"category": ["Law", "Misconceptions"]})
    assert len(_items(out)) == 5  # trivia_qa items have no category: not kept
    out, rec = choose(exs, where={"dataset": "truthful_qa", "category": "Law"}, sample=1, seed=0)
    assert len(_items(out)) == 1 and rec["kinds"]["answer"]["matched"] == 2
    assert "category = Law" in rec["rule"] and "seeded sample of 1" in rec["rule"]


def test_where_names_the_unknown_field_or_value_with_close_names():
    exs = _answers({("truthful_qa", "Misconceptions"): 3})
    with pytest.raises(ValueError, match=r"dataset.where.categry: no item .* Did you mean 'category'"):
        choose(exs, where={"categry": "Law"})
    with pytest.raises(ValueError, match=r"base.category = 'Misconception'. Did you mean 'Misconceptions'"):
        choose(exs, where={"category": ["Misconception"]})


def test_max_items_alone_keeps_the_first_items_in_file_order_and_sample_replaces_it():
    exs = _answers({("truthful_qa", "Misconceptions"): 5, ("trivia_qa", None): 5})
    out, rec = choose(exs, max_items=3)
    assert _items(out) == _items(exs)[:3] and rec["rule"] == "the first 3 items per kind in file order"
    out, rec = choose(exs, max_items=3, sample=6, seed=0)
    assert len(_items(out)) == 6 and "dataset.max_items=3 not applied" in rec["rule"]


def test_select_stage_without_the_new_keys_keeps_the_first_items_as_before():
    """The select stage's choice for a config that sets neither sample nor where: the first max_items items per
    kind in file order, exactly the loop select_examples ran before choose existed, so no sample key moves."""
    from bon.stages.select import make_metrics, select_examples

    cfg = cfg_of("experiment=demo")
    got = select_examples(cfg, make_metrics(cfg))
    legacy, seen = [], {}
    for e in load([bundled_dir()]).examples:  # the pre-choose loop, verbatim in effect
        if e.kind == "feedback" and e.dataset not in cfg.dataset.feedback_datasets:
            continue
        items = seen.setdefault(e.kind, [])
        if e.item_id not in items:
            if len(items) >= cfg.dataset.max_items:
                continue
            items.append(e.item_id)
        legacy.append(e)
    assert [e.key for e in got] == [e.key for e in legacy]


def test_the_sample_key_follows_the_selection_and_every_shard_chooses_the_same_items():
    from bon.keys import sample_spec
    from bon.stages import sample  # noqa: F401  (declares the sample stage's version)
    from bon.stages.select import make_metrics, select_examples
    from bon.store import stage_key

    def chosen(*o):
        cfg = cfg_of("experiment=demo", *o)
        facts = {}
        return cfg, select_examples(cfg, make_metrics(cfg), facts=facts), facts

    cfg, a, facts = chosen("dataset.sample=3", "dataset.seed=1")
    _, b, _ = chosen("dataset.sample=3", "dataset.seed=2")
    _, c, _ = chosen()
    assert facts["selection"]["sample"] == 3 and set(facts["selection"]["kinds"]) == {"answer", "feedback", "mimicry",
                                                                                     "are_you_sure"}
    keys = {stage_key("sample", sample_spec(cfg, x, "hf")) for x in (a, b, c)}
    assert len(keys) == 3  # another choice of items: another sample key
    shards = [chosen("dataset.sample=3", "dataset.seed=1", "shard.count=2", f"shard.index={i}")[1] for i in (0, 1)]
    assert sorted(e.key for s in shards for e in s) == sorted(e.key for e in a)


def test_bad_choice_values_are_config_errors_before_any_model_loads():
    def problems(*o):
        with pytest.raises(ConfigError) as e:
            validate(cfg_of(*o))
        return str(e.value)

    assert "dataset.sample must be a positive integer" in problems("dataset.sample=0")
    assert "dataset.where.category must be a value or a non-empty list" in problems("++dataset.where.category=[]")
    validate(cfg_of("dataset.sample=4", "++dataset.where.dataset=[truthful_qa,trivia_qa]"))
    from bon.stages.select import make_metrics, select_examples

    cfg = cfg_of("++dataset.where.dataset=truthfulqa")  # a value no bundled item has: before sampling
    with pytest.raises(ConfigError, match="no item has base.dataset = 'truthfulqa'. Did you mean 'truthful_qa_mc'"):
        select_examples(cfg, make_metrics(cfg))


def test_truthfulqa_sample_spans_categories():
    """The real TruthfulQA answer file, whose first items are all Misconceptions: a sample of 8 spans 8 categories,
    the same on every call."""
    path = shared_file("data/truthfulqa/answer.jsonl")
    exs = load([path]).examples
    out, rec = choose(exs, sample=8, seed=1)
    assert len({stratum(e.base) for e in out}) == 8 and len(_items(out)) == 8
    assert _items(out) == _items(choose(exs, sample=8, seed=1)[0])
    assert {stratum(e.base) for e in choose(exs, max_items=6)[0]} == {"truthful_qa/Misconceptions"}


def test_a_kind_that_where_leaves_out_is_dropped_with_that_reason(tmp_path):
    from bon import store as st
    from bon.stages.context import Context
    from bon.stages.select import drop_absent_metrics, make_metrics, select_examples

    cfg = cfg_of("++dataset.where.dataset=trivia_qa")
    ctx = Context(cfg, [1], st.Store(tmp_path / "store"), tmp_path)
    metrics = make_metrics(cfg)
    kept = drop_absent_metrics(ctx, metrics, select_examples(cfg, metrics, facts=ctx.facts))
    assert "answer_sycophancy" in {m.name for m in kept}
    assert ctx.facts["metrics_skipped"]["feedback_sycophancy"] == (
        "needs feedback items: no feedback item in the bundled data with base.dataset = trivia_qa (dataset.where)")
