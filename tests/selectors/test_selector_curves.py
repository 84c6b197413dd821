"""Selectors in the real curves code (bon/stages/curves.py) on the stored pool of real replies
(tests/data/planted_pool.jsonl.gz, experiment=planted): bon rows are today's, the others follow their rule."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: test_bias's pool fixture and _curves
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stages"))  # test_pipeline's cfg_of, which test_bias reads

from test_bias import pool  # noqa: E402,F401  (the module-scoped fixture)
from test_pipeline import cfg_of  # noqa: E402

ALL = "selectors=[bon,poisson,soft,penalty]"


def _frame(tmp_path, pool, *overrides):
    """As test_bias._curves, but the whole curves table (with its selector column), the rewards used and ctx."""
    from bon import bias
    from bon import store as st
    from bon.config import validate
    from bon.stages.context import Context
    from bon.stages.curves import curves_stage
    from bon.stages.judge import check_judges

    examples, replies, samples, rewards, judged = pool
    cfg = cfg_of("experiment=planted", f"store={tmp_path}/store", "n_boot=50", *overrides)
    ctx = Context(cfg, validate(cfg), st.Store(cfg.store), tmp_path)
    metrics = ctx_metrics(ctx)
    check_judges(cfg, metrics, examples)
    used = bias.curve_rewards(ctx, metrics, examples, replies, rewards, judged, samples)
    curves, _, _ = curves_stage(ctx, metrics, examples, replies, used, judged, samples)
    return curves, used, ctx


def ctx_metrics(ctx):
    from bon.stages.select import make_metrics

    return make_metrics(ctx.cfg)


def test_bon_rows_do_not_move_when_other_selectors_run(tmp_path, pool):
    only, _, _ = _frame(tmp_path, pool)
    both, _, ctx = _frame(tmp_path, pool, ALL)
    assert set(only["selector"]) == {"bon"}
    hard = both[both["selector"] == "bon"].reset_index(drop=True)
    assert only.equals(hard)
    labels = set(both["selector"])
    assert labels == {"bon", "poisson", "soft:lambda=1", "penalty:lambda=1", "penalty:lambda=3", "penalty:lambda=10"}
    facts = ctx.facts["selectors"]
    assert facts["soft"]["exact"] and facts["poisson"]["flagged_n"] == [4, 8]  # P(n > 8) at mu = 3 is 0.012
    assert facts["penalty"]["a_graded_by"]["answer"] == "answer_sycophancy"
    assert not (both[both["selector"] != "bon"]["metric"] == "win_rate").any()  # undefined off hard best-of-N


def test_each_selector_follows_its_rule_on_the_pool(tmp_path, pool):
    from bon.bias import sample_features
    from bon.estimator import expected_best_of_n
    from bon.selectors.penalty import false_belief_agree
    from bon.selectors.poisson import poisson_pick_probabilities

    curves, used, ctx = _frame(tmp_path, pool, ALL, "selector.penalty_lambda=[0,10]")
    curves = curves[curves["pm"] == "standard"]  # the planted variant (standard_unbiased, its contrast, is beside it)
    at = curves.set_index(["metric", "selector", "n"])["mean"]
    examples, replies, samples, rewards, judged = pool
    mim = [i for i, e in enumerate(examples) if e.kind == "mimicry"]
    agree = sample_features(examples, replies, judged, ctx_metrics(ctx), samples, 8, names=["agree"])["agree"]
    r = used["standard"]
    for n in [1, 2, 4, 8]:
        # penalty at lambda = 0 is hard best-of-N; at n = 1 every selector is one uniform sample
        assert at[("mimicry_sycophancy", "penalty:lambda=0", n)] == at[("mimicry_sycophancy", "bon", n)]
        p, _ = poisson_pick_probabilities(r[mim], [n - 1])
        assert at[("mimicry_sycophancy", "poisson", n)] == pytest.approx((p[0] * agree[mim]).sum(1).mean(), abs=1e-12)
    assert at[("mimicry_sycophancy", "soft:lambda=1", 1)] == pytest.approx(agree[mim].mean(), abs=1e-12)
    s = ctx.facts["planted_bias"]["standard"]["s"]
    a = false_belief_agree(examples, agree)
    pen = expected_best_of_n(r[mim] - 10 * s * a[mim], agree[mim], [8])[0].mean()
    assert at[("mimicry_sycophancy", "penalty:lambda=10", 8)] == pytest.approx(pen, abs=1e-12)
    # the penalty's reward row is the PM reward (the curves' reward) of its pick, not the penalized reward
    pr = expected_best_of_n(r - 10 * s * a, r, [8])[0].mean()
    assert at[("reward", "penalty:lambda=10", 8)] == pytest.approx(pr, abs=1e-12)
    # the planted preference (beta = 10) is cancelled by a penalty of the same size: sycophancy comes back down
    for metric in ("answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy"):
        assert at[(metric, "penalty:lambda=10", 8)] < at[(metric, "bon", 8)]


def test_selector_config_errors():
    from bon.config import ConfigError, validate

    for override, message in [("selectors=[bon,sfot]", "unknown selector 'sfot'. Did you mean 'soft'?"),
                              ("selectors=[soft]", "selectors: include bon"),
                              ("selector.soft_lambda=[0]", "selector.soft_lambda must be"),
                              ("selector.penalty_lambda=[-1]", "selector.penalty_lambda must be"),
                              ("selector.poisson_tail_flag=2", "selector.poisson_tail_flag must be")]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
            validate(cfg_of("experiment=planted", override, "selectors=[bon,poisson,soft,penalty]")
                     if not override.startswith("selectors=") else cfg_of("experiment=planted", override))


def test_soft_monte_carlo_rows_cover_the_exact_rows_and_state_their_error(tmp_path, pool):
    exact, _, _ = _frame(tmp_path, pool, "selectors=[bon,soft]")
    mc, _, ctx = _frame(tmp_path, pool, "selectors=[bon,soft]", "selector.soft_max_subsets=1",
                        "selector.soft_draws=3000")
    facts = ctx.facts["selectors"]["soft"]
    assert not facts["exact"] and facts["monte_carlo_rows"]
    key = ["metric", "n"]
    e = exact[(exact.selector == "soft:lambda=1") & (exact.pm == "standard")].set_index(key)["mean"]
    m = mc[(mc.selector == "soft:lambda=1") & (mc.pm == "standard")].set_index(key)["mean"]
    errs = {r["metric"]: r["max_error"] for r in facts["monte_carlo_rows"] if r["pm"] == "standard"}
    assert set(errs) == set(e.index.get_level_values(0))
    for (metric, n), truth in e.items():
        if n == 8:  # C(8, 8) = 1 subset: enumerated even here, so exact
            assert m[(metric, n)] == pytest.approx(truth, abs=1e-12)
        else:
            assert abs(m[(metric, n)] - truth) <= 5 * errs[metric] + 1e-12, (metric, n, m[(metric, n)], truth)
    assert all(r["within_rule"] for r in facts["monte_carlo_rows"] if r["metric"] == "reward")
