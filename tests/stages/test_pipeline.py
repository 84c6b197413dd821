"""The main job end to end: configs, artifacts, reuse, the CLI's errors.

The demo's own end-to-end run (first_run: artifacts, Goodhart rows, "Are you sure?", audit columns, report.html, a
rerun that reuses it) is on the bundled SmolLM2. The plumbing around it (a new variant reusing the samples, resume after
SIGKILL, a multirun, the PM's reward of prefill + completion) is in test_pipeline_tiny.py, on the tiny real-family
models."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bon.config import ConfigError, validate
from bon.estimator import default_ns
from runs import TINY, bon_run, cfg_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("override, message", [
    ("ns=[1,2,16]", "every N must be an integer in 1..m=8"),
    ("pm.name=clasifier", "Did you mean 'classifier'"),
    ("dataset.paths=[/no/such/file.jsonl]", "/no/such/file.jsonl does not exist"),
    ("metrics=[reward,answer_sycophncy]", "unknown metric 'answer_sycophncy'"),
    ("+variants.bad={prefix: [{role: robot, content: hi}]}", "variants.bad.prefix[0] must be"),
    ("+variants.odd={prefix: [], sytem: hi}", "variants.odd: unknown field(s) ['sytem']"),
    ("wandb.mode=sometimes", "wandb.mode must be"),
])
def test_config_is_validated_before_any_model_loads(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(cfg_of("experiment=demo", override))


def test_every_experiment_composes():
    for exp in sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")):
        cfg = cfg_of(f"experiment={exp}")
        assert set(cfg.variants) == {"standard", "non_sycophantic"}
        if any(str(x).startswith("../shared/") for x in cfg.dataset.get("paths") or []):
            # real data beside the checkout, absent from a user's clone: validated on the real file by
            # tests/stages/test_truthfulqa_preset.py (skips without ../shared, fails without it under CI)
            continue
        assert validate(cfg) == default_ns(cfg.m)  # experiments set m; the grid follows it
    paper = cfg_of("experiment=paper_bon")
    assert paper.m == 32 and validate(paper) == [1, 2, 4, 8, 16, 32]


def test_cli_bad_config_is_one_clear_line(tmp_path):
    r = bon_run("experiment=demo", "m=4", "ns=[1,8]", f"store={tmp_path}/store", f"run_dir={tmp_path}/run")
    assert r.returncode == 2, r.stderr
    assert "every N must be an integer in 1..m=4" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipe")
    r = bon_run(*TINY, f"store={tmp}/store", f"run_dir={tmp}/run1")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp, r


def test_run_writes_all_artifacts(first_run):
    tmp, r = first_run
    run = tmp / "run1"
    assert r.stdout.strip().splitlines()[-1] == f"results: {run}"
    for name in ["samples.parquet", "examples.parquet", "curves.csv", "differences.csv", "curves.png", "run.json",
                 "report.txt", "backtest.csv", "report.html", "pareto.csv", "pareto.png", "drift.csv"]:
        assert (run / name).exists(), name
    curves = pd.read_csv(run / "curves.csv")
    assert list(curves.columns) == ["metric", "pm", "n", "kl", "mean", "ci_low", "ci_high", "n_items", "selector",
                                    "valid", "validity", "extrapolated"]
    assert set(curves.selector) == {"bon"}  # selectors=[bon], the default: the rows of a run before selectors
    # the validity gate: reward reads no instrument; mimicry's name match is warn (0.89 on its blind held-out labels)
    assert curves[curves.metric == "reward"].valid.all() and not curves[curves.metric == "mimicry_sycophancy"].valid.any()
    # M = 4: sub-pools of M / 4 = 1 sample cannot be backtested, so nothing is extrapolated, and backtest.csv says why
    assert not curves.extrapolated.any()
    assert pd.read_csv(run / "backtest.csv").why.str.contains("too few points at or below M / 4").all()
    main = {"reward", "answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy"}
    assert main <= set(curves.metric) and {"answer_accuracy/bare", "feedback_positivity/like"} <= set(curves.metric)
    for (metric, pm), g in curves.groupby(["metric", "pm"]):
        assert list(g.n) == [1, 2, 4], (metric, pm)
        if metric == "kl_pool/tie_free" or (g.n_items < 5).all():  # exact, or too few items (2 per kind): no CI
            assert g.ci_low.isna().all() and g.ci_high.isna().all(), (metric, pm)
        else:
            assert (g.ci_low <= g["mean"] + 1e-12).all() and (g["mean"] <= g.ci_high + 1e-12).all()
    assert curves[curves.metric == "reward"].ci_low.notna().all()  # 2 items of each of 3 kinds: 6 items
    assert set(curves.pm) == {"standard", "non_sycophantic"}
    # the PM's own reward of its pick cannot go down with N
    for pm in ["standard", "non_sycophantic"]:
        rew = curves[(curves.metric == "reward") & (curves.pm == pm)]["mean"].to_numpy()
        assert (rew[1:] >= rew[:-1] - 1e-9).all()
    diffs = pd.read_csv(run / "differences.csv")
    assert set(diffs.pm_a) == {"standard"} and set(diffs.pm_b) == {"non_sycophantic"}
    samples = pd.read_parquet(run / "samples.parquet")
    assert len(samples) == 4 * samples.key.nunique()
    assert {"reward/standard", "reward/non_sycophantic", "value/answer_sycophancy"} <= set(samples.columns)
    # the two variants score the same samples differently
    assert (samples["reward/standard"] != samples["reward/non_sycophantic"]).any()
    checks = json.loads((run / "run.json").read_text())["checks"]
    assert set(checks) == {"answer", "positivity", "pm", "are_you_sure", "mimicry"}
    assert set(checks["pm"]) == {"standard", "non_sycophantic"}
    assert checks["positivity"]["instrument"].startswith("lexicon")
    report = (run / "report.txt").read_text()
    assert "instrument checks" in report and "PM probe" in report
    for c in [checks["answer"], checks["positivity"], checks["are_you_sure"], *checks["pm"].values()]:
        assert 0 <= c["ci_low"] <= c["accuracy"] <= c["ci_high"] <= 1 and c["n"] >= 20  # held-out rows
        assert f"{c['accuracy']:.2f} [{c['ci_low']:.2f}, {c['ci_high']:.2f}]" in report
    assert "answer_sycophancy" in r.stdout and "paired differences" in r.stdout


def test_run_writes_goodhart_kl_pool_and_diagnostics(first_run):
    """Issue 11's outputs on the demo config: kl_pool, win rate, length, truncation, flips, gold (answer correctness)
    rows in curves.csv, the Goodhart fit in run.json and report.txt."""
    tmp, _ = first_run
    run = tmp / "run1"
    curves = pd.read_csv(run / "curves.csv")
    new = {"kl_pool", "kl_pool/tie_free", "win_rate", "length", "truncated", "gold/correctness",
           "answer_flip/regressive", "answer_flip/progressive"}
    assert new <= set(curves.metric), new - set(curves.metric)
    samples = pd.read_parquet(run / "samples.parquet")
    for pm in ["standard", "non_sycophantic"]:
        c = {m: g.set_index("n")["mean"] for m, g in curves[curves.pm == pm].groupby("metric")}
        kl = curves[(curves.pm == pm) & (curves.metric == "kl_pool")].set_index("n")["kl"]
        assert c["kl_pool"][1] == 0 and (c["kl_pool"] <= c["kl_pool/tie_free"] + 1e-9).all()
        assert (c["kl_pool/tie_free"] <= kl + 1e-9).all() and c["kl_pool/tie_free"][4] < kl[4]  # finite M=4
        assert c["win_rate"][1] == pytest.approx(0.5) and (c["win_rate"] <= c["win_rate"].index / (
            c["win_rate"].index + 1) + 1e-9).all()
        # N = 1 is a uniform pick: the mean over prompts of the per-sample value
        assert c["length"][1] == pytest.approx(samples.groupby("key").n_tokens.mean().mean())
        assert c["truncated"][1] == pytest.approx((samples.finish_reason == "length").groupby(samples.key).mean().mean())
        answer = samples[samples.kind == "answer"]
        assert c["gold/correctness"][1] == pytest.approx(answer.groupby("key")["value/answer_sycophancy"].mean().mean())
        acc = {t: c[f"answer_accuracy/{t}"] for t in ["bare", "suggest_correct", "suggest_incorrect"]}
        assert c["answer_flip/regressive"][1] <= min(acc["bare"][1], 1 - acc["suggest_incorrect"][1]) + 1e-9
    facts = json.loads((run / "run.json").read_text())["facts"]
    fit = facts["goodhart"]["gold/correctness"]["standard"]
    assert set(fit) == {"kl", "kl_pool"} and {"alpha", "beta", "n_peak", "inside"} <= set(fit["kl"])
    assert facts["kl_pool"]["standard"]["m"] == 4
    report = (run / "report.txt").read_text()
    assert "Goodhart fit of gold/correctness under proxy standard" in report and "tie-free pool of M=4" in report


def test_are_you_sure_runs_two_turns(first_run):
    """Issue 19 on the demo config: turn 1 is its own stage; the M samples answer the challenge; the rows, the panel's
    table and the admit-rule check on held-out labels are in the run's outputs."""
    from bon.data.are_you_sure import CHALLENGE
    from bon.metrics.are_you_sure import first_turn_correct
    from bon.data import Example

    tmp, r = first_run
    run = tmp / "run1"
    summary = json.loads((run / "run.json").read_text())
    assert "first_turn" in summary["stages"] and summary["facts"]["first_turn"]["mode"] == "sample"
    prompts = [json.loads(line) for line in (run / "prompts.jsonl").read_text().splitlines()]
    ays = [p for p in prompts if p["kind"] == "are_you_sure"]
    assert len(ays) == 2 and {p["template"] for p in ays} == {"multiple_choice", "free_form"}
    for p in ays:
        roles = [t["role"] for t in p["conversation"]]
        assert roles == ["user", "assistant", "user"] and p["conversation"][2]["content"] == CHALLENGE
        assert p["prefill"] == "" and p["conversation"][1]["content"] == p["metadata"]["first_turn"]
        if p["template"] == "multiple_choice":
            assert p["metadata"]["first_turn"].startswith("The answer is (")
    curves = pd.read_csv(run / "curves.csv")
    firsts = [first_turn_correct(Example(**{k: v for k, v in p.items() if k not in ("position", "conversation")},
                                         conversation=tuple(p["conversation"]))) for p in ays]
    rows = {"are_you_sure/admits_mistake", "are_you_sure/flip", "are_you_sure/accuracy",
            "are_you_sure/accuracy/first_turn"}
    rows |= {"are_you_sure", "are_you_sure/flip/regressive"} if any(firsts) else set()
    rows |= {"are_you_sure/admits_mistake/first_wrong", "are_you_sure/flip/progressive"} if not all(firsts) else set()
    assert rows == {m for m in curves.metric if m.startswith("are_you_sure")}
    for row in rows:
        g = curves[(curves.metric == row) & (curves.pm == "standard")]
        assert list(g.n) == [1, 2, 4] and g["mean"].between(0, 1).all()
    first = curves[curves.metric == "are_you_sure/accuracy/first_turn"]["mean"]
    assert np.allclose(first, np.mean(firsts))
    samples = pd.read_parquet(run / "samples.parquet")
    admits = samples[samples.kind == "are_you_sure"]["value/are_you_sure"]
    assert len(admits) == 2 * 4 and admits.isin([0.0, 1.0]).all()
    diffs = pd.read_csv(run / "differences.csv")
    assert "are_you_sure/accuracy" in set(diffs.metric)
    check = summary["checks"]["are_you_sure"]
    assert check["instrument"] == "string" and check["n"] >= 40 and check["accuracy"] >= 0.9
    report = (run / "report.txt").read_text()
    assert f"admit-mistake rule (are_you_sure) [string]: held-out {check['accuracy']:.2f}" in report
    assert ("\nare_you_sure: mean" in report) == any(firsts)  # the summary row's table


def test_gold_and_plot_config_are_validated():
    demo = cfg_of("experiment=demo")
    assert demo.gold.source == "metric" and demo.gold.ref == "answer_sycophancy" and demo.plot.x == "kl"
    validate(cfg_of("experiment=demo", "gold.source=variant", "gold.ref=non_sycophantic", "plot.x=kl_pool"))
    for override, message in [(["plot.x=nats"], "plot.x must be kl or kl_pool"),
                              (["gold.source=variant", "gold.ref=honest"], "no PM variant 'honest'"),
                              (["gold.source=judge", "gold.ref=nope"], "unknown judge task 'nope'"),
                              (["gold.source=metric", "gold.ref=reward"], "no per-sample value"),
                              (["gold.source=oracle"], "gold.source must be one of")]:
        with pytest.raises(ConfigError, match=message):
            validate(cfg_of("experiment=demo", *override))


def test_second_run_reuses_every_stage(first_run):
    tmp, _ = first_run
    store = tmp / "store"
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")}
    r = bon_run(*TINY, f"store={store}", f"run_dir={tmp}/run2")
    assert r.returncode == 0, r.stderr[-3000:]
    after = {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")}
    assert before == after  # nothing recomputed or rewritten
    assert json.loads((tmp / "run2" / "run.json").read_text())["reused"] == [
        "first_turn", "sample", "score[standard]", "score[non_sycophantic]", "judge[positivity]"]
    pd.testing.assert_frame_equal(pd.read_csv(tmp / "run1" / "curves.csv"), pd.read_csv(tmp / "run2" / "curves.csv"))


def test_console_script_finds_the_configs(tmp_path):
    r = subprocess.run([str(Path(sys.executable).parent / "bon-run"), "experiment=paper_bon", "--cfg", "job"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "m: 32" in r.stdout and "non_sycophantic:" in r.stdout


def test_bad_data_file_stops_the_run_with_path_and_line(tmp_path):
    bad = tmp_path / "answer.jsonl"
    good = (ROOT / "bon" / "data" / "bundled" / "answer.jsonl").read_text().splitlines()
    bad.write_text("\n".join(good[:5] + ['{"prompt": [{"type": "human", "content": "Q"}], "base": {}}']) + "\n")
    r = bon_run("experiment=demo", f"dataset.paths=[{bad}]", "dataset.kinds=[answer]",
                f"store={tmp_path}/store", f"run_dir={tmp_path}/run")
    assert r.returncode == 2 and f"{bad}:6: missing field 'metadata'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_samples_parquet_carries_the_audit_columns(first_run):
    """What checking a grade needs, on every row of a real run (issue 27): question, references, who graded it, and
    the estimator's rank and pick probabilities per variant and N."""
    tmp, _ = first_run
    samples = pd.read_parquet(tmp / "run1" / "samples.parquet")
    assert samples["question"].notna().all() and samples["prompt"].notna().all()
    answer = samples[samples.kind == "answer"]
    assert answer["ref/correct"].notna().all() and answer["ref/incorrect"].notna().all()
    assert (answer["graded_by/answer_sycophancy"] == "answer_sycophancy rule").all()  # bundled trivia: the string rule
    assert samples.loc[samples.kind == "feedback", "judge/positivity"].notna().all()
    for v in ["standard", "non_sycophantic"]:
        for n in [1, 2, 4]:
            np.testing.assert_allclose(samples.groupby("key")[f"pick/{v}/N={n}"].sum(), 1.0, atol=1e-12)
        assert (samples.groupby("key")[f"rank/{v}"].min() == 1).all()
        top = samples[samples[f"rank/{v}"] == 1]
        assert (top[f"reward/{v}"].to_numpy() == samples.groupby("key")[f"reward/{v}"].transform("max")[
            top.index].to_numpy()).all()


def test_report_html_in_a_headless_browser(first_run, tmp_path):
    """report.html of a real run loads in Debian's headless Chromium with no console message, shows rows, and its
    kind filter, variant filter and grade sort change them; a reply holding '</script>' stays text."""
    import shutil

    from browser import chromium
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from bon.report.html import write_report_html

    tmp, _ = first_run
    samples = pd.read_parquet(tmp / "run1" / "samples.parquet")
    run = shutil.copytree(tmp / "run1", tmp_path / "run", ignore=shutil.ignore_patterns("wandb"))
    evil = "</script><script>window.__evil = 1</script><!-- & caf\u00e9"
    planted = samples.assign(reply=[evil + r if i == 0 else r for i, r in enumerate(samples.reply)])
    planted.to_parquet(run / "samples.parquet", index=False)
    pages = {"real": tmp / "run1" / "report.html", "planted": write_report_html(run)}
    with chromium() as d:
        d.get(pages["real"].as_uri())
        status = d.find_element(By.ID, "status")
        assert f"of {len(samples)} samples" in status.text
        assert len(d.find_elements(By.CSS_SELECTOR, "#table tbody tr")) == min(50, len(samples))
        Select(d.find_element(By.ID, "f-kind")).select_by_value("feedback")
        feedback = samples[samples.kind == "feedback"]
        assert f"of {len(feedback)} samples" in status.text
        kinds = {tr.get_attribute("data-kind") for tr in d.find_elements(By.CSS_SELECTOR, "#table tbody tr")}
        assert kinds == {"feedback"}
        Select(d.find_element(By.ID, "f-variant")).select_by_value("standard")
        d.find_element(By.ID, "f-top").click()
        assert f"of {int((feedback['rank/standard'] == 1).sum())} samples" in status.text
        d.find_element(By.ID, "f-top").click()
        d.find_element(By.XPATH, "//th[starts-with(text(), 'grade')]").click()  # descending
        col = [th.text for th in d.find_elements(By.CSS_SELECTOR, "#table thead th")].index("grade \u25bc")
        first = d.find_element(By.CSS_SELECTOR, f"#table tbody tr td:nth-child({col + 1})").text
        assert float(first) == pytest.approx(feedback["value/feedback_sycophancy"].max(), abs=1e-3)
        assert d.find_elements(By.CSS_SELECTOR, "#checks .verdict")  # the instrument checks with their verdicts
        assert d.find_element(By.CSS_SELECTOR, "#curves img").get_attribute("naturalWidth") != "0"
        d.get(pages["planted"].as_uri())
        d.find_element(By.ID, "f-search").send_keys("__evil")
        assert "of 1 samples" in d.find_element(By.ID, "status").text
        assert evil[:40] in d.find_element(By.CSS_SELECTOR, "#table tbody").get_attribute("textContent")
        assert d.execute_script("return window.__evil === undefined")
        log = d.get_log("browser")
    assert log == [], log  # no console error, warning or message on either page
