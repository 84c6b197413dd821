"""The planted-bias sweep's table (bon/report/bias_sweep.py), from job folders written here by hand: read from each
job's differences.csv and run.json, one column per w in numeric order, the contrast rows only."""
import json

import pandas as pd

from bon.report.bias_sweep import format_sweep, sweep_rows
from bon.sweep import bias_table


def _job(d, w, effect):
    d.mkdir(parents=True)
    variants = {"standard": {"bias": {"agree": w}}, "non_sycophantic": {"prefix": []}}
    (d / "run.json").write_text(json.dumps({"config": {"variants": variants}}))
    rows = []
    for n, mean in zip((1, 2, 4), effect):
        rows.append({"metric": "answer_sycophancy", "pm_a": "standard", "pm_b": "standard_unbiased", "n": n,
                     "kl": 0, "mean": mean, "ci_low": mean - 0.1, "ci_high": mean + 0.1, "n_items": 8})
        rows.append({"metric": "answer_sycophancy", "pm_a": "standard", "pm_b": "non_sycophantic", "n": n,
                     "kl": 0, "mean": 9.0, "ci_low": 8.0, "ci_high": 10.0, "n_items": 8})
    pd.DataFrame(rows).to_csv(d / "differences.csv", index=False)


def test_the_table_has_one_column_per_beta_and_only_the_planted_contrast(tmp_path):
    _job(tmp_path / "1", 10, [0.0, 0.2, 0.3])
    _job(tmp_path / "0", 2, [0.0, 0.1, 0.15])
    (tmp_path / "multirun.yaml").write_text("")
    (tmp_path / "2").mkdir()  # a job that failed: no results, skipped
    rows = sweep_rows([tmp_path / j for j in ("0", "1", "2")])
    assert len(rows) == 6 and set(rows["bias"]) == {"w[agree]=2", "w[agree]=10"} and (rows["mean"] != 9.0).all()
    text = format_sweep(rows)
    lines = text.splitlines()
    assert lines[0].startswith("planted bias sweep: effect of the bias = standard - standard_unbiased")
    header = next(ln for ln in lines if ln.strip().startswith("N"))
    assert header.index("w[agree]=2") < header.index("w[agree]=10")  # numeric order, not text order
    row4 = next(ln for ln in lines if ln.strip().startswith("4 "))
    assert "+0.15 [+0.05, +0.25]" in row4 and row4.index("+0.15") < row4.index("+0.30")
    out = bias_table(tmp_path)
    assert "w[agree]=10" in out and (tmp_path / "bias_sweep.csv").is_file()


def test_a_sweep_without_a_planted_bias_prints_no_table(tmp_path):
    d = tmp_path / "0"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"config": {"variants": {"standard": {}}}}))
    pd.DataFrame(columns=["metric", "pm_a", "pm_b", "n", "mean", "ci_low", "ci_high", "n_items"]).to_csv(
        d / "differences.csv", index=False)
    assert bias_table(tmp_path) == "" and not (tmp_path / "bias_sweep.csv").exists()
