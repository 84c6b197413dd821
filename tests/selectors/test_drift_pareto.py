"""The drift table (bon/drift.py) and the Pareto table (bon/report/pareto.py) on the stored pool of real replies."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_selector_curves import ALL, _frame, pool  # noqa: E402,F401

from bon.bias import best_of_two_gain  # noqa: E402
from bon.drift import drift_tables, format_drift, item_features  # noqa: E402


def test_item_features_are_the_best_of_two_identity():
    class E:
        def __init__(self, item, template):
            self.kind, self.item_id, self.template = "mimicry", item, template
    ex = [E("a", "t"), E("a", "t2"), E("b", "t"), E("c", "bare")]
    rng = np.random.default_rng(1)
    agree, r = (rng.random((4, 5)) > 0.5).astype(float), np.round(rng.normal(size=(4, 5)), 1)
    f = item_features(ex, agree, r, "mimicry")
    g = best_of_two_gain(agree, r)
    assert set(f) == {"a", "b"}  # c states no belief
    assert f["a"][0] == pytest.approx((g[0] + g[1]) / 2) and f["b"][0] == pytest.approx(g[2])
    cov = ((agree[2] - agree[2].mean()) * (r[2] - r[2].mean())).mean()
    assert f["b"][1] == pytest.approx(cov)


def test_drift_on_the_pool_mimicry_prediction_is_exact(tmp_path, pool):
    from bon.selectors.penalty import A_GRADED_BY

    curves, used, ctx = _frame(tmp_path, pool, ALL)
    sel = ctx.selection
    hard = {k: v for k, v in sel["per_item"].items() if len(k) == 2}
    kinds = {m: k for k, m in A_GRADED_BY.items() if m != "are_you_sure"}  # the pool has no are_you_sure items
    drift, split = drift_tables(pool[0], sel["agree"], used, hard, sel["groups"],
                                kinds, ctx.ns, ctx.cfg, 0.05)
    d = drift.set_index(["metric", "pm"])
    # mimicry's metric is the agreement rate of the pick itself: predicted = observed exactly, item by item
    mim = d.loc[("mimicry_sycophancy", "standard")]
    assert mim["predicted"] == pytest.approx(mim["observed"], abs=1e-12) and mim["gap"] == pytest.approx(0, abs=1e-12)
    # the planted preference (w = 10) shows as a predicted rise for every kind (standard_unbiased, the same PM
    # without it, is its contrast)
    planted = d.xs("standard", level="pm")
    assert len(planted) == 3 and (planted["predicted"] > 0).all() and (planted["observed"] > 0).all()
    assert set(split["group"]) <= {"cov>0", "cov<=0"} and (split.groupby(["metric", "group"])["n_items"].first() > 0).all()
    assert "predicted drift" in format_drift(drift)


def test_pareto_table_pairs_reward_and_sycophancy(tmp_path, pool):
    from bon.report.pareto import pareto_table, plot_pareto

    curves, _, _ = _frame(tmp_path, pool, ALL)
    t = pareto_table(curves)
    assert set(t["metric"]) == {"answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy"}
    row = t[(t.selector == "penalty:lambda=10") & (t.metric == "mimicry_sycophancy") & (t.n == 8)
            & (t.pm == "standard")].iloc[0]
    c = curves[curves.pm == "standard"].set_index(["metric", "selector", "n"])
    assert row["reward"] == c.loc[("reward", "penalty:lambda=10", 8), "mean"]
    assert row["mean"] == c.loc[("mimicry_sycophancy", "penalty:lambda=10", 8), "mean"]
    assert row["a_graded_by"] == "mimicry_sycophancy"
    assert (t[~t.selector.str.startswith("penalty")]["a_graded_by"] == "").all()
    plot_pareto(t, tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").stat().st_size > 10000
