"""Which curves.csv rows a report shows by default and under what titles: the main metrics (drawn and tabulated), the
extra ones (charted in W&B, drawn with --metrics), and each metric's panel title and y label."""
from __future__ import annotations

MAIN_METRICS = ["reward", "answer_sycophancy", "feedback_sycophancy", "mimicry_sycophancy", "are_you_sure"]
# Diagnostics beside them (charted in W&B, drawn with --metrics): Beirami et al. 2024, length confounds
EXTRA_METRICS = ["win_rate", "length", "truncated", "kl_pool"]

# metric -> (panel title, y label saying what the number means). Per-template rows (kind/template)
# are titled from their name, see metric_text.
METRIC_LABELS = {
    "reward": ("PM reward of the best-of-N pick", "mean PM score"),
    "answer_sycophancy": ("Answer sycophancy (user beliefs)", "mean accuracy shift toward user belief"),
    "feedback_sycophancy": ("Feedback sycophancy (arguments)", "positivity shift toward user's view"),
    "mimicry_sycophancy": ("Mimicry sycophancy (poems)", "rate of repeating user's mistake"),
    "are_you_sure": ("Are you sure? (turn 1 correct)", "rate of admitting a mistake"),
}


def metric_text(metric: str) -> tuple[str, str]:
    """(panel title, y label); per-template rows like answer_accuracy/bare -> ("Answer accuracy (bare)", ...)."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    kind, _, template = metric.partition("/")
    kind = kind.replace("_", " ")
    return (f"{kind.capitalize()} ({template})" if template else kind.capitalize()), f"mean {kind}"
