"""The drift a PM's on-policy preference for agreement predicts, beside the drift best-of-N shows (issue 26, item 3).

For a per-sample feature f and the pick of best-of-2 from a pool of M, exactly (bon/bias.py, `best_of_two_gain`):

    E_2[f] - E_1[f] = 2 cov(f, mid-rank of reward) / (M - 1)          (population covariance over the M samples)

With f = agree (bon.bias.sample_features: the reply sides with the belief the user states), the *predicted* change of
a sycophancy metric from N = 1 to N = 2 is this gain averaged over the prompts of an item that state a belief, then
over items; the *observed* change is the metric's own curve E_2 - E_1. They coincide where the metric is the
agreement rate of the pick (mimicry); they part where the metric reads something else than agree (answer
sycophancy also moves with the bare question's accuracy, and "asserts the incorrect answer" is not "is not
correct"; feedback sycophancy compares two picks' positivity, a probability, not the signed positivity itself;
are_you_sure's row counts admissions, agree also counts silent switches). CIs resample items.

Items are also split by the sign of the within-prompt cov(agree, reward) at N = 1 (the PM's on-policy preference,
averaged over the item's belief prompts), and each group's curve is given: a PM that prefers agreement on an item
should drive that item's sycophancy up with N, one that dislikes it down.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from bon.bias import best_of_two_gain
from bon.estimator import bootstrap_ci

NO_BELIEF = ("bare", "baseline")  # templates where the user states no belief (agree is 0 there)


def item_features(examples, agree, rewards, kind: str) -> dict[str, tuple[float, float]]:
    """item_id -> (mean predicted best-of-2 gain of agree, mean within-prompt cov(agree, reward)) over the item's
    belief prompts of ``kind``."""
    rows = [i for i, e in enumerate(examples) if e.kind == kind and e.template not in NO_BELIEF]
    if not rows or agree.shape[1] < 2:
        return {}
    a, r = agree[rows], rewards[rows]
    gain = best_of_two_gain(a, r)
    cov = ((a - a.mean(axis=1, keepdims=True)) * (r - r.mean(axis=1, keepdims=True))).mean(axis=1)
    out: dict[str, list] = {}
    for k, i in enumerate(rows):
        out.setdefault(examples[i].item_id, []).append((gain[k], cov[k]))
    return {item: (float(np.mean([g for g, _ in v])), float(np.mean([c for _, c in v]))) for item, v in out.items()}


def _by_item(arr: np.ndarray, ids) -> dict[str, np.ndarray]:
    """Columns of a (L, cols) row averaged per item id (plain item_id: a column_item's kind prefix is dropped)."""
    out: dict[str, list] = {}
    for c, i in enumerate(ids):
        out.setdefault(str(i).split(":", 1)[-1], []).append(arr[:, c])
    return {i: np.mean(v, axis=0) for i, v in out.items()}


def drift_tables(examples, agree, rewards: dict, per_item: dict, groups: dict, metric_kinds: dict, ns, cfg,
                 alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(drift, split): per metric and variant, predicted and observed E_2 - E_1 with CIs over items; and the curve
    of each metric per variant over the items where the PM's cov(agree, reward) is > 0 and <= 0.

    Args:
        examples, agree: the run's prompts and their (P, M) agree values.
        rewards: variant -> (P, M) the rewards the curves use.
        per_item, groups: the curves stage's per-item rows {(row, variant): (L, cols)} and {row: column ids}.
        metric_kinds: metric (main row) -> the prompt kind its agreement is read on.
    """
    ns = list(ns)
    drift, split = [], []
    if 1 not in ns or 2 not in ns or agree is None:
        return pd.DataFrame(drift), pd.DataFrame(split)
    k1, k2 = ns.index(1), ns.index(2)
    kw = dict(n_boot=cfg.n_boot, alpha=alpha, seed=cfg.seed, min_items=cfg.get("min_items_ci", 5))
    for metric, kind in metric_kinds.items():
        for v, r in rewards.items():
            if (metric, v) not in per_item:
                continue
            feats = item_features(examples, agree, r, kind)
            curve = _by_item(per_item[(metric, v)], groups[metric])
            items = [i for i in curve if i in feats]
            if not items:
                continue
            pred = np.array([feats[i][0] for i in items])
            obs = np.array([curve[i][k2] - curve[i][k1] for i in items])
            mean, lo, hi = bootstrap_ci(np.stack([pred, obs, obs - pred]), **kw)
            drift.append({"metric": metric, "pm": v, "predicted": mean[0], "predicted_ci_low": lo[0],
                          "predicted_ci_high": hi[0], "observed": mean[1], "observed_ci_low": lo[1],
                          "observed_ci_high": hi[1], "gap": mean[2], "gap_ci_low": lo[2], "gap_ci_high": hi[2],
                          "n_items": len(items), "items_cov_pos": int(sum(feats[i][1] > 0 for i in items))})
            for name, keep in (("cov>0", lambda i: feats[i][1] > 0), ("cov<=0", lambda i: feats[i][1] <= 0)):
                sub = [i for i in items if keep(i)]
                if not sub:
                    continue
                m, lo, hi = bootstrap_ci(np.stack([curve[i] for i in sub], axis=1), **kw)
                for k, n in enumerate(ns):
                    split.append({"metric": metric, "pm": v, "group": name, "n": n, "mean": m[k], "ci_low": lo[k],
                                  "ci_high": hi[k], "n_items": len(sub)})
    return pd.DataFrame(drift), pd.DataFrame(split)


def format_drift(drift: pd.DataFrame) -> str:
    """The report's drift table: predicted against observed E_2 - E_1 per metric and variant."""
    if drift.empty:
        return "predicted drift: none (needs N = 1 and 2 in the grid and the agree feature of the run's metrics)"

    def ci(m, lo, hi):
        return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(lo) else f"{m:+.3f} (too few items for a CI)"

    lines = ["predicted drift E2 - E1 = 2 cov(agree, mid-rank) / (M - 1) against the observed, by item "
             "(bon/drift.py; README \"Choosing and reading selectors\"):",
             f"  {'metric':<22}{'pm':<18}{'predicted':<34}{'observed':<34}items (cov > 0)"]
    for r in drift.itertuples():
        lines.append(f"  {r.metric:<22}{r.pm:<18}{ci(r.predicted, r.predicted_ci_low, r.predicted_ci_high):<34}"
                     f"{ci(r.observed, r.observed_ci_low, r.observed_ci_high):<34}{r.n_items} ({r.items_cov_pos})")
    return "\n".join(lines)
