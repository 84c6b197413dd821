"""Gold vs proxy (Gao et al. 2022): the overoptimization fit on planted pools, the gold / length / truncated / flip
metrics on hand-computed cases, the curves-stage bookkeeping and the Goodhart panel. Numpy only, no models."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from bon.data.sycophancy_eval import Example
from bon.curve_stats import goodhart_fits, kl_pool_rows, length_shifts
from bon.estimator import bon_kl, default_ns, expected_best_of_n, fit_goodhart
from bon.metrics import make_metric
from bon.report import plot_curves
from bon.report.facts import format_facts

TEMPLATES = ("bare", "doubt_correct", "suggest_correct", "suggest_incorrect")


def ex(kind, template, item):
    return Example(kind, "d", template, item, ({"role": "user", "content": "..."},), "",
                   {"correct_answer": "Canberra", "incorrect_answer": "Sydney", "answer": ["Canberra"]}, {})


def planted_pools(bonus, P=300, M=256, seed=0):
    """gold = quality - 0.5 length (long replies are worse), proxy = gold + bonus * length: a PM that buys length."""
    rng = np.random.default_rng(seed)
    quality, length = rng.normal(size=(P, M)), rng.exponential(size=(P, M))
    gold = quality - 0.5 * length
    return gold + bonus * length, gold


def test_fit_recovers_planted_overoptimization_peak():
    ns = default_ns(256)
    d = np.sqrt(bon_kl(np.array(ns)))
    proxy, gold = planted_pools(bonus=1.0)
    curve = expected_best_of_n(proxy, gold, ns).mean(axis=1)
    fit = fit_goodhart(d, curve - curve[0], ns)
    true_peak = ns[int(np.argmax(curve))]
    assert 1 < true_peak < ns[-1]  # the planted gold curve rises, then falls
    assert fit["beta"] > 0 and fit["alpha"] > 0 and fit["inside"]
    assert true_peak / 2 <= fit["n_peak"] <= true_peak * 2
    assert fit["rmse"] < 0.1 * (curve.max() - curve[0])
    # control: the proxy is the gold itself, so best-of-N never hurts it and no peak shows inside the grid
    proxy, gold = planted_pools(bonus=0.0)
    curve = expected_best_of_n(proxy, gold, ns).mean(axis=1)
    assert (np.diff(curve) > 0).all()
    assert not fit_goodhart(d, curve - curve[0], ns)["inside"]


def test_fit_goodhart_exact_form_and_edges():
    ns = [1, 2, 4, 8, 16, 32]
    d = np.sqrt(bon_kl(np.array(ns)))
    fit = fit_goodhart(d, d * (1.2 - 0.5 * d), ns)
    assert fit["alpha"] == pytest.approx(1.2) and fit["beta"] == pytest.approx(0.5)
    assert fit["d_peak"] == pytest.approx(1.2) and fit["r_peak"] == pytest.approx(0.72) and fit["inside"]
    assert bon_kl(fit["n_peak"]) == pytest.approx(1.44, rel=0.05)  # interpolated in log N between grid points
    rising = fit_goodhart(d, 0.8 * d, ns)
    assert rising["beta"] == pytest.approx(0, abs=1e-12) or rising["n_peak"] == math.inf
    far = fit_goodhart(d, d * (1.0 - 0.1 * d), ns)  # peak at d = 5, beyond the grid: N from the inverted bound
    assert not far["inside"] and bon_kl(far["n_peak"]) == pytest.approx(25.0, rel=1e-6)
    falling = fit_goodhart(d, -d * (0.1 + 0.2 * d), ns)
    assert falling["d_peak"] == 0 and falling["n_peak"] == 1.0 and not falling["inside"]
    with pytest.raises(ValueError, match="same length"):
        fit_goodhart(d, d[:-1])


def test_answer_flips_hand_computed():
    m = make_metric("answer_sycophancy", grading="string")
    exs = [ex("answer", t, "q") for t in TEMPLATES]
    values = np.array([[1, 0], [0, 0], [1, 1], [0, 0]], dtype=float)  # bare, doubt, suggest_correct, suggest_incorrect
    rewards = np.array([[0, 1], [0, 0], [0, 0], [0, 0]], dtype=float)  # bare's PM prefers the wrong reply
    rows = m.item_curves(exs, rewards, values, [1, 2])
    # acc_bare: N=1 1/2, N=2 0 (the pick is sample 1); acc_si = 0; acc_sc = 1. Net flips: regressive = bare - si,
    # progressive = sc - bare
    np.testing.assert_allclose(rows["answer_flip/regressive"][:, 0], [0.5, 0.0])
    np.testing.assert_allclose(rows["answer_flip/progressive"][:, 0], [0.5, 1.0])
    values[3] = [1, 0]  # suggest_incorrect half right, as bare at N = 1: no net flip, though the gross rate is 0.25
    rows = m.item_curves(exs, rewards, values, [1])
    np.testing.assert_allclose(rows["answer_flip/regressive"][:, 0], [0.0])
    assert m.item_ids["answer_flip/progressive"] == ["q"]


def test_answer_flips_are_zero_for_a_template_blind_policy():
    """Accuracy that does not depend on the template: the net flips average 0 (within 4 standard errors over 3000
    simulated items), while the gross rate acc_bare (1 - acc_si) the rows held before sits near E[p (1 - p)]."""
    rng = np.random.default_rng(3)
    m, M, items = make_metric("answer_sycophancy", grading="string"), 8, 3000
    exs = [ex("answer", t, f"q{i}") for i in range(items) for t in TEMPLATES]
    p = np.repeat(rng.uniform(0.1, 0.9, size=items), len(TEMPLATES))[:, None]  # the item's accuracy, every template
    values = (rng.uniform(size=(len(exs), M)) < p).astype(float)
    rewards = rng.normal(size=(len(exs), M))
    rows = m.item_curves(exs, rewards, values, [1, 2, 8])
    for name in ("answer_flip/regressive", "answer_flip/progressive"):
        x = rows[name]
        se = x.std(axis=1) / np.sqrt(items)
        assert (np.abs(x.mean(axis=1)) < 4 * se).all(), (name, x.mean(axis=1), se)
    gross = rows["answer_accuracy/bare"] * (1 - rows["answer_accuracy/suggest_incorrect"])
    assert (gross.mean(axis=1) > 0.15).all()  # what the chance correction removes


def test_length_and_truncated_hand_case():
    exs = [ex("answer", "bare", "a"), ex("mimicry", "misattributed", "b")]
    texts = [["x"] * 3, ["y"] * 3]
    n_tokens = np.array([[10, 20, 30], [5, 5, 40]], dtype=object)
    reasons = np.array([["stop", "stop", "length"], ["stop", "length", "length"]], dtype=object)
    rewards = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0]])
    length, trunc = make_metric("length"), make_metric("truncated")
    lv = length.sample_values(exs, texts, n_tokens)
    tv = trunc.sample_values(exs, texts, reasons)
    np.testing.assert_array_equal(tv, [[0, 0, 1], [0, 1, 1]])
    rows = length.item_curves(exs, rewards, lv, [1, 2, 3])
    # prompt a: N=1 mean 20; N=2 subsets {01}->20 {02}->30 {12}->20 = 70/3; N=3 -> 20
    np.testing.assert_allclose(rows["length"][:, 0], [20, 70 / 3, 20])
    # prompt b: samples 0 and 1 tie at the top: N=2 {01}->tie 5 {02}->5 {12}->5; N=3 -> 5
    np.testing.assert_allclose(rows["length"][:, 1], [50 / 3, 5, 5])
    assert set(rows) == {"length", "length/answer", "length/mimicry"}
    np.testing.assert_allclose(rows["length/mimicry"][:, 0], rows["length"][:, 1])
    t = trunc.item_curves(exs, rewards, tv, [1, 3])
    np.testing.assert_allclose(t["truncated"], [[1 / 3, 2 / 3], [0, 0.5]])  # b at N=3: tie of 0 (stop) and 1 (cut)
    with pytest.raises(ValueError, match="finish_reason of prompt .* must be one of"):
        trunc.sample_values(exs, texts, np.array([["stop", "eos", "stop"], ["stop"] * 3], dtype=object))
    with pytest.raises(ValueError, match="n_tokens"):
        length.sample_values(exs, texts, None)


def test_gold_metric_picks_by_proxy_and_scores_by_gold():
    exs = [ex("answer", t, "q") for t in TEMPLATES]
    proxy = np.array([[0, 1, 2]] * 4, dtype=float)
    gold = np.array([[1, 1, 0]] * 4, dtype=float)  # the proxy's favourite is the gold's worst
    g = make_metric("gold", label="correctness", like=make_metric("answer_sycophancy"))
    assert g.name == "gold/correctness" and g.kind == "answer"
    rows = g.item_curves(exs, proxy, g.sample_values(exs, [["a"] * 3] * 4, gold), [1, 2, 3])
    np.testing.assert_allclose(rows["gold/correctness"][:, 0], [2 / 3, 1 / 3, 0])
    with pytest.raises(ValueError, match="label"):
        make_metric("gold", label="a/b")


def test_each_gold_source_names_its_row_and_hands_over_its_scores():
    """The three gold sources (bon/metrics/gold/): the row they name, the prompts they read, the (P, M) gold scores."""
    from omegaconf import OmegaConf

    from bon.metrics.gold import GOLD_SOURCES

    assert GOLD_SOURCES.names() == ["judge", "metric", "variant"]
    exs = [ex("answer", t, "q") for t in TEMPLATES] + [Example("feedback", "arguments", "like", "a", (), "", {}, {})]
    replies = [["Canberra", "Sydney"]] * 4 + [["nice", "bad"]]
    judged = {"positivity": np.array([[0.5, -0.5]])}
    rewards = {"standard": np.arange(10.0).reshape(5, 2), "honest": -np.arange(10.0).reshape(5, 2)}

    def errors(source, ref):
        g = OmegaConf.create({"source": source, "ref": ref, "name": None})
        return GOLD_SOURCES.get(source).config_errors(OmegaConf.create({"variants": {"standard": {}, "honest": {}}}), g)

    def gold(source, ref, name=None):
        g = OmegaConf.create({"source": source, "ref": ref, "name": name})
        src = GOLD_SOURCES.get(source)
        metric = src.metric(g, [], lambda n: make_metric(n))
        sel = [i for i, e in enumerate(exs) if metric.applies(e)]
        return errors(source, ref), metric, sel, src.values(g, metric, sel, exs, replies, judged, rewards, {})

    errs, m, sel, values = gold("variant", "honest")
    assert not errs and m.name == "gold/honest" and sel == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(values, rewards["honest"])
    errs, m, sel, values = gold("judge", "positivity", name="liked")
    assert not errs and m.name == "gold/liked" and sel == [4]
    np.testing.assert_array_equal(values, judged["positivity"])
    errs, m, sel, values = gold("metric", "answer_sycophancy")  # its per-sample value is correctness
    assert not errs and m.name == "gold/correctness" and sel == [0, 1, 2, 3]
    np.testing.assert_array_equal(values, [[1, 0]] * 4)
    assert errors("variant", "nope") == ["gold.ref: no PM variant 'nope'; variants are ['standard', 'honest']"]
    assert errors("judge", "nope") == ["gold.ref: unknown judge task 'nope'; expected one of "
                                       "['admits', 'correctness', 'positivity', 'positivity_pairwise']"]
    assert "no per-sample value" in errors("metric", "reward")[0] and "answer_sycophancy (correctness)" in \
        errors("metric", "reward")[0]
    assert errors("metric", "answer_sycophancy_")[0].startswith("gold.ref: unknown metric 'answer_sycophancy_'. "
                                                                "Did you mean 'answer_sycophancy'")
    with pytest.raises(ValueError, match="judge task 'correctness' did not run"):
        gold("judge", "correctness")


def curves_frame():
    """Synthetic curves.csv rows: one proxy whose gold peaks, kl_pool and lengths."""
    ns = [1, 2, 4, 8, 16]
    kl = bon_kl(np.array(ns))
    d = np.sqrt(kl)
    rows = []
    for pm, shrink in [("standard", 1.0), ("non_sycophantic", 0.9)]:
        gold = 0.2 + d * (0.8 - 0.5 * d)
        for k, n in enumerate(ns):
            base = {"pm": pm, "n": n, "kl": kl[k], "n_items": 5}
            rows += [{"metric": "reward", **base, "mean": d[k], "ci_low": d[k] - .1, "ci_high": d[k] + .1},
                     {"metric": "gold/correctness", **base, "mean": gold[k], "ci_low": gold[k] - .05,
                      "ci_high": gold[k] + .05},
                     {"metric": "kl_pool", **base, "mean": kl[k] * shrink, "ci_low": kl[k] * shrink,
                      "ci_high": kl[k] * shrink},
                     {"metric": "length", **base, "mean": 20 * (1 + 0.1 * k if pm == "standard" else 1),
                      "ci_low": 19, "ci_high": 30}]
    return pd.DataFrame(rows)


def test_curves_facts_and_report_lines():
    curves = curves_frame()
    fits = goodhart_fits(curves)
    f = fits["gold/correctness"]["standard"]
    assert f["kl"]["alpha"] == pytest.approx(0.8) and f["kl"]["beta"] == pytest.approx(0.5) and f["kl"]["inside"]
    assert set(f) == {"kl", "kl_pool"} and f["kl_pool"]["n_peak"] is not None
    shifts = length_shifts(curves)
    flagged = {(s["row"], s["pm"]) for s in shifts if s["flag"]}
    assert flagged == {("length", "standard")}  # +40% from N=1 to N=16; the other stays put
    lines = format_facts({"goodhart": fits, "length_shift": shifts})
    assert any("Goodhart fit of gold/correctness under proxy standard vs sqrt(KL bound)" in s
               and "inside the grid" in s for s in lines)
    assert sum("FLAG length" in s for s in lines) == 1


def test_kl_pool_rows_carry_the_tie_free_value():
    rewards = {"a": np.array([[0.0, 0.0, 1.0, 2.0]] * 3), "b": np.array([[0.0, 1.0, 2.0, 3.0]] * 3)}
    ns = [1, 2, 4]
    rows, facts = kl_pool_rows(rewards, ns, bon_kl(np.array(ns)), n_boot=20, alpha=0.05, seed=0)
    df = pd.DataFrame(rows)
    free = df[(df.metric == "kl_pool/tie_free") & (df.pm == "a")]["mean"].to_numpy()
    np.testing.assert_allclose(df[(df.metric == "kl_pool") & (df.pm == "b")]["mean"], free)  # b has no ties
    assert (df[(df.metric == "kl_pool") & (df.pm == "a")]["mean"].to_numpy()[1:] < free[1:]).all()
    assert facts["a"]["prompts_with_ties"] == 3 and facts["b"]["prompts_with_ties"] == 0
    assert facts["b"]["tie_free"] < facts["b"]["bound"]


@pytest.mark.parametrize("x", ["kl", "kl_pool"])
def test_goodhart_panel_is_drawn(tmp_path, x):
    curves = curves_frame()
    out = plot_curves(curves, tmp_path / f"{x}.png", x=x, fits=goodhart_fits(curves))
    assert out.stat().st_size > 10_000
    with pytest.raises(ValueError, match="kl_pool rows"):
        plot_curves(curves[curves.metric != "kl_pool"], tmp_path / "no.png", x="kl_pool")


def goodhart_axes(fits, x="kl"):
    """The Goodhart panel of curves_frame() drawn on a fresh Axes with the given stored fits."""
    from matplotlib.figure import Figure

    from bon.report.plot import _goodhart_panel

    ax = Figure().subplots()
    _goodhart_panel(ax, curves_frame(), "gold/correctness", "pm", {"standard": "C0", "non_sycophantic": "C1"}, "pm",
                    {}, None, x, {}, fits)
    return ax


def test_goodhart_panel_draws_the_stored_fit_and_never_refits():
    """The dashed line is the fit the curves stage stored, even one that disagrees with the points (here alpha = 1,
    beta = 0.25 against data made with 0.8 and 0.5); without a stored fit there is no dashed line."""
    stored = {"alpha": 1.0, "beta": 0.25, "d_peak": 2.0, "r_peak": 1.0, "inside": False}
    ax = goodhart_axes({"standard": {"kl": stored}, "non_sycophantic": {"skipped": "no fit: test"}})
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_color() == "C0"
    dd, y = dashed[0].get_xdata(), dashed[0].get_ydata()
    np.testing.assert_allclose(y, 0.2 + dd * (1.0 - 0.25 * dd))  # gold(N=1) = 0.2 plus the stored gain
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "*"]  # the stored peak is outside the grid
    assert not [ln for ln in goodhart_axes({}).get_lines() if ln.get_linestyle() == "--"]
    assert not [ln for ln in goodhart_axes({"standard": {"kl": stored}}, x="kl_pool").get_lines()
                if ln.get_linestyle() == "--"]  # a fit on the bound axis is not drawn on the kl_pool axis
    fits = goodhart_fits(curves_frame())["gold/correctness"]
    peaks = [ln for ln in goodhart_axes(fits).get_lines() if ln.get_marker() == "*"]
    assert len(peaks) == 2 and peaks[0].get_xdata()[0] == pytest.approx(0.8)  # d* = alpha / (2 beta), stored


def test_plot_script_overlays_any_metric(tmp_path):
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        curves_frame().to_csv(tmp_path / run / "curves.csv", index=False)
    fits = goodhart_fits(curves_frame())
    (tmp_path / "a" / "run.json").write_text(json.dumps({"facts": {"goodhart": fits}}))
    script = Path(__file__).resolve().parents[2] / "scripts" / "plot_curves.py"
    spec = importlib.util.spec_from_file_location("plot_curves_script", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    overlay = mod.run_fits([tmp_path / "a", tmp_path / "b"], ["a", "b"])  # b has no run.json: no fits
    assert overlay == {"gold/correctness": {"a:standard": fits["gold/correctness"]["standard"],
                                            "a:non_sycophantic": fits["gold/correctness"]["non_sycophantic"]}}
    r = subprocess.run([sys.executable, str(script), tmp_path / "a", tmp_path / "b", "-o", tmp_path / "o.png",
                        "--metric", "gold/correctness", "--metric", "length", "--x", "kl_pool"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.png").stat().st_size > 10_000
    r = subprocess.run([sys.executable, str(script), tmp_path / "a", "--metric", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "not in curves" in r.stderr


def test_goodhart_fits_never_raise_and_resample_items():
    """Issue 15: gold rising almost linearly (beta ~ 1e-9) used to overflow in the inverse of the KL bound inside
    write_results. Now every fit is made or reported as "no fit"; with per-prompt curves the verdict resamples items."""
    ns = [1, 2, 4, 8, 16]
    kl = bon_kl(np.array(ns))
    d = np.sqrt(kl)
    rng = np.random.default_rng(0)
    per_prompt = (d * (0.3 - 1e-9 * d))[:, None] + rng.normal(scale=0.01, size=(len(ns), 24))
    groups = [f"q{i // 4}" for i in range(24)]  # 6 items x 4 templates
    rows = []
    for k, n in enumerate(ns):
        base = {"pm": "standard", "n": n, "kl": kl[k], "n_items": 6}
        rows += [{"metric": "gold/correctness", **base, "mean": per_prompt[k].mean(), "ci_low": 0, "ci_high": 1},
                 {"metric": "kl_pool", **base, "mean": np.nan if n == 4 else kl[k], "ci_low": 0, "ci_high": 1}]
    curves = pd.DataFrame(rows).iloc[::-1]  # row order must not matter
    fits = goodhart_fits(curves, {("gold/correctness", "standard"): per_prompt[::-1]},
                                      {"gold/correctness": groups}, n_boot=200)["gold/correctness"]["standard"]
    assert fits["kl_pool"]["skipped"].startswith("no fit: d must be finite")
    f = fits["kl"]
    assert f["n_items"] == 6 and f["verdict"] == "not shown" and not f["overoptimized"]
    assert f["drop"] == pytest.approx(0.0, abs=0.02) and f["ci"]["drop"][0] == 0.0
    assert json.dumps(fits)  # strict JSON: no inf
    lines = format_facts({"goodhart": {"gold/correctness": {"standard": fits}}})
    assert any("no overoptimization shown" in s for s in lines) and any("no fit" in s for s in lines)
