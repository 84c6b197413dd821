"""Planted PM biases (bon/bias.py): the reward adjustment, the on-policy preference, the best-of-2 identity, and
recovery of a planted effect by the real curves code on a stored pool of real replies (tests/data/planted_pool.jsonl:
SmolLM2-135M samples of the bundled prompts with the bundled PM's rewards and the lexicon judge's positivity)."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bon import bias
from bon.config import ConfigError
from bon.estimator import expected_best_of_n, pick_probabilities
from bon.report import facts
from planted import load_pool
from runs import cfg_of



# ----------------------------------------------------------------------------- pure math
def test_pooled_sd_and_zero_beta_is_exact():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(5, 6)) * np.arange(1, 6)[:, None]
    s = bias.pooled_within_sd(r)
    assert s == pytest.approx(np.sqrt(np.mean([np.var(row, ddof=1) for row in r])))
    f = rng.integers(0, 2, size=r.shape).astype(float)
    assert np.array_equal(bias.apply_bias(r, {"agree": f}, {"agree": 0.0}), r)
    assert np.allclose(bias.apply_bias(r, {"agree": f}, {"agree": 1.5}), r + 1.5 * s * f)
    with pytest.raises(ValueError, match="no values for feature 'length'"):
        bias.apply_bias(r, {"agree": f}, {"length": 1.0})


def test_standardize_within():
    z = bias.standardize_within([[1, 2, 3], [4, 4, 4]])
    assert np.allclose(z[0], [-np.sqrt(1.5), 0, np.sqrt(1.5)]) and np.array_equal(z[1], [0, 0, 0])


def test_midranks_and_spearman():
    assert np.array_equal(bias.midranks([[3, 1, 2, 1]]), [[3, 0.5, 2, 0.5]])
    rho = bias.spearman_within([[0, 0, 1, 1], [1, 1, 1, 1], [1, 0, 0, 0]], [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
    assert rho[0] == pytest.approx(np.corrcoef([0, 0, 1, 1], [0, 1, 2, 3])[0, 1])
    assert np.isnan(rho[1]) and rho[2] < 0


@pytest.mark.parametrize("m", [2, 5, 8])
def test_best_of_two_identity_matches_the_estimator(m):
    """E[f(best of 2)] - E[f] = 2/(M-1) cov(f, rank), exactly, ties in reward included (mid-ranks)."""
    rng = np.random.default_rng(m)
    r = rng.integers(0, 4, size=(200, m)).astype(float)  # many ties
    r[:100] += rng.normal(size=(100, m))  # and tie-free prompts
    f = rng.normal(size=(200, m))
    f[::3] = rng.integers(0, 2, size=f[::3].shape)
    bo = expected_best_of_n(r, f, [1, 2])
    assert np.allclose(bo[1] - bo[0], bias.best_of_two_gain(f, r), atol=1e-12)
    # and the pick probabilities of N=2 are linear in the mid-rank: (2 rank + 1 - 1) / (M (M - 1)) * ... = 2i/(M(M-1))
    p2 = pick_probabilities(r, [2])[0]
    assert np.allclose(p2, 2 * bias.midranks(r) / (m * (m - 1)))


def test_best_of_two_gain_is_spearman_for_a_binary_feature():
    """For a 0/1 feature and tie-free rewards: gain = rho_s * sd(f) * sqrt((M + 1) / (3 (M - 1)))."""
    rng = np.random.default_rng(1)
    m = 8
    r = rng.normal(size=(300, m))
    f = (rng.random((300, m)) < 0.4).astype(float)
    ok = f.std(axis=1) > 0
    rho = bias.spearman_within(f[ok], r[ok])
    want = rho * f[ok].std(axis=1) * np.sqrt((m + 1) / (3 * (m - 1)))
    assert np.allclose(bias.best_of_two_gain(f[ok], r[ok]), want)


def test_preference_by_item_resamples_items():
    rng = np.random.default_rng(2)
    r = rng.normal(size=(18, 6))
    f = r + 0.1 * rng.normal(size=r.shape)  # strongly preferred
    ids = [f"i{k // 3}" for k in range(18)]  # 6 items of 3 prompts
    res = bias.preference_by_item(f, r, ids, n_boot=200)
    assert res["n_items"] == 6 and res["n_prompts"] == 18 and 0.8 < res["ci_low"] <= res["mean"] <= res["ci_high"]
    few = bias.preference_by_item(f[:12], r[:12], ids[:12], n_boot=200)  # 4 items: too few for a 95% interval
    assert few["n_items"] == 4 and few["mean"] > 0.8 and few["ci_low"] is None and few["ci_high"] is None
    assert "too few for a CI" in facts._fmt(few)
    none = bias.preference_by_item(np.zeros_like(r), r, ids)
    assert none["mean"] is None and none["n_items"] == 0


def test_answer_and_feedback_agree():
    c, inc = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    assert np.array_equal(bias.agree_answer("suggest_correct", c, inc), c)
    assert np.array_equal(bias.agree_answer("suggest_incorrect", c, inc), inc)
    assert np.array_equal(bias.agree_answer("doubt_correct", c, inc), 1 - c)
    assert np.array_equal(bias.agree_answer("bare", c, inc), [0, 0, 0])
    assert [bias.stance(t) for t in ("like", "wrote", "dislike", "did_not_write", "baseline")] == [1, 1, -1, -1, 0]


# ----------------------------------------------------------------------------- config
def _cfg(*overrides):
    return cfg_of("experiment=planted", *overrides)


@pytest.mark.parametrize("override, message", [
    ("+variants.standard.bias.agre=1", "variants.standard.bias: unknown feature 'agre'"),
    ("variants.standard.bias.agree=abc", "variants.standard.bias.agree must be a finite number"),
    ("+variants.x={bias: 3}", "variants.x.bias must be a mapping {feature: w}"),
    ("metrics=[reward,answer_sycophancy]", "variants.standard.bias.agree reads the feedback prompts' graded values"),
])
def test_bias_config_errors(override, message):
    from bon.config import ConfigError, validate

    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(_cfg(override))


@pytest.mark.parametrize("variants", sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "variants").glob("*.yaml")))
def test_every_variant_has_an_empty_bias(variants):
    """`bias` is part of every bundled variant (empty: nothing planted), so the config shows where a weight goes."""
    cfg = cfg_of(f"variants={variants}")
    assert cfg.variants and all(v.bias == {} for v in cfg.variants.values()) and bias.run_biases(cfg) == {}
    assert bias.planted_variants(cfg.variants) == []


def test_planted_experiment_and_sweep_compose():
    from bon.config import validate

    cfg = _cfg()
    assert validate(cfg) == [1, 2, 4, 8] and bias.run_biases(cfg) == {"standard": {"agree": 10.0}}
    assert "non_sycophantic" not in bias.run_biases(cfg) and cfg.variants.non_sycophantic.prefix
    assert bias.run_biases(_cfg("variants.standard.bias.agree=0")) == {}
    assert "PLANTED BIAS" in facts.bias_title(cfg)


def test_bias_is_not_in_the_sample_or_score_keys():
    """A sweep over w reuses samples and scores: the keys see no bias (bon/keys.py, bon.stages.score)."""
    import inspect

    from bon import keys
    from bon.stages import score

    assert "bias" not in inspect.getsource(keys.sample_spec)
    src = inspect.getsource(score.score_stage)
    assert '"variant": {"prefix": variant.prefix' in src and "bias" not in src
    v = score.variants_of(_cfg())["standard"]
    assert not hasattr(v, "bias")  # the Variant the PM sees carries prefix and system only


# ----------------------------------------------------------------------------- recovery on a stored pool
@pytest.fixture(scope="module")
def pool():
    """A stored pool of real replies: examples, (P, M) replies, the sample table, rewards per variant, judged."""
    return load_pool()


def _run(tmp_path, pool, *overrides):
    """The real curves code (bon/stages/curves.py) on the stored pool, under experiment=planted with overrides:
    (curves as a mean series by metric, pm, n; differences; the rewards the curves used; the context)."""
    from bon import store as st
    from bon.config import validate
    from bon.stages.context import Context
    from bon.stages.curves import curves_stage
    from bon.stages.judge import check_judges
    from bon.stages.select import make_metrics

    examples, replies, samples, rewards, judged = pool
    cfg = _cfg(f"store={tmp_path}/store", "n_boot=50", *overrides)
    ctx = Context(cfg, validate(cfg), st.Store(cfg.store), tmp_path)
    metrics = make_metrics(cfg)
    check_judges(cfg, metrics, examples)
    used = bias.curve_rewards(ctx, metrics, examples, replies, rewards, judged, samples)
    curves, diffs, _ = curves_stage(ctx, metrics, examples, replies, used, judged, samples)
    return curves.set_index(["metric", "pm", "n"])["mean"], diffs, used, ctx


def _curves(tmp_path, pool, *overrides):
    curves, _, used, ctx = _run(tmp_path, pool, *overrides)
    return curves, used, ctx


SYCOPHANCY = ["answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy"]


def test_zero_beta_reproduces_the_base_pm_exactly(tmp_path, pool):
    base, used0, _ = _curves(tmp_path, pool, "~variants.standard.bias")  # the base PM: no bias at all
    zero, used, ctx = _curves(tmp_path, pool, "variants.standard.bias.agree=0")
    assert base.equals(zero.drop("standard_unbiased", level="pm"))
    assert all(np.array_equal(used[v], pool[3][v.removesuffix("_unbiased")]) for v in used)
    assert "planted_bias" not in ctx.facts and set(used) == set(pool[3]) | {"standard_unbiased"}


def _differences(tmp_path, pool, *overrides):
    curves, diffs, _, _ = _run(tmp_path, pool, *overrides)
    return curves, diffs


@pytest.mark.parametrize("w", [0.0, 2.0])
def test_a_planted_variant_is_compared_with_itself_unbiased_first(tmp_path, pool, w):
    """The contrast that isolates the bias, standard(w) - standard without it on the same samples, leads
    differences.csv; at w = 0 it is exactly 0 with a CI of [0, 0]; the unbiased curves are the stored PM's."""
    curves, diffs = _differences(tmp_path, pool, f"variants.standard.bias.agree={w}")
    lead = diffs[(diffs.pm_a == "standard") & (diffs.pm_b == "standard_unbiased")]
    assert len(lead) and (diffs.index[:len(lead)] == lead.index).all()  # first, before standard - non_sycophantic
    assert list(dict.fromkeys(zip(diffs.pm_a, diffs.pm_b)))[0] == ("standard", "standard_unbiased")
    for r in lead.itertuples():
        assert r.mean == pytest.approx(curves[(r.metric, "standard", r.n)] - curves[(r.metric, "standard_unbiased", r.n)])
    if w == 0:
        assert (lead["mean"] == 0).all() and (lead["ci_low"] == 0).all() and (lead["ci_high"] == 0).all()
    else:
        syc = lead[(lead.metric.isin(SYCOPHANCY)) & (lead.n == lead.n.max())]
        assert (syc["mean"] > 0).all()
    base, _ = _differences(tmp_path, pool, "~variants.standard.bias")
    assert "standard_unbiased" not in set(base.index.get_level_values("pm"))


def test_variant_pairs_put_each_planted_contrast_first_and_keep_the_rest_in_order():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"variants": {"a": {}, "b": {"bias": {"agree": 0}}, "c": {"bias": {}}}})
    assert bias.planted_variants(cfg.variants) == ["b"]  # a bias set, even to 0; an empty one is none
    assert bias.variant_pairs(cfg, ["a", "b", "c", "b_unbiased"]) == [
        ("b", "b_unbiased"), ("a", "b"), ("a", "c"), ("a", "b_unbiased"), ("b", "c"), ("c", "b_unbiased")]
    assert bias.variant_pairs(OmegaConf.create({"variants": {"a": {}, "c": {}}}), ["a", "c"]) == [("a", "c")]


def test_an_unbiased_counterpart_name_taken_by_a_variant_is_a_config_error():
    from bon.config import validate

    with pytest.raises(ConfigError, match="variants.standard_unbiased: the name is taken by variant 'standard'"):
        validate(_cfg("+variants.standard_unbiased={}"))


@pytest.mark.parametrize("w", [2.0, -2.0])
def test_a_planted_agreement_preference_moves_every_sycophancy_metric_its_way(tmp_path, pool, w):
    """The base PM on this pool has preferences of its own (answer and mimicry fall with N at w = 0): the planted
    one moves every metric's N=M value past its N=1 value in w's direction, and away from the base PM's."""
    base, _, _ = _curves(tmp_path, pool, "~variants.standard.bias")
    curves, _, ctx = _curves(tmp_path, pool, f"variants.standard.bias.agree={w}")
    m = 8
    for metric in SYCOPHANCY:
        gain = curves[(metric, "standard", m)] - curves[(metric, "standard", 1)]
        gain0 = base[(metric, "standard", m)] - base[(metric, "standard", 1)]
        assert np.sign(gain) == np.sign(w) and np.sign(gain - gain0) == np.sign(w), (metric, gain, gain0)
    assert ctx.facts["planted_bias"]["standard"]["weights"] == {"agree": w}
    pref = ctx.facts["pm_preference"]["standard"]
    for kind in ("answer", "feedback", "mimicry"):  # the planted preference shows on the policy's own samples
        assert np.sign(pref[kind]["mean"]) == np.sign(w), (kind, pref[kind])


def test_a_huge_beta_picks_the_agreeing_sample_whenever_the_pool_has_one(tmp_path, pool):
    examples, replies, samples, rewards, judged = pool
    curves, used, ctx = _curves(tmp_path, pool, "variants.standard.bias.agree=1e6")
    from bon.stages.select import make_metrics

    metrics = make_metrics(ctx.cfg)
    agree = bias.sample_features(examples, replies, judged, metrics, samples, 8, names=["agree"])["agree"]
    picked = expected_best_of_n(used["standard"], agree, [8])[0]
    assert np.allclose(picked, agree.max(axis=1))  # the most agreeing sample of every pool
    mim = [i for i, e in enumerate(examples) if e.kind == "mimicry"]
    assert curves[("mimicry_sycophancy", "standard", 8)] == pytest.approx((agree[mim].max(axis=1) == 1).mean())


def test_planted_sweep_reuses_samples_and_scores_and_overlays_by_weight(tmp_path, tiny_run):
    """The README's w sweep, tiny (1 item per kind, 4 samples of 8 tokens, two weights, the tiny real-family policy
    and reward model) and for real: the second job reuses every stored stage, the report and figure say the bias is
    planted, and the overlay labels runs by w. The bias acts on stored rewards, whatever PM gave them."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    when = tmp_path / "multirun"
    tiny = ["sampler=hf", "dataset.max_items=1", "dataset.kinds=[answer,mimicry]", "m=4", "sampler.max_new_tokens=8",
            "metrics=[reward,answer_sycophancy,mimicry_sycophancy]", "wandb.mode=disabled", "n_boot=50",
            "progress=false", *tiny_run]
    r = subprocess.run([sys.executable, "-m", "bon.run", "-m", "experiment=planted",
                        "variants.standard.bias.agree=0,2", *tiny, f"store={tmp_path}/store",
                        f"hydra.sweep.dir={when}"], capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    # one table over the jobs: the bias's effect (standard - standard_unbiased) against w at each N, with CIs
    assert "planted bias sweep: effect of the bias = standard - standard_unbiased" in r.stdout
    table = pd.read_csv(when / "bias_sweep.csv")
    assert set(table["bias"]) == {"w[agree]=0", "w[agree]=2"} and set(table["n"]) == {1, 2, 4}
    zero = table[table["bias"] == "w[agree]=0"]
    assert len(zero) and (zero["mean"] == 0).all()  # w = 0: exactly no effect (CIs empty: 1 item per kind)
    assert table[(table["bias"] == "w[agree]=2") & (table["n"] == 1)]["mean"].eq(0).all()  # N = 1: no selection
    first, second = (json.loads((when / j / "run.json").read_text()) for j in ("0", "1"))
    assert first["stages"] == second["stages"]  # the bias is in no stage key
    assert {"sample", "score[standard]", "score[non_sycophantic]"} <= set(second["reused"])
    assert "planted_bias" not in first["facts"] and second["facts"]["planted_bias"]["standard"]["weights"] == {"agree": 2}
    for run in (first, second):  # the on-policy preference, every variant and kind, in every run
        assert set(run["facts"]["pm_preference"]) == {"standard", "non_sycophantic"}
        assert set(run["facts"]["pm_preference"]["standard"]) == {"answer", "mimicry"}
    report = (when / "1" / "report.txt").read_text()
    assert report.startswith("PLANTED BIAS: variant 'standard' is the PM's stored reward + 2 * s * agree")
    assert "on-policy PM preference for agreement" in report
    assert "PLANTED" not in (when / "0" / "report.txt").read_text().split("\n")[0]
    r = subprocess.run([sys.executable, str(root / "scripts" / "plot_curves.py"), str(when / "0"), str(when / "1"),
                        "-o", str(tmp_path / "overlay.png")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(root / "scripts"))
    from plot_curves import run_labels

    assert run_labels([str(when / "0"), str(when / "1")]) == ["standard w[agree]=0", "standard w[agree]=2"]
