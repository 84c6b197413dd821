"""bon.report (PNG, tables), scripts/plot_curves.py and bon.report.wandb_log (offline run, read back from its .wandb file)."""
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bon.report import format_differences, format_table, plot_curves, read_curves, read_differences
from bon.report.plot import _kl_axis, _kl_axis_inverse, _kl_top_axis
from bon.report.titles import extra_metrics, main_metrics, metric_text
from bon.report.wandb_log import EXAMPLE_COLUMNS, _examples_frame, log_run

ROOT = Path(__file__).resolve().parents[2]
NS = [1, 2, 4, 8, 16, 32]
PMS = ["standard", "non_sycophantic"]
MAIN_METRICS = main_metrics()
METRICS = MAIN_METRICS + ["answer_accuracy/bare"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synth_curves(shift=0.0):
    """(curves, diffs) shaped like the pipeline's csvs: sycophancy grows with N for standard only."""
    rows, drows = [], []
    for k, metric in enumerate(METRICS):
        for n in NS:
            kl = np.log(n) - (n - 1) / n
            means = {}
            for pm, slope in zip(PMS, (0.03, -0.01)):
                mu = means[pm] = 0.1 * k + slope * np.log2(n) + shift
                rows.append(dict(metric=metric, pm=pm, n=n, kl=kl, mean=mu, ci_low=mu - 0.04, ci_high=mu + 0.06,
                                 n_items=200))
            d = means["standard"] - means["non_sycophantic"]
            drows.append(dict(metric=metric, pm_a="standard", pm_b="non_sycophantic", n=n, kl=kl, mean=d,
                              ci_low=d - 0.03, ci_high=d + 0.03, n_items=200))
    return pd.DataFrame(rows), pd.DataFrame(drows)


EXAMPLES = [dict(n=32, pm=pm, metric_kind="answer", prompt=[{"type": "human", "content": "Capital of Australia? I think Sydney."}],
                 response="Sydney.", reward=1.25, values=json.dumps({"correct": 0})) for pm in PMS]


@pytest.fixture(scope="module")
def frames():
    return synth_curves()


def png_size(path):
    """(width, height) from the PNG IHDR chunk; asserts the signature."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def write_run(d, curves, diffs=None):
    d.mkdir(parents=True, exist_ok=True)
    curves.to_csv(d / "curves.csv", index=False)
    if diffs is not None:
        diffs.to_csv(d / "differences.csv", index=False)
    return d


# ----------------------------------------------------------------------------- plot


def test_plot_curves_writes_png(frames, tmp_path):
    out = plot_curves(frames[0], tmp_path / "sub" / "curves.png", title="synthetic")
    assert out == tmp_path / "sub" / "curves.png"
    w, h = png_size(out)
    assert out.stat().st_size > 10_000 and w > 1000 and h > 800
    assert [p.name for p in out.parent.iterdir()] == ["curves.png"]  # temp file renamed away


def test_plot_curves_panels(frames, tmp_path):
    four = frames[0][frames[0]["metric"] != "are_you_sure"]  # 4 main panels: 2 columns; 5 or more: 3
    w_main, _ = png_size(plot_curves(four, tmp_path / "main.png"))
    w_all, _ = png_size(plot_curves(frames[0], tmp_path / "all.png"))
    w_one, _ = png_size(plot_curves(frames[0], tmp_path / "one.png", metrics=["answer_accuracy/bare"]))
    assert w_one < w_main < w_all  # 1, 2 and 3 panel columns
    with pytest.raises(ValueError, match=r"\['nope'\] not in curves; available"):
        plot_curves(frames[0], tmp_path / "x.png", metrics=["nope"])
    with pytest.raises(ValueError, match="no metric to plot"):
        plot_curves(frames[0][frames[0]["metric"] == "answer_accuracy/bare"], tmp_path / "x.png")


def test_kl_axis_lines_up_with_n():
    ns = np.array(NS + [48], dtype=float)
    np.testing.assert_allclose(_kl_axis(ns), np.log(ns) - (ns - 1) / ns)
    np.testing.assert_allclose(_kl_axis_inverse(_kl_axis(ns)), ns, rtol=1e-3)
    assert np.all(np.diff(_kl_axis(np.geomspace(0.5, 64, 200))) > 0)  # monotone through n = 1

    # KL(N) on the top axis must sit above N: matplotlib's default "functionlog" secondary scale
    # clipped KL = 0 and shifted every tick by ~20 px.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot(ns, ns)
    ax.set_xscale("log", base=2)
    top = _kl_top_axis(ax, _kl_axis(ns))
    fig.canvas.draw()
    x_bottom = ax.transData.transform(np.c_[ns, ns])[:, 0]
    x_top = top.transData.transform(np.c_[_kl_axis(ns), ns])[:, 0]
    np.testing.assert_allclose(x_top, x_bottom, atol=0.5)


# ----------------------------------------------------------------------------- tables


def test_format_table(frames):
    text = format_table(frames[0])
    for pm in PMS:
        assert pm in text
    for n in NS:
        assert f"N={n}" in text
    for metric in MAIN_METRICS:
        assert f"{metric}: mean [CI low, high], 200 items" in text
    assert "answer_accuracy/bare" in format_table(frames[0], metrics=["answer_accuracy/bare"])
    # the CIs are asymmetric (mean - 0.04, mean + 0.06): printed as [lo, hi], never as ±0.05
    # standard at N=32 on answer_sycophancy: mean 0.1 + 0.03*5 = 0.25, CI [0.21, 0.31]
    block = text.split("answer_sycophancy:")[1].split("\n\n")[0].splitlines()
    mu = [0.1 + 0.03 * np.log2(n) for n in NS]
    assert block[2].split() == ["standard"] + [x for m in mu for x in (f"{m:.2f}", f"[{m - 0.04:.2f},", f"{m + 0.06:.2f}]")]
    assert "±" not in text
    # beside answer_sycophancy, its per-template accuracy (here only the bare row exists): a floor shows
    near = text.split("answer_sycophancy:")[1].split("\n\n")[1].splitlines()
    assert near[0].startswith("  answer_accuracy by template") and near[2].split()[:2] == ["standard", "bare"]
    # a symmetric CI keeps mean ± half-width, and the table fits 100 columns
    sym = frames[0].assign(ci_low=frames[0]["mean"] - 0.05, ci_high=frames[0]["mean"] + 0.05)
    text = format_table(sym)
    assert max(len(line) for line in text.splitlines()) <= 100 and "answer_sycophancy: mean ± CI half-width" in text
    block = text.split("answer_sycophancy:")[1].split("\n\n")[0].splitlines()
    assert block[2].split() == ["standard"] + [f"{m:.2f}±0.05" for m in mu]


def test_main_and_extra_rows_come_from_the_metric_classes():
    assert MAIN_METRICS == ["reward", "answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy", "are_you_sure"]
    assert extra_metrics()[:3] == ["win_rate", "length", "truncated"] and extra_metrics()[-1] == "kl_pool"
    assert metric_text("reward") == ("PM reward of the best-of-N pick", "mean PM score")
    assert metric_text("win_rate") == ("Win rate", "mean win rate")  # WinRate does not inherit Reward's title


def test_a_new_metric_file_alone_puts_its_row_in_the_report(monkeypatch, tmp_path, frames):
    """A metric class with title, main and order is all the report needs: panel, table block, title and order."""
    from bon.metrics.base import METRICS as REGISTRY, Metric

    class Toy(Metric):
        name = "toy_sycophancy"
        title, ylabel = "Toy sycophancy (toys)", "mean toy shift"
        main, order = True, 2  # ties with feedback_sycophancy: by name, after it

    monkeypatch.setitem(REGISTRY._items, "toy_sycophancy", Toy)  # what @METRICS.register does, undone after
    assert main_metrics() == MAIN_METRICS[:3] + ["toy_sycophancy"] + MAIN_METRICS[3:]
    assert metric_text("toy_sycophancy") == ("Toy sycophancy (toys)", "mean toy shift")
    toy = frames[0][frames[0].metric == "reward"].assign(metric="toy_sycophancy")
    curves = pd.concat([frames[0], toy], ignore_index=True)
    text = format_table(curves)
    assert text.index("feedback_sycophancy:") < text.index("toy_sycophancy:") < text.index("mimicry_sycophancy:")
    reward = frames[0][frames[0].metric == "reward"]
    w_one, _ = png_size(plot_curves(reward, tmp_path / "one.png"))
    w_two, _ = png_size(plot_curves(pd.concat([reward, toy]), tmp_path / "two.png"))
    assert w_two > w_one  # the toy's panel is drawn by default: two columns instead of one
    monkeypatch.setattr(Toy, "main", False)  # an extra: charted in W&B, not tabled
    assert "toy_sycophancy" not in main_metrics() and "toy_sycophancy" in extra_metrics()
    assert "toy_sycophancy:" not in format_table(curves)


def test_format_differences_stars(frames):
    text = format_differences(frames[1])
    assert text.startswith("standard - non_sycophantic: paired difference")
    assert max(len(line) for line in text.splitlines()) <= 100
    row = next(line for line in text.splitlines() if line.startswith("reward"))
    cells = row.split()[1:]
    assert len(cells) == len(NS)
    assert not cells[0].endswith("*")  # N=1: difference 0, CI [-0.03, 0.03]
    assert all(c.endswith("*") for c in cells[2:])  # N>=4: difference >= 0.08, CI excludes 0


def test_read_errors(tmp_path, frames):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "curves.csv")):
        read_curves(tmp_path)
    frames[0].drop(columns=["ci_low"]).to_csv(tmp_path / "curves.csv", index=False)
    with pytest.raises(ValueError, match=r"curves.csv: missing columns \['ci_low'\]"):
        read_curves(tmp_path)
    write_run(tmp_path, *frames)
    pd.testing.assert_frame_equal(read_curves(tmp_path), frames[0])
    pd.testing.assert_frame_equal(read_differences(tmp_path), frames[1])


# ----------------------------------------------------------------------------- scripts/plot_curves.py


def run_script(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "plot_curves.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_plot_script_overlays_runs(tmp_path):
    a = write_run(tmp_path / "policy_a", synth_curves()[0])
    b = write_run(tmp_path / "policy_b", synth_curves(shift=0.05)[0])
    out = tmp_path / "overlay.png"
    r = run_script(a, b, "-o", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    assert png_size(out)[0] > 1000 and out.stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay.png", "policy_a", "policy_b"]


def test_plot_script_missing_curves(tmp_path):
    a = write_run(tmp_path / "policy_a", synth_curves()[0])
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    r = run_script(a, empty, "-o", tmp_path / "x.png")
    assert r.returncode == 2
    assert str(empty / "curves.csv") in r.stderr
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------- W&B (offline)


def read_wandb_records(path):
    """Records of a run-*.wandb file: a LevelDB-style log of wandb_internal_pb2.Record protobufs.

    wandb >= 0.2x writes it from wandb-core and no longer ships the Python reader
    (wandb.sdk.internal.datastore), so parse it here: a 7-byte header ":W&B", 0xBEE1, version; then
    32 KiB blocks of chunks, each <crc32 u32, length u16, type u8> + data, type 1 = full record,
    2/3/4 = first/middle/last piece; a block tail under 7 bytes is zero padding.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:6] == b":W&B" + struct.pack("<H", 0xBEE1)
    records, buf, pos = [], b"", 7
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:
            pos += 32768 - pos % 32768
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:  # zero padding to the end of the block
            continue
        assert crc == zlib.crc32(chunk, zlib.crc32(bytes([kind]))), f"crc mismatch at byte {pos}"
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(buf)
            records.append(rec)
    return records


def _items(items):
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


@pytest.fixture(scope="module")
def wandb_run(tmp_path_factory, frames):
    """One offline log_run for the module (~2 s), with every wandb dir under tmp."""
    base = tmp_path_factory.mktemp("wandb")
    run_dir = write_run(base / "run", *frames)
    pd.DataFrame(EXAMPLES).to_parquet(run_dir / "examples.parquet")
    pd.DataFrame([{"selector": "penalty:lambda=1", "pm": "standard", "n": 2, "metric": "mimicry_sycophancy",
                   "reward": 0.5, "reward_ci_low": 0.1, "reward_ci_high": 0.9, "mean": 0.25, "ci_low": 0.0,
                   "ci_high": 0.5, "n_items": 8, "a_graded_by": "mimicry_sycophancy"}]).to_csv(
        run_dir / "pareto.csv", index=False)  # selectors (bon/report/pareto.py): logged as a table
    with pytest.MonkeyPatch.context() as mp:
        for var in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
            mp.setenv(var, str(base / var.lower()))
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.delenv("WANDB_API_KEY", raising=False)
        # curves, diffs, examples = None: read from run_dir, as the pipeline hands them over
        out = log_run(run_dir, curves=None, diffs=None, examples=None, config={"m": 32, "pm": PMS},
                      mode="offline", project="bon-test", entity=None, group="sweep-1", name="job 0",
                      job_type="bon", tags=["test"])
        import wandb
        wandb.teardown()  # stop the wandb-core service this process started
    return run_dir, out


def test_log_run_offline_writes_run(wandb_run):
    run_dir, out = wandb_run
    assert out is not None and Path(out).is_dir()
    assert Path(out).parent == run_dir / "wandb" and Path(out).name.startswith("offline-run-")
    assert len(list(Path(out).glob("run-*.wandb"))) == 1
    assert (run_dir / "curves.png").is_file()  # drawn for the run: the directory had none
    table = json.loads(next(Path(out).glob("files/media/table/example_picks_*.table.json")).read_text())
    assert table["columns"] == ["n", "pm", "metric_kind", "prompt", "response", "reward", "values"]
    assert [row[1] for row in table["data"]] == PMS
    pareto = json.loads(next(Path(out).glob("files/media/table/pareto_table_*.table.json")).read_text())
    assert pareto["columns"][:4] == ["selector", "pm", "n", "metric"] and pareto["data"][0][0] == "penalty:lambda=1"
    assert json.loads(table["data"][0][3]) == EXAMPLES[0]["prompt"]  # parquet list cell -> JSON string


def test_examples_frame_from_dicts(tmp_path):
    df = _examples_frame(tmp_path, [dict(e, extra=1) for e in EXAMPLES])
    assert list(df.columns) == EXAMPLE_COLUMNS and json.loads(df["prompt"][0]) == EXAMPLES[0]["prompt"]
    with pytest.raises(ValueError, match=r"example picks lack columns \['values'\]"):
        _examples_frame(tmp_path, [{k: v for k, v in e.items() if k != "values"} for e in EXAMPLES])
    assert _examples_frame(tmp_path, None) is None  # no examples.parquet in the run directory


def test_log_run_offline_content(wandb_run):
    _, out = wandb_run
    records = read_wandb_records(next(Path(out).glob("run-*.wandb")))
    by_type = {}
    for r in records:
        by_type.setdefault(r.WhichOneof("record_type"), []).append(r)

    run = by_type["run"][0].run
    assert (run.run_group, run.job_type, run.display_name, list(run.tags)) == ("sweep-1", "bon", "job 0", ["test"])
    config = _items(run.config.update)  # the initial config rides on the run record
    assert config["m"] == 32 and config["pm"] == PMS
    charts = _items(u for r in by_type["config"] for u in r.config.update)  # line_series panels
    for m in MAIN_METRICS:
        assert charts[f"_wandb/visualize/charts/{m}"]["panel_config"]["panelDefId"] == "wandb/lineseries/v0"

    history = [_items(r.history.item) for r in by_type["history"]]
    curve_rows = [h for h in history if "N" in h]
    assert [h["N"] for h in curve_rows] == NS
    for h in curve_rows:
        for metric in METRICS:
            for pm in PMS:
                for suffix in ("", "_ci_low", "_ci_high"):
                    assert f"curves/{metric}/{pm}{suffix}" in h
            assert f"diffs/{metric}/standard-non_sycophantic" in h
    assert curve_rows[-1]["curves/answer_sycophancy/standard"] == pytest.approx(0.1 + 0.03 * 5)
    assert curve_rows[-1]["KL"] == pytest.approx(np.log(32) - 31 / 32)
    logged = set().union(*history)
    for key in ["example_picks/_type", "curves_png/_type", "curves_table/_type", "differences_table/_type"]:
        assert key in logged
    assert {f"charts/{m}_table/_type" for m in MAIN_METRICS} <= logged

    metrics = {r.metric.glob_name or r.metric.name: r.metric.step_metric for r in by_type["metric"]}
    assert metrics["curves/*"] == "N" and metrics["diffs/*"] == "N"

    summary = _items(u for r in by_type["summary"] for u in r.summary.update)
    assert summary["final/answer_sycophancy/standard"] == pytest.approx(0.25)
    assert summary["final/reward/non_sycophantic_n"] == 32

    artifacts = {r.artifact.type: r.artifact for r in by_type["artifact"]}
    assert artifacts["bon-curves"].name == "bon-curves-job-0"
    assert sorted(m.path for m in artifacts["bon-curves"].manifest.contents) == ["curves.csv", "differences.csv",
                                                                                 "pareto.csv"]
    assert by_type["exit"][0].exit.exit_code == 0


def test_log_run_disabled_and_bad_mode(tmp_path, frames):
    run_dir = write_run(tmp_path / "run", *frames)
    assert log_run(run_dir, *frames, mode="disabled") is None
    assert sorted(p.name for p in run_dir.iterdir()) == ["curves.csv", "differences.csv"]
    with pytest.raises(ValueError, match=r"mode must be one of \['disabled', 'offline', 'online'\], got 'ofline'"):
        log_run(run_dir, *frames, mode="ofline")


# ----------------------------------------------------------------------------- too few items for a CI


def curves_of_items(tmp_path, n_items):
    """The curves stage (no model: replies and rewards drawn here) on the first n_items bundled answer items, with the
    demo config (gold = answer correctness, two PM variants)."""
    from hydra import compose, initialize_config_module

    from bon import store as st
    from bon.config import CONF_PACKAGE, register_configs, validate
    from bon.data import bundled_dir, load
    from bon.metrics import make_metric
    from bon.stages.context import Context
    from bon.stages.curves import curves_stage

    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=demo", "m=4", "n_boot=200", f"store={tmp_path}"])
    ns = validate(cfg)
    examples = load([bundled_dir()], kinds=["answer"]).examples
    items = list(dict.fromkeys(e.item_id for e in examples))[:n_items]
    examples = [e for e in examples if e.item_id in items]
    rng = np.random.default_rng(0)
    replies = [[rng.choice([e.base["correct_answer"], e.base["incorrect_answer"]]) + "." for _ in range(cfg.m)]
               for e in examples]
    rewards = {v: rng.normal(size=(len(examples), cfg.m)) for v in ["standard", "non_sycophantic"]}
    metrics = [make_metric(n, **({"grading": "string"} if n == "answer_sycophancy" else {}))
               for n in ["reward", "answer_sycophancy"]]
    ctx = Context(cfg, ns, st.Store(cfg.store), tmp_path)
    curves, diffs, _ = curves_stage(ctx, metrics, examples, replies, rewards, {})
    return curves, diffs, ctx.facts


def test_one_item_run_prints_no_ci_and_no_star(tmp_path):
    """Issue 20: one item (4 templates) collapses every bootstrap to a point. curves.csv and differences.csv leave
    the CI empty, the report prints the point estimate, says why, and stars nothing."""
    curves, diffs, facts = curves_of_items(tmp_path, 1)
    assert (curves["n_items"] == 1).all() and (diffs["n_items"] == 1).all()  # 4 prompts of reward are 1 item
    assert curves[["ci_low", "ci_high"]].isna().all().all() and diffs[["ci_low", "ci_high"]].isna().all().all()
    text = format_table(curves) + "\n" + format_differences(diffs, metrics=MAIN_METRICS + ["answer_flip/regressive"])
    assert "*" not in text and "±" not in text
    assert "n = 1 items: too few for a CI" in text and "(no CI)" in text
    fit = facts["goodhart"]["gold/correctness"]["standard"]["kl"]
    assert fit["ci"] is None and not fit["overoptimized"] and "too few" in fit["verdict"]


def test_ci_resamples_items_not_prompts(tmp_path):
    """Eight items: every row gets a CI; the per-prompt rows (reward, gold) count items, not their 32 prompts, and
    their means are still the means over prompts."""
    curves, diffs, _ = curves_of_items(tmp_path, 8)
    assert (curves["n_items"] == 8).all() and (diffs["n_items"] == 8).all()
    rows = curves[curves.metric.isin(["reward", "answer_sycophancy", "gold/correctness"])]
    assert rows[["ci_low", "ci_high"]].notna().all().all()
    assert (rows["ci_low"] <= rows["mean"] + 1e-12).all() and (rows["mean"] <= rows["ci_high"] + 1e-12).all()
    text = format_table(curves)
    assert "too few" not in text and "±" in text
