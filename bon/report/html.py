"""report.html: one self-contained page per run folder, for reading replies next to their grades, rewards and picks.

It holds the curves (curves.png inlined), the instrument checks with their verdicts (run.json), the paired
differences (differences.csv), the printed report, and the sample table (samples.parquet, its audit columns from
bon/report/audit.py) that bon/report/page/report.js filters by kind, template and variant and sorts by reward,
grade or pick probability. Everything is inlined (no server, no CDN): open the file in any browser. It reads only
the run folder's files, so it can be rebuilt from them: ``python -m bon.report.html RUN_DIR``.
"""
from __future__ import annotations

import base64
import html
import json
import math
import sys
from pathlib import Path

import pandas as pd

from bon import store as st
from bon.report.files import read_run

PAGE = Path(__file__).resolve().parent / "page"


def embed_json(obj) -> str:
    """JSON safe inside a <script> element: '<', '>' and '&' escaped, so a reply holding '</script>' or '<!--'
    cannot end the element; non-ASCII as \\u escapes. NaN and infinities become null."""
    text = json.dumps(_clean(obj), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text


def _clean(v):
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return _clean(v.tolist())
    return v


def _num(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def sample_data(samples: pd.DataFrame) -> dict:
    """The table's data: prompts (one row per prompt) and samples (one row per sample, columns named in
    ``columns``), with the variants and the N grid read from the reward/ and pick/ columns."""
    cols = list(samples.columns)
    variants = [c[len("reward/"):] for c in cols if c.startswith("reward/")]
    ns = sorted({int(c.rsplit("=", 1)[1]) for c in cols if c.startswith("pick/")})
    graded = [c[len("graded_by/"):] for c in cols if c.startswith("graded_by/")]
    judges = [c for c in cols if c.startswith("judge/")]
    prompt_cols = ["key", "kind", "dataset", "template", "item_id", "question", "prompt", "ref/correct",
                   "ref/incorrect", "ref/accepted"]
    keys = list(dict.fromkeys(samples["key"]))
    first = samples.drop_duplicates("key").set_index("key")
    prompts = [[k, *[_cell(first.at[k, c]) if c in first.columns else None for c in prompt_cols[1:]]] for k in keys]
    index = {k: i for i, k in enumerate(keys)}
    columns = ["prompt", "sample", "reply", "n_tokens", "finish_reason", "grade", "grade_of", "graded_by", "judge",
               "judge_task", *[f"reward/{v}" for v in variants], *[f"rank/{v}" for v in variants],
               *[f"pick/{v}/N={n}" for v in variants for n in ns]]
    rows = []
    for r in samples.itertuples(index=False, name=None):
        rec = dict(zip(cols, r))
        metric = next((m for m in graded if isinstance(rec.get(f"graded_by/{m}"), str)), None)
        task = next((t for t in judges if _num(rec.get(t)) is not None), None)
        rows.append([index[rec["key"]], rec["sample"], rec.get("reply"), _num(rec.get("n_tokens")),
                     rec.get("finish_reason"), _num(rec.get(f"value/{metric}")) if metric else None, metric,
                     rec.get(f"graded_by/{metric}") if metric else None, _num(rec.get(task)) if task else None,
                     task[len("judge/"):] if task else None,
                     *[_num(rec.get(c)) for c in columns[10:]]])
    return {"prompt_columns": prompt_cols, "prompts": prompts, "columns": columns, "rows": rows,
            "variants": variants, "ns": ns}


def _cell(v):
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, list):
        return [str(x) for x in v]
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v, digits=3) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _esc(v)
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def checks_html(checks: dict) -> str:
    """One card per instrument check (a nested group such as the PM probe: one per member), every field shown as
    stored: the verdict first, then scalars, per-kind figures, error directions and misses."""
    cards = []
    for name, c in checks.items():
        if not isinstance(c, dict):
            cards.append(f'<div class="card"><h3>{_esc(name)}</h3><p>{_esc(c)}</p></div>')
            continue
        members = [(f"{name} / {k}", v) for k, v in c.items() if isinstance(v, dict)] \
            if c and all(isinstance(v, dict) for v in c.values()) else [(name, c)]
        for title, check in members:
            cards.append(_card(title, check))
    return "\n".join(cards) or "<p>No instrument checks in run.json.</p>"


def _card(title: str, c: dict) -> str:
    verdict = c.get("verdict")
    head = f"<h3>{_esc(title)}"
    if verdict is not None:  # any verdict string; its first word picks a colour where the stylesheet knows it
        word = (str(verdict).split() or [""])[0].lower()
        head += f' <span class="verdict v-{_esc(word)}">{_esc(verdict)}</span>'
    head += "</h3>"
    scalars, blocks = [], []
    for k, v in c.items():
        if k == "verdict":
            continue
        if isinstance(v, dict):
            inner = "".join(f"<tr><td>{_esc(a)}</td><td>{_value(b)}</td></tr>" for a, b in v.items())
            blocks.append(f"<details><summary>{_esc(k)} ({len(v)})</summary><table class='kv'>{inner}</table>"
                          "</details>")
        elif isinstance(v, list):
            inner = "".join(f"<li>{_value(x)}</li>" for x in v)
            blocks.append(f"<details><summary>{_esc(k)} ({len(v)})</summary><ul>{inner}</ul></details>")
        else:
            scalars.append(f"<tr><td>{_esc(k)}</td><td>{_fmt(v)}</td></tr>")
    return f'<div class="card">{head}<table class="kv">{"".join(scalars)}</table>{"".join(blocks)}</div>'


def _value(v) -> str:
    return _esc(json.dumps(_clean(v), ensure_ascii=False)) if isinstance(v, (dict, list)) else _fmt(v)


def differences_html(diffs: pd.DataFrame) -> str:
    """Paired differences a - b: one row per (metric, a, b), one column per N, '*' where the CI excludes 0."""
    if diffs is None or not len(diffs):
        return "<p>One PM variant: nothing to compare.</p>"
    ns = sorted(diffs["n"].unique())
    head = "".join(f"<th>N={int(n)}</th>" for n in ns)
    rows = []
    for (metric, a, b), g in diffs.groupby(["metric", "pm_a", "pm_b"], sort=False):
        by_n = {int(r.n): r for r in g.itertuples()}
        cells = []
        for n in ns:
            r = by_n.get(int(n))
            if r is None:
                cells.append("<td></td>")
                continue
            ci = "" if pd.isna(r.ci_low) else f" [{r.ci_low:.2f}, {r.ci_high:.2f}]"
            star = "*" if not pd.isna(r.ci_low) and (r.ci_low > 0 or r.ci_high < 0) else ""
            cells.append(f'<td class="{"sig" if star else ""}">{r.mean:+.2f}{ci}{star}</td>')
        items = g["n_items"].iloc[0]
        rows.append(f"<tr><td>{_esc(metric)}</td><td>{_esc(a)} &minus; {_esc(b)}</td><td>{_esc(items)}</td>"
                    f"{''.join(cells)}</tr>")
    return (f'<table class="grid"><thead><tr><th>metric</th><th>a &minus; b</th><th>items</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render(run_dir) -> str:
    """The page's HTML from a run folder's files (curves.png, run.json, differences.csv, report.txt,
    samples.parquet); a missing file leaves its section saying so."""
    run_dir = Path(run_dir)
    summary = read_run(run_dir)
    png = run_dir / "curves.png"
    img = (f'<img alt="curves.png" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'
           if png.is_file() else "<p>No curves.png in this run folder.</p>")
    path = run_dir / "differences.csv"  # empty with one PM variant: nothing to compare
    diffs = pd.read_csv(path) if path.is_file() and path.read_text().strip() else None
    report = (run_dir / "report.txt").read_text() if (run_dir / "report.txt").is_file() else ""
    samples = pd.read_parquet(run_dir / "samples.parquet")
    cfg = summary.get("config") or {}
    title = f"bon run {run_dir.name}"
    sub = ", ".join(f"{k} {v}" for k, v in (("policy", (cfg.get("policy") or {}).get("model")),
                                             ("PM", (cfg.get("pm") or {}).get("model")), ("M", cfg.get("m")),
                                             ("prompts", summary.get("n_prompts"))) if v is not None)
    css, js = (PAGE / "report.css").read_text(), (PAGE / "report.js").read_text()
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{_esc(title)}</title>",
        f"<style>{css}</style></head><body>",
        f"<header><h1>{_esc(title)}</h1><p>{_esc(sub)}</p><nav><a href='#curves'>curves</a> "
        "<a href='#checks'>instrument checks</a> <a href='#differences'>differences</a> "
        "<a href='#samples'>samples</a></nav></header>",
        f'<section id="curves"><h2>Curves</h2>{img}</section>',
        f'<section id="checks"><h2>Instrument checks</h2><div class="cards">{checks_html(summary.get("checks") or {})}'
        "</div></section>",
        f'<section id="differences"><h2>Paired differences (a &minus; b), mean [CI], * = CI excludes 0</h2>'
        f"{differences_html(diffs)}</section>",
        f"<section id='report'><details><summary>The printed report (report.txt)</summary><pre>{_esc(report)}</pre>"
        "</details></section>",
        '<section id="samples"><h2>Samples</h2><div id="controls"></div><p id="status"></p>'
        '<div class="scroll"><table id="table" class="grid"></table></div><div id="pager"></div></section>',
        f'<script type="application/json" id="data">{embed_json(sample_data(samples))}</script>',
        f"<script>{js}</script>", "</body></html>", ""])


def write_report_html(run_dir) -> Path:
    """Write ``report.html`` into a run folder (atomically) from its files. Returns its path. The page is ASCII
    (other characters as references, or \\u escapes in the data), so no locale can garble it."""
    path = Path(run_dir) / "report.html"
    st.write_text(path, render(run_dir).encode("ascii", "xmlcharrefreplace").decode("ascii"))
    return path


if __name__ == "__main__":
    for d in sys.argv[1:] or ["."]:
        print(write_report_html(d))
