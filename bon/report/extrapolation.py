"""The extrapolation beyond the pool as text and a table: backtest.csv and the report's block. A consumer of what the
curves stage stored (run.json facts["extrapolation"], the extrapolated rows of curves.csv); never refits."""
from __future__ import annotations

import pandas as pd

BACKTEST_COLUMNS = ["metric", "form", "m_sub", "ns_fit", "ns_test", "mae", "coverage", "n_points", "threshold", "passed",
                    "why"]


def backtest_frame(ext: dict) -> pd.DataFrame:
    """backtest.csv: one row per metric row (N lists joined by spaces)."""
    rows = [{k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in e.items()}
            for e in ext.get("backtest", [])]
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def format_extrapolation(curves: pd.DataFrame, ext: dict) -> str:
    """The report's block: the backtest table, the extrapolated cells of the rows that pass, the Goodhart peak."""
    from bon.report.text import format_table

    if not ext or "off" in ext:
        return f"extrapolation beyond N = M: off ({ext.get('off', 'not computed')})"
    lines = [f"extrapolation beyond N = M = {ext['m']} to N = {ext['n_max']} (form {ext.get('form', 'auto')}, "
             f"degree {ext['degree']}; bon/estimator/extrapolate.py). Backtest: fitted on sub-pools of "
             f"M' = {ext['m_sub']}, predicting N in (M', M], against the exact estimator on the full pool; shown only "
             f"where the mean absolute error is below the threshold:"]
    w = max([len(str(e["metric"])) for e in ext["backtest"]] + [6])
    lines.append(f"  {'metric':<{w}}  {'form':<6}  {'error':>8}  {'coverage':>8}  {'threshold':>9}  verdict")
    for e in ext["backtest"]:
        err = "-" if e["mae"] is None else f"{e['mae']:.3g}"
        cov = "-" if e["coverage"] is None else f"{e['coverage']:.2f}"
        thr = "-" if e["threshold"] is None else f"{e['threshold']:.3g}"
        verdict = "passes: extrapolated" if e["passed"] else f"FAILS: {e['why']}"
        lines.append(f"  {str(e['metric']):<{w}}  {e.get('form', '-'):<6}  {err:>8}  {cov:>8}  {thr:>9}  {verdict}")
    passed = [e["metric"] for e in ext["backtest"] if e["passed"]]
    if passed and "extrapolated" in curves.columns:
        rows = curves[curves["extrapolated"].astype(bool)]
        lines += ["", "extrapolated (predicted, not measured; 95% CI by item bootstrap, refit per resample):",
                  format_table(rows, passed)]
    for row, fits in ext.get("goodhart", {}).items():
        for pm, f in fits.items():
            if "skipped" in f:
                lines.append(f"  Goodhart on extrapolated {row} ({pm}): {f['skipped']}")
                continue
            where = ("no peak (the fitted gold rises without end)" if f["n_peak"] is None else
                     f"predicted peak at N ~ {f['n_peak']:.3g}, "
                     + ("inside" if f["peak_inside_backtested"] else "OUTSIDE")
                     + f" the backtested range (N <= {f['n_backtested']:.0f})")
            why = ("; the degree-1 forms are monotone in N beyond M: they cannot themselves predict a turnover"
                   if ext["degree"] == 1 else "")
            lines.append(f"  Goodhart on extrapolated {row} ({pm}): {where} (a point fit on predicted means){why}")
    return "\n".join(lines)
