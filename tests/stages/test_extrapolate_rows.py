"""N beyond the pool, wired to the run (bon/curve_extrapolate.py, bon/report/extrapolation.py): the backtest gates
which rows get extrapolated rows, the threshold defaults to half the median CI half-width, n_max = 0 turns it off,
the gold row's Goodhart fit says where its peak falls, and the report, backtest.csv and curves.png carry it.
Numpy only, no models."""
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from bon.curve_extrapolate import extrapolate_rows, n_max_of
from bon.estimator import bon_kl, bootstrap_ci, default_ns, expected_best_of_n
from bon.report import plot_curves, read_curves
from bon.report.extrapolation import backtest_frame, format_extrapolation


def cfg_of(**ext):
    return OmegaConf.create({"m": 32, "n_boot": 300, "seed": 0, "ci": 0.95, "min_items_ci": 5,
                             "extrapolate": {"n_max": None, "max_error": None, "degree": 1, "form": "auto", **ext}})


def pools(m=32, p=120, seed=0):
    """Per-prompt exact curves of three rows: one the form follows (a linear link), one it cannot (peaked), and a
    gold row (the linear link again)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((p, m))
    ns = default_ns(m)
    rows = {"follows": 0.3 * z + rng.normal(0, 0.5, (p, m)), "peaked": -z ** 2 + rng.normal(0, 0.3, (p, m)),
            "gold/g": 0.2 * z + rng.normal(0, 0.5, (p, m))}
    per_item = {(r, "std"): expected_best_of_n(z, v, ns) for r, v in rows.items()}
    curves = []
    for (r, v), arr in per_item.items():
        mean, lo, hi = bootstrap_ci(arr, n_boot=300)
        curves += [{"metric": r, "pm": v, "n": n, "kl": bon_kl(n), "mean": mean[k], "ci_low": lo[k],
                    "ci_high": hi[k], "n_items": p} for k, n in enumerate(ns)]
    return ns, per_item, pd.DataFrame(curves)


def test_only_rows_that_pass_the_backtest_are_extrapolated():
    ns, per_item, curves = pools()
    rows, facts = extrapolate_rows(per_item, {}, curves, ns, cfg_of(), 0.05)
    table = {e["metric"]: e for e in facts["backtest"]}
    assert table["follows"]["passed"] and not table["peaked"]["passed"]
    assert "backtest error" in table["peaked"]["why"]
    half = ((curves.ci_high - curves.ci_low) / 2)[curves.metric == "peaked"]
    assert table["peaked"]["threshold"] == pytest.approx(0.5 * half.median())
    assert table["follows"]["ns_fit"] == [1, 2, 4, 8] and table["follows"]["ns_test"] == [16, 32]
    ext = pd.DataFrame(rows)
    assert set(ext.metric) == {"follows", "gold/g"} and ext.extrapolated.all()
    assert sorted(ext.n.unique()) == [64, 128, 256] == facts["grid"] and n_max_of(cfg_of()) == 256
    assert (ext.ci_low < ext["mean"]).all() and (ext["mean"] < ext.ci_high).all()


def test_auto_takes_the_logit_form_for_a_saturating_rate():
    """A 0/1 row with a steep link (sigmoid(2 z - 1)) saturates: auto fits it by the logit form, whose backtest error
    is the lower here; a row outside [0, 1] is fitted by the normal form."""
    rng = np.random.default_rng(0)
    m, p = 32, 200
    z = rng.standard_normal((p, m))
    ns = default_ns(m)
    v = (rng.random((p, m)) < 1 / (1 + np.exp(-(2 * z - 1)))).astype(float)
    per_item = {("rate", "std"): expected_best_of_n(z, v, ns), ("signed", "std"): expected_best_of_n(z, v - 0.5, ns)}
    mean, lo, hi = bootstrap_ci(per_item[("rate", "std")], n_boot=300)
    curves = pd.DataFrame([{"metric": r, "pm": "std", "n": n, "mean": mean[k], "ci_low": lo[k], "ci_high": hi[k]}
                           for r in ["rate", "signed"] for k, n in enumerate(ns)])
    _, auto = extrapolate_rows(per_item, {}, curves, ns, cfg_of(), 0.05)
    _, normal = extrapolate_rows(per_item, {}, curves, ns, cfg_of(form="normal"), 0.05)
    a, n = ({e["metric"]: e for e in f["backtest"]} for f in (auto, normal))
    assert a["rate"]["form"] == "logit" and a["rate"]["mae"] < n["rate"]["mae"]
    assert a["signed"]["form"] == "normal" and a["signed"]["mae"] == n["signed"]["mae"]


def test_a_row_the_form_cannot_take_fails_with_the_reason():
    """extrapolate.form=logit on a row outside [0, 1]: that row fails its backtest saying why; the others go on."""
    ns, per_item, curves = pools()
    rates = {("rate", "std"): np.clip(per_item[("follows", "std")] * 0.1 + 0.5, 0, 1), **per_item}
    rows, facts = extrapolate_rows(rates, {}, curves, ns, cfg_of(form="logit"), 0.05)
    table = {e["metric"]: e for e in facts["backtest"]}
    assert not table["follows"]["passed"] and table["follows"]["why"].startswith("no fit: form 'logit' needs values")
    assert table["rate"]["mae"] is not None


def test_a_fixed_threshold_and_off():
    ns, per_item, curves = pools()
    _, facts = extrapolate_rows(per_item, {}, curves, ns, cfg_of(max_error=1e-9), 0.05)
    assert not any(e["passed"] for e in facts["backtest"])
    rows, facts = extrapolate_rows(per_item, {}, curves, ns, cfg_of(n_max=0), 0.05)
    assert rows == [] and "off" in facts
    assert "off" in format_extrapolation(curves, facts)


def test_gold_goodhart_on_the_extrapolated_curve_says_where_the_peak_falls():
    ns, per_item, curves = pools()
    _, facts = extrapolate_rows(per_item, {}, curves, ns, cfg_of(), 0.05)
    fit = facts["goodhart"]["gold/g"]["std"]
    assert fit["n_backtested"] == 32 * 4 and fit["n_max"] == 256
    # a rising gold curve: either no peak or one past the grid, never "inside" the backtested range by mistake
    assert fit["peak_inside_backtested"] == (fit["n_peak"] is not None and fit["n_peak"] <= 128)


def test_report_csv_and_plot_carry_the_extrapolation(tmp_path):
    ns, per_item, curves = pools()
    rows, facts = extrapolate_rows(per_item, {}, curves, ns, cfg_of(), 0.05)
    curves["extrapolated"] = False
    both = pd.concat([curves, pd.DataFrame(rows)], ignore_index=True)
    text = format_extrapolation(both, facts)
    assert "FAILS: backtest error" in text and "peaked" in text and "N=256" in text
    bt = backtest_frame(facts)
    assert list(bt.metric) == ["follows", "peaked", "gold/g"] and bt.passed.tolist() == [True, False, True]
    both.to_csv(tmp_path / "curves.csv", index=False)
    back = read_curves(tmp_path)
    assert back.extrapolated.dtype == bool and back.extrapolated.sum() == len(rows)
    from bon.report import plot as plot_mod

    assert plot_mod._extrapolated(back).sum() == len(rows)
    path = plot_curves(back, tmp_path / "curves.png", metrics=["follows", "peaked"])
    assert path.stat().st_size > 0


@pytest.mark.parametrize("override, message", [
    ("extrapolate.n_max=-1", "extrapolate.n_max must be null (8 * m) or an integer >= 0 (the largest N predicted; <= m: off), got -1"),
    ("extrapolate.max_error=0", "extrapolate.max_error must be null"),
    ("extrapolate.degree=0", "extrapolate.degree must be an integer >= 1"),
    ("extrapolate.form=power", "extrapolate.form must be one of auto, normal, logit, log"),
])
def test_bad_extrapolate_settings_are_config_errors(override, message):
    from hydra import compose, initialize_config_module

    from bon.config import CONF_PACKAGE, ConfigError, register_configs, validate

    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=demo", override])
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    assert message in str(e.value)
