"""Log a finished run's curves, paired differences and example picks to Weights & Biases.

A consumer of stage outputs (STYLE.md 8): off by default (mode "disabled"), it reads what the
pipeline wrote into the run directory, or the same frames handed over in memory, and never
recomputes a metric. wandb is imported only when logging is on.

What a run holds:
  history   one row per N: N, KL, curves/{metric}/{pm}{,_ci_low,_ci_high}, diffs/{metric}/{a}-{b}...,
            all plotted against N (define_metric step_metric="N")
  charts/   one line_series chart per main metric, win_rate, length, truncated, kl_pool and gold/<name>
            (a line per PM vs N); every curves.csv row, new metrics included, is in the history above
  tables    example_picks, curves_table, differences_table
  media     curves.png (drawn by bon.report.plot if the run directory lacks it)
  artifact  type "bon-curves": curves.csv, differences.csv
  summary   final/{metric}/{pm}{,_ci_low,_ci_high,_valid} at the largest N (and _validity, the INVALID reason, where
            the validity gate failed it); checks/{task}/{accuracy,ci_low,ci_high,n,verdict}
            (the instrument checks of run.json; checks/pm/{variant}/... for the PM probe);
            goodhart/{gold row}/{pm}/{kl,kl_pool}/{alpha,beta,n_peak,inside} (the Goodhart fits of run.json)
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from bon.judges.gate import invalid_reason
from bon.judges.verdicts import verdict_of
from bon.report.files import read_curves, read_differences, read_run
from bon.report.plot import plot_curves
from bon.report.titles import extra_metrics, main_metrics

MODES = ("disabled", "offline", "online")
EXAMPLE_COLUMNS = ["n", "pm", "metric_kind", "prompt", "response", "reward", "values"]


def log_run(run_dir, curves: pd.DataFrame | None = None, diffs: pd.DataFrame | None = None,
            examples=None, config: dict | None = None, mode: str = "disabled", project: str = "bon",
            entity: str | None = None, group: str | None = None, name: str | None = None,
            job_type: str | None = None, tags: list[str] | None = None) -> str | None:
    """Log one run to W&B and finish it.

    Args:
        run_dir: the pipeline's run directory; W&B writes its files under run_dir/wandb/.
        curves: rows of curves.csv; None reads run_dir/curves.csv.
        diffs: rows of differences.csv; None reads run_dir/differences.csv if present.
        examples: example picks as a DataFrame or list of dicts with columns n, pm, metric_kind,
            prompt, response, reward, values; None reads run_dir/examples.parquet if present.
        config: the resolved run config, stored as the W&B run config.
        mode: "disabled" (default: log nothing, do not import wandb), "offline" (write locally,
            upload later with `wandb sync`) or "online".
        project, entity, group, name, job_type, tags: passed to wandb.init; multirun jobs share a group.

    Returns:
        The W&B run directory (holding the run-*.wandb file), or None when mode is "disabled".
    """
    if mode not in MODES:
        raise ValueError(f"log_run: mode must be one of {list(MODES)}, got {mode!r}")
    if mode == "disabled":
        return None
    import wandb

    run_dir = Path(run_dir)
    curves = read_curves(run_dir) if curves is None else curves
    if diffs is None and (run_dir / "differences.csv").is_file():
        diffs = read_differences(run_dir)
    examples = _examples_frame(run_dir, examples)
    png = run_dir / "curves.png"
    if not png.is_file():
        plot_curves(curves, png, title=name, fits=read_run(run_dir).get("facts", {}).get("goodhart"))

    # vLLM imports openai, which makes wandb advertise Weave on every run; bon logs no LLM calls.
    os.environ.setdefault("WANDB_DISABLE_WEAVE", "true")
    settings = wandb.Settings(
        silent=True,            # no banner / sync hints on stdout
        console="off",          # the pipeline's own stdout is not a W&B artifact
        x_disable_stats=True,   # no system-metrics sampler: logging takes ~1 s, not a monitor
    )
    run = wandb.init(mode=mode, dir=str(run_dir), project=project, entity=entity, group=group,
                     name=name, job_type=job_type, tags=tags, config=dict(config or {}),
                     reinit="finish_previous", settings=settings)
    with run:  # finishes the run, with a failing exit code if logging raises
        run.define_metric("N")
        for prefix in ("KL", "curves/*", "diffs/*"):
            run.define_metric(prefix, step_metric="N")
        for row in _history(curves, diffs):
            run.log(row)

        present = [m for m in main_metrics() + extra_metrics() if m in set(curves["metric"])]
        present += [m for m in dict.fromkeys(curves["metric"]) if str(m).startswith("gold/")]
        charts = {}
        for metric in present:
            by_pm = [(pm, g.sort_values("n")) for pm, g in curves[curves["metric"] == metric].groupby("pm", sort=False)]
            charts[f"charts/{metric}"] = wandb.plot.line_series(
                xs=[g["n"].tolist() for _, g in by_pm], ys=[g["mean"].tolist() for _, g in by_pm],
                keys=[str(pm) for pm, _ in by_pm], xname="N",
                title=metric + (f" ({why})" if (why := invalid_reason(curves[curves["metric"] == metric])) else ""))
        tables = {"curves_table": wandb.Table(dataframe=curves.reset_index(drop=True))}
        if diffs is not None:
            tables["differences_table"] = wandb.Table(dataframe=diffs.reset_index(drop=True))
        if examples is not None:
            tables["example_picks"] = wandb.Table(dataframe=examples)
        if (run_dir / "pareto.csv").is_file():  # selectors: reward against sycophancy (bon/report/pareto.py)
            tables["pareto_table"] = wandb.Table(dataframe=pd.read_csv(run_dir / "pareto.csv"))
            if (run_dir / "pareto.png").is_file():
                tables["pareto_png"] = wandb.Image(str(run_dir / "pareto.png"))
        run.log({**charts, **tables, "curves_png": wandb.Image(str(png))})

        run.summary.update(_final(curves))
        run.summary.update(_checks(run_dir))
        run.summary.update(_goodhart(run_dir))
        run.summary.update(_bias(run_dir))

        art = wandb.Artifact(_artifact_name(name or run.id), type="bon-curves",
                             metadata={"metrics": sorted(set(curves["metric"]))})
        if (run_dir / "pareto.csv").is_file():
            art.add_file(str(run_dir / "pareto.csv"), name="pareto.csv")
        for fname, df in (("curves.csv", curves), ("differences.csv", diffs)):
            if (run_dir / fname).is_file():
                art.add_file(str(run_dir / fname), name=fname)
            elif df is not None:  # handed over in memory only
                with art.new_file(fname, mode="w") as f:
                    df.to_csv(f, index=False)
        run.log_artifact(art)
        out = run.settings.sync_dir
    return out


def _goodhart(run_dir: Path) -> dict:
    """goodhart/{gold row}/{pm}/{kl,kl_pool}/{alpha,beta,n_peak,inside} from run.json's Goodhart fits."""
    fits = read_run(run_dir).get("facts", {}).get("goodhart", {})
    flat = {}
    for row, by_pm in fits.items():
        for pm, by_x in by_pm.items():
            for x, f in by_x.items():
                if isinstance(f, dict):  # {"skipped": why} has none
                    flat.update({f"goodhart/{row}/{pm}/{x}/{k}": f[k] for k in ("alpha", "beta", "n_peak", "inside")
                                 if f.get(k) is not None})
    return flat


def _bias(run_dir: Path) -> dict:
    """pm_preference/... and planted_bias/... from run.json's facts (bon/bias.py)."""
    return bias_summary(read_run(run_dir).get("facts", {}))


def bias_summary(facts: dict) -> dict:
    """pm_preference/<variant>/<kind>{,_ci_low,_ci_high} and planted_bias/<variant>/<feature> for the W&B summary."""
    out = {}
    for v, by_kind in (facts.get("pm_preference") or {}).items():
        for kind, r in by_kind.items():
            if r.get("mean") is not None:
                out[f"pm_preference/{v}/{kind}"] = r["mean"]
                if r.get("ci_low") is not None:
                    out[f"pm_preference/{v}/{kind}_ci_low"] = r["ci_low"]
                    out[f"pm_preference/{v}/{kind}_ci_high"] = r["ci_high"]
    for v, p in (facts.get("planted_bias") or {}).items():
        for k, x in p["weights"].items():
            out[f"planted_bias/{v}/{k}"] = x
        out[f"planted_bias/{v}/s"] = p["s"]
    return out


def _checks(run_dir: Path) -> dict:
    """checks/{task}/accuracy, _ci_low, _ci_high (checks/pm/{variant}/...) from run.json's instrument checks."""
    checks = read_run(run_dir).get("checks", {})
    flat = {}
    for task, c in checks.items():
        for name, r in ({task: c} if task != "pm" else {f"pm/{v}": r for v, r in c.items()}).items():
            for k in ("accuracy", "ci_low", "ci_high", "n"):
                flat[f"checks/{name}/{k}"] = r[k]
            flat[f"checks/{name}/verdict"] = verdict_of(r)
    return flat


def _history(curves: pd.DataFrame, diffs: pd.DataFrame | None) -> list[dict]:
    """One history row per N, in increasing N: {"N", "KL", "curves/m/pm", ..., "diffs/m/a-b", ...}."""
    rows: dict[int, dict] = {}
    for r in curves.to_dict("records"):
        row = rows.setdefault(int(r["n"]), {"N": int(r["n"]), "KL": float(r["kl"])})
        key = f"curves/{r['metric']}/{r['pm']}"
        row.update({key: float(r["mean"]), f"{key}_ci_low": float(r["ci_low"]),
                    f"{key}_ci_high": float(r["ci_high"])})
    for r in ([] if diffs is None else diffs.to_dict("records")):
        row = rows.setdefault(int(r["n"]), {"N": int(r["n"]), "KL": float(r["kl"])})
        key = f"diffs/{r['metric']}/{r['pm_a']}-{r['pm_b']}"
        row.update({key: float(r["mean"]), f"{key}_ci_low": float(r["ci_low"]),
                    f"{key}_ci_high": float(r["ci_high"])})
    return [rows[n] for n in sorted(rows)]


def _final(curves: pd.DataFrame) -> dict:
    """Summary: each (metric, pm) curve at its largest N."""
    out = {}
    for (metric, pm), g in curves.groupby(["metric", "pm"], sort=False):
        last = g.loc[g["n"].idxmax()]
        key = f"final/{metric}/{pm}"
        out.update({key: float(last["mean"]), f"{key}_ci_low": float(last["ci_low"]),
                    f"{key}_ci_high": float(last["ci_high"]), f"{key}_n": int(last["n"])})
        if "valid" in g.columns:  # the validity gate (bon/judges/gate.py): an INVALID number carries its reason
            out[f"{key}_valid"] = bool(last["valid"])
            if not last["valid"]:
                out[f"{key}_validity"] = str(last.get("validity") or "INVALID")
    return out


def _examples_frame(run_dir: Path, examples) -> pd.DataFrame | None:
    """Example picks as a DataFrame of EXAMPLE_COLUMNS; non-scalar cells become JSON strings."""
    if examples is None:
        path = run_dir / "examples.parquet"
        if not path.is_file():
            return None
        examples = pd.read_parquet(path)
    df = pd.DataFrame(list(examples)) if not isinstance(examples, pd.DataFrame) else examples.copy()
    missing = [c for c in EXAMPLE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"log_run: example picks lack columns {missing}; expected {EXAMPLE_COLUMNS}, "
                         f"got {list(df.columns)}")
    df = df[EXAMPLE_COLUMNS].reset_index(drop=True)
    for col in ("prompt", "response", "values"):  # chat turns / metric dicts: one string per cell
        df[col] = [v if isinstance(v, str) else json.dumps(v, default=_jsonable) for v in df[col]]
    return df


def _artifact_name(name: str) -> str:
    # Artifact names allow letters, digits, '-', '_' and '.'.
    return "bon-curves-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name))


def _jsonable(obj):
    # parquet hands back list cells as numpy arrays
    return obj.tolist() if hasattr(obj, "tolist") else str(obj)
