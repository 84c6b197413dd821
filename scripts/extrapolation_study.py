"""Coverage and error of bon's extrapolation beyond the pool on synthetic pools with a known E_N (README, "N beyond the
pool"). Pure numpy, seconds on one core.

Each setting: `--sims` seeded runs of P prompts x M Gaussian rewards; the value of a sample is
    linear     c_p + d_p z + noise             (the degree-1 normal-score form holds exactly)
    logistic   Bernoulli(sigmoid(a_p + b z))   (a 0/1 metric the form only approximates)
    peaked     -z^2 + noise                    (a value that falls in both tails: the form is wrong)
The fit uses N = 1, 2, 4, ..., M of the exact estimator and predicts N = 8 M and 16 M, with the form the run would
take (auto: logit for a rate in [0, 1], normal otherwise), a fixed one, or "best" (the lower backtest error); the truth is the population
E_N by quadrature. Printed per setting: coverage of the 95% CI, mean absolute error, mean CI half-width, and the
share of runs whose backtest (fit on N <= M/4, exact N in (M/4, M]) would pass at the run's default threshold, and
the coverage among those runs (what a reader of the dashed points gets).

    python scripts/extrapolation_study.py [--sims 200]
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np

from bon.estimator import bootstrap_ci, default_ns, expected_best_of_n
from bon.estimator.extrapolate import _LOG_CDF, _Z, applicable_forms, backtest, extrapolate_ci, max_normal_moments


def max_density(n):
    return np.exp(np.log(n) + (n - 1) * _LOG_CDF - 0.5 * _Z ** 2 - 0.5 * math.log(2 * math.pi)) * (_Z[1] - _Z[0])


def truth(link, n, beta):
    if link == "linear":
        return 0.2 + 0.3 * max_normal_moments([n])[0, 1]
    if link == "peaked":
        return -max_normal_moments([n], 2)[0, 2]
    u = np.linspace(-6, 6, 241)
    wa = np.exp(-0.5 * u ** 2)
    wa /= wa.sum()
    g = 1 / (1 + np.exp(-(-1.0 + 0.5 * u[:, None] + beta * _Z[None])))
    return float(wa @ (g @ max_density(n)))


def values(link, rng, z, beta):
    p, m = z.shape
    if link == "linear":
        return rng.normal(0.2, 0.3, (p, 1)) + rng.normal(0.3, 0.2, (p, 1)) * z + rng.normal(0, 0.5, (p, m))
    if link == "peaked":
        return -z ** 2 + rng.normal(0, 0.3, (p, m))
    return (rng.random((p, m)) < 1 / (1 + np.exp(-(rng.normal(-1.0, 0.5, (p, 1)) + beta * z)))).astype(float)


def study(link, m, p, sims, beta=1.0, n_boot=300, form="auto"):
    ns, targets = default_ns(m), [8 * m, 16 * m]
    true = np.array([truth(link, n, beta) for n in targets])
    cov, err, half, passed, cov_passed, chosen = np.zeros(2), [], [], 0, np.zeros(2), {}
    for s in range(sims):
        rng = np.random.default_rng(s)
        z = rng.standard_normal((p, m))
        exact = expected_best_of_n(3.0 + 2.0 * z, values(link, rng, z, beta), ns)
        # as the run does: auto is logit for a rate, normal otherwise; "best" takes the form with the lower backtest
        # error (what auto did first, kept to show that with M' = M / 4 this choice is mostly noise)
        forms = applicable_forms(exact)
        if form == "best":
            tests = [backtest(ns, exact, m, n_boot=n_boot, seed=s, form=f) for f in forms]
            k = int(np.argmin([np.mean(t["abs_error"]) for t in tests]))
            f, bt = forms[k], tests[k]
        else:
            f = forms[-1] if form == "auto" else form
            bt = backtest(ns, exact, m, n_boot=n_boot, seed=s, form=f)
        chosen[f] = chosen.get(f, 0) + 1
        mean, lo, hi = extrapolate_ci(ns, exact, targets, n_boot=n_boot, seed=s, form=f)
        cov += (lo <= true) & (true <= hi)
        err.append(np.abs(mean - true))
        half.append((hi - lo) / 2)
        _, elo, ehi = bootstrap_ci(exact, n_boot=n_boot, seed=s)
        ok = bool(np.mean(bt["abs_error"]) < 0.5 * np.median((ehi - elo) / 2))
        passed += ok
        cov_passed += ok * ((lo <= true) & (true <= hi))
    return {"link": link, "beta": beta, "m": m, "prompts": p, "sims": sims, "form": form, "chosen": chosen,
            "n": targets,
            "coverage": (cov / sims).round(3).tolist(), "mae": np.mean(err, 0).round(4).tolist(),
            "ci_half_width": np.mean(half, 0).round(4).tolist(), "backtest_pass_share": round(passed / sims, 3),
            "coverage_when_passed": (cov_passed / max(passed, 1)).round(3).tolist() if passed else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=200)
    a = ap.parse_args()
    for link, m, p, beta, form in [
            ("linear", 8, 40, 1.0, "auto"), ("linear", 32, 40, 1.0, "auto"),
            ("logistic", 8, 40, 1.0, "normal"), ("logistic", 8, 40, 1.0, "auto"), ("logistic", 32, 40, 1.0, "auto"),
            ("logistic", 8, 400, 1.0, "normal"), ("logistic", 8, 400, 1.0, "auto"),
            ("logistic", 8, 40, 2.0, "normal"), ("logistic", 8, 40, 2.0, "auto"), ("logistic", 8, 40, 2.0, "best"),
            ("logistic", 32, 40, 2.0, "normal"), ("logistic", 32, 40, 2.0, "auto"), ("logistic", 32, 40, 2.0, "best"),
            ("peaked", 8, 40, 1.0, "auto"), ("peaked", 32, 40, 1.0, "auto")]:
        print(json.dumps(study(link, m, p, a.sims, beta, form=form)), flush=True)


if __name__ == "__main__":
    main()
