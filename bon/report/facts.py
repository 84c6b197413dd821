"""report.txt's lines for what the curves stage stored: the KL measured on the pool, the Goodhart fits with their
verdicts and the length flags (bon/curve_stats.py computed them; nothing is refitted here), and a planted bias with
the on-policy PM preference (bon/bias.py)."""
from __future__ import annotations

from bon.bias import FEATURE_CHECKS, run_biases, unbiased_name

def format_facts(facts: dict) -> list[str]:
    """report.txt lines (indented, under "run facts") for the facts this module adds."""
    lines = []
    for pm, f in (facts.get("kl_pool") or {}).items():
        lines.append(f"  KL(BoN || base) at N={f['n']}, {pm}: bound {f['bound']:.3f}, tie-free pool of M={f['m']} "
                     f"{f['tie_free']:.3f}, measured on the pool (kl_pool) {f['kl_pool']:.3f} "
                     f"({f['prompts_with_ties']} prompts with tied rewards)")
    for row, by_pm in (facts.get("goodhart") or {}).items():
        for pm, fits in by_pm.items():
            if "skipped" in fits:
                lines.append(f"  Goodhart fit of {row} under proxy {pm}: skipped ({fits['skipped']})")
                continue
            for x, f in fits.items():
                lines.append(goodhart_line(row, pm, x, f))
    for s in facts.get("length_shift") or []:
        if s["flag"]:
            change = "from 0" if s["change"] is None else f"{100 * s['change']:+.0f}%"
            lines.append(f"  FLAG length: {s['row']} of {s['pm']}'s pick moves {change} from N={s['n_from']} "
                         f"({s['from']:.1f} tokens) to N={s['n_to']} ({s['to']:.1f}): best-of-N is buying length"
                         if (s["change"] or 1) > 0 else
                         f"  FLAG length: {s['row']} of {s['pm']}'s pick moves {change} from N={s['n_from']} "
                         f"({s['from']:.1f} tokens) to N={s['n_to']} ({s['to']:.1f}): best-of-N is cutting length")
    return lines


def goodhart_line(row: str, pm: str, x: str, f: dict) -> str:
    """One report line for a Goodhart fit: the fitted form, its peak, and the verdict with the drop's CI."""
    axis = "sqrt(KL bound)" if x == "kl" else "sqrt(kl_pool)"
    head = f"  Goodhart fit of {row} under proxy {pm} vs {axis}"
    if "skipped" in f:
        return f"{head}: {f['skipped']}"
    if f["d_peak"] is None:  # beta <= 0: the peak is at infinity
        peak = "no peak (beta <= 0: the fitted gain bends upward)"
    elif f["d_peak"] == 0:
        peak = "falls from N=1 on (alpha <= 0: best-of-N only lowers the gold score)"
    else:
        n_peak = (f"N~{f['n_peak']:.3g}" if f.get("n_peak") is not None
                  else f"log N~{f['log_n_peak']:.3g}" if f.get("log_n_peak") is not None else "N unknown")
        peak = f"fitted peak at {n_peak} (d={f['d_peak']:.3g}), " + ("inside the grid" if f["inside"] else
                                                                      "outside the grid")
    sign = "-" if f["beta"] >= 0 else "+"
    few = " (N = 1 and two more points for 2 parameters: exact, no test of the form)" if f["n_points"] <= 3 else ""
    line = (f"{head}: gain = d ({f['alpha']:.3g} {sign} {abs(f['beta']):.3g} d), {peak}, rmse {f['rmse']:.2g} "
            f"over {f['n_points']} N{few}")
    if "verdict" not in f:
        return line + "; no per-item curves: no verdict"
    ci = f.get("ci")
    if ci is None:
        return line + f"; drop from the best N to the largest {f['drop']:.3g}, {f['verdict']}: no verdict"
    verdict = ("OVEROPTIMIZED: the gold score falls after its peak (drop CI above 0)" if f["overoptimized"] else
               "no overoptimization shown (drop CI reaches 0)")
    return (line + f"; drop from the best N to the largest {f['drop']:.3g} [{ci['drop'][0]:.3g}, "
            f"{ci['drop'][1]:.3g}] over {f['n_items']} items: {verdict}; beta [{ci['beta'][0]:.3g}, "
            f"{ci['beta'][1]:.3g}]")


# ----------------------------------------------------------------------------- planted bias, PM preference
def bias_title(cfg) -> str:
    """Figure title addition naming the planted biases ("" when none)."""
    b = run_biases(cfg)
    if not b:
        return ""
    return "\nPLANTED BIAS (not a trained PM): " + "; ".join(
        f"{v} = PM reward + " + " + ".join(f"w·s·{k}, w = {x:g}" for k, x in bs.items() if x != 0) for v, bs in b.items())


def bias_header(facts: dict, checks: dict | None = None) -> list[str]:
    """report.txt's first lines when a bias is planted: what a biased variant's curves are, and, for a bias on a
    feature whose instrument fails its labelled check, the instrument's own warning."""
    from bon.judges.verdicts import verdict_of

    lines = []
    for v, p in (facts.get("planted_bias") or {}).items():
        terms = " + ".join(f"{x:g} * s * {k}" for k, x in p["weights"].items() if x != 0)
        weights = ", ".join(f"w[{k}] = {x:g}" for k, x in p["weights"].items())
        lines.append(f"PLANTED BIAS: variant {v!r} is the PM's stored reward + {terms or '0'} (planted weight "
                     f"{weights}; s = {p['s']:.3g}, its within-prompt reward spread). Its curves show what "
                     f"best-of-N buys from a PM that values this feature this much; the bias is planted by bon, not learned by the PM. The bias alone: "
                     f"{v} - {unbiased_name(v)} (the same PM variant without it, on the same samples) leads the paired "
                     f"differences.")
        for k, x in p["weights"].items():
            for task in FEATURE_CHECKS[k] if x != 0 else ():
                c = (checks or {}).get(task)
                verdict = verdict_of(c) if c else "ok"
                if verdict != "ok":
                    lines.append(f"  WARNING ({verdict}): the bias on {k} reads the {task} instrument, which scores "
                                 f"{c['accuracy']:.2f} on its labelled check; the planted preference carries its error")
    return lines


def preference_lines(facts: dict) -> list[str]:
    """report.txt lines (under "run facts"): the on-policy PM preference for agreement, per variant and kind."""
    pref = facts.get("pm_preference") or {}
    if not pref:
        return []
    lines = ["  on-policy PM preference for agreement, Spearman(agree, reward) within prompt, mean over items "
             "[95% CI by item]:"]
    for v, by_kind in pref.items():
        cells = [f"{kind} {_fmt(r)}" + (f" (PM alone {_fmt(r['pm'])})" if "pm" in r else "")
                 for kind, r in by_kind.items()]
        lines.append(f"    {v}: " + ", ".join(cells))
    return lines


def _fmt(r: dict) -> str:
    if r.get("mean") is None:
        return "n/a (no prompt where agree and reward both vary)"
    if r.get("ci_low") is None:
        return f"{r['mean']:+.2f} (n = {r['n_items']} items: too few for a CI)"
    return f"{r['mean']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] ({r['n_items']} items)"
