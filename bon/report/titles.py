"""Which curves.csv rows a report shows by default, in what order and under what titles, read from the metric
classes (``title``, ``ylabel``, ``main``, ``order`` in bon/metrics/): a new metric needs only its own file.

Main metrics are drawn in curves.png and tabled in report.txt; extra ones are charted in W&B and drawn on request
(``plot_curves(metrics=...)``, scripts/plot_curves.py --metric). The registry is read at each call, so a metric
registered after this module was imported shows up too.
"""
from __future__ import annotations

from bon.metrics import METRICS

KL_POOL = "kl_pool"  # the curves stage's own row (bon/curve_stats.py), not a metric: an extra after the metrics' ones


def _ranked(main: bool) -> list[str]:
    """Registered metric names with the given main flag, by (order, name)."""
    names = [n for n in METRICS.names() if METRICS.get(n).main == main]
    return sorted(names, key=lambda n: (METRICS.get(n).order, n))


def main_metrics() -> list[str]:
    """The main metrics, in report order (e.g. reward, answer_sycophancy, feedback_sycophancy, ...)."""
    return _ranked(True)


def extra_metrics() -> list[str]:
    """The diagnostics charted beside the main metrics (win_rate, length, truncated, ...), then kl_pool."""
    return _ranked(False) + [KL_POOL]


def metric_text(row: str) -> tuple[str, str]:
    """(panel title, y label) of a curves.csv row: the metric's own ``title`` and ``ylabel`` where it sets them;
    otherwise made from the name, e.g. answer_accuracy/bare -> ("Answer accuracy (bare)", "mean answer accuracy")."""
    kind, _, template = row.partition("/")
    cls = METRICS.get(row) if row in METRICS else None
    if cls is not None and cls.title:
        return cls.title, cls.ylabel or f"mean {kind.replace('_', ' ')}"
    kind = kind.replace("_", " ")
    return (f"{kind.capitalize()} ({template})" if template else kind.capitalize()), f"mean {kind}"


def beside(metric: str) -> list[str]:
    """The rows a metric's report block is followed by (its ``beside``: answer_sycophancy's per-template accuracies,
    so a floor effect is visible next to the shift); none for other rows."""
    cls = METRICS.get(metric) if metric in METRICS else None
    return list(getattr(cls, "beside", ()) or ())
