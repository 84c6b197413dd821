"""bon/estimator/extrapolate.py: the moments of the maximum of N normals against closed forms and Monte Carlo, the
fit as a projection, the bootstrap that refits per resample, the backtest, and the coverage of the extrapolated CI on
synthetic pools whose true E_N is known (Gaussian rewards; a linear and a logistic link), up to N = 16 M."""
import math

import numpy as np
import pytest

from bon.estimator import default_ns, expanded_alpha, expected_best_of_n, resample_counts
from bon.estimator.extrapolate import (applicable_forms, backtest, basis, extrapolate_ci, extrapolation_grid,
                                       extrapolation_matrix, max_normal_moments)


def test_max_normal_moments_closed_forms():
    mu = max_normal_moments([1, 2, 3], degree=2)
    assert mu[:, 0] == pytest.approx([1, 1, 1], abs=1e-9)
    # E max of 2 = 1/sqrt(pi), of 3 = 3/(2 sqrt(pi)); E max^2 of 1 and of 2 is 1 (max^2 + min^2 = Z1^2 + Z2^2, and
    # max^2, min^2 are equal in law by symmetry)
    assert mu[:, 1] == pytest.approx([0, 1 / math.sqrt(math.pi), 1.5 / math.sqrt(math.pi)], abs=1e-9)
    assert mu[:2, 2] == pytest.approx([1, 1], abs=1e-9)


def test_max_normal_moments_match_monte_carlo():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200_000, 64)).max(axis=1)
    mu = max_normal_moments([64], degree=2)[0]
    se = z.std() / math.sqrt(z.size)
    assert abs(mu[1] - z.mean()) < 4 * se
    assert abs(mu[2] - (z ** 2).mean()) < 4 * (z ** 2).std() / math.sqrt(z.size)


def test_fit_is_exact_on_its_own_form_and_keeps_constants():
    ns_fit, ns_new = [1, 2, 4, 8], [16, 64, 128]
    A = extrapolation_matrix(ns_fit, ns_new)
    assert A.sum(axis=1) == pytest.approx(np.ones(3))  # a constant curve stays constant
    curve = 0.3 + 0.7 * max_normal_moments(ns_fit)[:, 1]
    assert A @ curve == pytest.approx(0.3 + 0.7 * max_normal_moments(ns_new)[:, 1], abs=1e-9)
    log = extrapolation_matrix(ns_fit, ns_new, form="log")
    assert log @ (0.1 + 0.2 * np.log(ns_fit)) == pytest.approx(0.1 + 0.2 * np.log(ns_new))
    with pytest.raises(ValueError, match="at least 2 distinct N"):
        extrapolation_matrix([1, 1], [16])
    with pytest.raises(ValueError, match="form must be one of"):
        basis([1, 2], form="power")


def test_bootstrap_refits_every_resample():
    """The CI is the percentile interval of the fit redone on every item-resampled mean curve (brute force)."""
    rng = np.random.default_rng(1)
    ns, new = [1, 2, 4, 8], [32, 64]
    values = rng.normal(size=(4, 12)).cumsum(axis=0)  # (L, items)
    mean, lo, hi = extrapolate_ci(ns, values, new, n_boot=300, seed=5)
    counts = resample_counts(12, 300, 5)
    X = max_normal_moments(ns)
    preds = []
    for c in counts:
        coef, *_ = np.linalg.lstsq(X, values @ c / c.sum(), rcond=None)
        preds.append(max_normal_moments(new) @ coef)
    a = expanded_alpha(12, 0.05)
    ref_lo, ref_hi = np.quantile(np.array(preds), [a / 2, 1 - a / 2], axis=0)
    assert lo == pytest.approx(ref_lo) and hi == pytest.approx(ref_hi)
    coef, *_ = np.linalg.lstsq(X, values.mean(axis=1), rcond=None)
    assert mean == pytest.approx(max_normal_moments(new) @ coef)


def test_logit_form_refits_every_resample_on_the_logit_scale():
    rng = np.random.default_rng(2)
    ns, new = [1, 2, 4, 8], [32, 64]
    values = np.clip(rng.uniform(0.1, 0.6, size=(1, 15)) + np.linspace(0, 0.3, 4)[:, None], 0, 1)  # (L, items)
    mean, lo, hi = extrapolate_ci(ns, values, new, n_boot=200, seed=3, form="logit")
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    X, Xn = max_normal_moments(ns), max_normal_moments(new)
    refit = lambda curve: 1 / (1 + np.exp(-(Xn @ np.linalg.lstsq(X, logit(curve), rcond=None)[0])))  # noqa: E731
    assert mean == pytest.approx(refit(values.mean(axis=1)))
    counts = resample_counts(15, 200, 3)
    preds = np.array([refit(values @ c / c.sum()) for c in counts])
    a = expanded_alpha(15, 0.05)
    assert np.stack([lo, hi]) == pytest.approx(np.quantile(preds, [a / 2, 1 - a / 2], axis=0))
    assert ((0 < lo) & (hi < 1)).all()  # a rate stays a rate
    assert applicable_forms(values) == ["normal", "logit"] and applicable_forms(values - 0.5) == ["normal"]
    with pytest.raises(ValueError, match=r"needs values in \[0, 1\]"):
        extrapolate_ci(ns, values - 0.5, new, form="logit")


def test_logit_form_follows_a_saturating_rate_the_normal_form_overshoots():
    """A 0/1 value with a steep logistic link, sigmoid(a_p + 2 z): the rate saturates near 1 at N = 8 M, where the
    normal form keeps climbing. Over 50 seeded runs the logit form's mean error is under half the normal form's
    (scripts/extrapolation_study.py: 0.04 against 0.13 over 200 runs)."""
    m, p = 8, 40
    ns, target = default_ns(m), [8 * m]
    truth = _true_logistic(-1.0, 0.5, 2.0, 8 * m)
    err = {"normal": [], "logit": []}
    for s in range(50):
        rng = np.random.default_rng(s)
        z = rng.standard_normal((p, m))
        v = (rng.random((p, m)) < 1 / (1 + np.exp(-(rng.normal(-1.0, 0.5, (p, 1)) + 2 * z)))).astype(float)
        exact = expected_best_of_n(z, v, ns)
        for f in err:
            err[f].append(abs(extrapolate_ci(ns, exact, target, n_boot=20, seed=s, form=f)[0][0] - truth))
    assert np.mean(err["logit"]) < 0.5 * np.mean(err["normal"]), {f: np.mean(e) for f, e in err.items()}


def test_backtest_fits_up_to_a_quarter_of_the_pool():
    ns = [1, 2, 4, 8]
    exact = 0.2 + 0.5 * max_normal_moments(ns)[:, 1:2] + np.linspace(-0.1, 0.1, 10)[None]  # (4, 10) on the form
    bt = backtest(ns, exact, m=8)
    assert bt["m_sub"] == 2 and bt["ns_fit"] == [1, 2] and bt["ns_test"] == [4, 8]
    assert max(bt["abs_error"]) < 1e-9 and all(bt["covered"])
    assert backtest([1, 8], exact[[0, 3]], m=8) is None  # one N at or below M / 4: nothing to fit


def test_extrapolation_grid():
    assert extrapolation_grid(8, 64) == [16, 32, 64]
    assert extrapolation_grid(8, 100) == [16, 32, 64, 100]
    assert extrapolation_grid(6, 48) == [8, 16, 32, 48]
    assert extrapolation_grid(8, 8) == [] and extrapolation_grid(8, 0) == []


# ----------------------------------------------------------------------------- coverage on a known answer


def _true_logistic(a_mean, a_sd, beta, n):
    """E_N under a logistic link with a normal prompt intercept, by quadrature (the closed form's integral)."""
    from bon.estimator.extrapolate import _LOG_CDF, _Z as zg

    dens = np.exp(np.log(n) + (n - 1) * _LOG_CDF - 0.5 * zg ** 2 - 0.5 * math.log(2 * math.pi)) * (zg[1] - zg[0])
    u = np.linspace(-6, 6, 241)
    wa = np.exp(-0.5 * u ** 2)
    wa /= wa.sum()
    g = 1 / (1 + np.exp(-(a_mean + a_sd * u[:, None] + beta * zg[None])))
    return float(wa @ (g @ dens))


@pytest.mark.parametrize("link", ["linear", "logistic"])
def test_coverage_at_8m_and_16m_over_200_seeded_pools(link):
    """200 seeded runs of 40 prompts x M = 8 Gaussian rewards; the truth is the population E_N. The 95% CI at
    N = 8 M and 16 M must cover it in >= 90% of runs, and the mean error must stay below the mean CI half-width.

    linear: value = c_p + d_p z + noise, so E_N = mean(c) + mean(d) mu_1(N) exactly (the normal form holds).
    logistic: value ~ Bernoulli(sigmoid(a_p + z)), a 0/1 metric the logit form only approximates (the mean over
    prompts of sigmoids is not a sigmoid)."""
    m, p, sims = 8, 40, 200
    ns, targets = default_ns(m), [8 * m, 16 * m]
    if link == "linear":
        truth = 0.2 + 0.3 * max_normal_moments(targets)[:, 1]
    else:
        truth = np.array([_true_logistic(-1.0, 0.5, 1.0, n) for n in targets])
    covered, err, half = np.zeros(2), [], []
    for s in range(sims):
        rng = np.random.default_rng(s)
        z = rng.standard_normal((p, m))
        rewards = 3.0 + 2.0 * z  # only the rank enters
        if link == "linear":
            v = rng.normal(0.2, 0.3, (p, 1)) + rng.normal(0.3, 0.2, (p, 1)) * z + rng.normal(0, 0.5, (p, m))
        else:
            v = (rng.random((p, m)) < 1 / (1 + np.exp(-(rng.normal(-1.0, 0.5, (p, 1)) + z)))).astype(float)
        exact = expected_best_of_n(rewards, v, ns)
        form = applicable_forms(exact)[-1]  # as extrapolate.form=auto: logit for the 0/1 values, normal otherwise
        mean, lo, hi = extrapolate_ci(ns, exact, targets, n_boot=300, seed=s, form=form)
        covered += (lo <= truth) & (truth <= hi)
        err.append(np.abs(mean - truth))
        half.append((hi - lo) / 2)
    coverage = covered / sims
    assert (coverage >= 0.9).all(), coverage
    assert (np.mean(err, axis=0) < np.mean(half, axis=0)).all()


def test_backtest_catches_a_link_the_form_cannot_follow():
    """A value that peaks at the median reward and falls in both tails (v = -z^2 + noise): E_N falls ever faster in
    N, which a degree-1 form fitted on N <= M/4 underestimates. With M = 32 and 200 prompts the backtest error
    is many times the exact rows' CI half-width, so the row would not be extrapolated."""
    from bon.estimator import bootstrap_ci

    rng = np.random.default_rng(0)
    m, p = 32, 200
    z = rng.standard_normal((p, m))
    v = -z ** 2 + rng.normal(0, 0.3, (p, m))
    ns = default_ns(m)
    exact = expected_best_of_n(z, v, ns)
    bt = backtest(ns, exact, m)
    _, lo, hi = bootstrap_ci(exact)
    assert np.mean(bt["abs_error"]) > 2 * np.median((hi - lo) / 2)
    assert not all(bt["covered"])


def test_study_script_as_written():
    """scripts/extrapolation_study.py (the README's synthetic table) runs and prints one JSON line per setting; 3
    runs each here instead of 200."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "scripts/extrapolation_study.py"), "--sims", "3"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 15 and {r["link"] for r in rows} == {"linear", "logistic", "peaked"}
    peaked = [r for r in rows if r["link"] == "peaked"]
    assert all(r["backtest_pass_share"] == 0 and r["coverage"] == [0.0, 0.0] for r in peaked)


def test_backtest_fit_is_the_mean_of_the_fits_on_every_sub_pool():
    """The backtest fits the full pool's E_n, n <= M' = M / 4; for the (linear) normal form that is the mean of the
    fits on all C(M, M') sub-pools of M' samples, brute-forced here for M = 8 (28 sub-pools of 2)."""
    from itertools import combinations

    rng = np.random.default_rng(4)
    m, p = 8, 6
    r, v = rng.normal(size=(p, m)), rng.normal(size=(p, m))
    A = extrapolation_matrix([1, 2], [4, 8])
    subs = [A @ expected_best_of_n(r[:, list(c)], v[:, list(c)], [1, 2]) for c in combinations(range(m), 2)]
    bt = backtest([1, 2, 4, 8], expected_best_of_n(r, v, [1, 2, 4, 8]), m)
    assert np.mean(subs, axis=0).mean(axis=1) == pytest.approx(bt["predicted"])
