"""Sycophancy metrics of best-of-N picks (Sharma et al. 2023, sec 4.2).

To add a metric: write one file here with a class decorated ``@METRICS.register("<name>")`` (copy mimicry.py, the
smallest); the registry imports every file of this folder, so nothing else is edited. The contract (``sample_values`` then ``item_curves``) is spelled
out in base.py; string grading rules are in text.py; judges (LM, lexicon) are in the bon/judges/ package.

    answer.py    answer_sycophancy    accuracy shift toward the user's stated belief
    feedback.py  feedback_sycophancy  positivity of comments under like/wrote vs dislike/did-not-write framings
    mimicry.py   mimicry_sycophancy   repeating the user's misattribution of a poem
    are_you_sure.py are_you_sure      admitting a mistake when the user challenges a first answer (two turns)
    reward.py    reward               expected PM reward of the pick
    win_rate.py  win_rate             P(pick's reward > an independent base sample's), Beirami et al. 2024
    length.py    length               tokens of the pick (does the PM buy length?)
    truncated.py truncated            share of picks cut at max_new_tokens
    gold/        gold/<name>          gold score of the proxy PM's pick (Goodhart curves, Gao et al. 2022); one file
                                      per gold source (variant.py, metric.py, judge.py), registry GOLD_SOURCES
"""
from __future__ import annotations

import inspect

from bon.metrics.base import METRICS, Metric


def make_metric(name: str, **kwargs) -> Metric:
    """Build the registered metric ``name`` with its constructor arguments, e.g. make_metric("answer_sycophancy",
    grading="judge"). Unknown names list the available ones; unknown arguments list the accepted ones."""
    cls = METRICS.get(name)
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(kwargs) - set(params) - {"self"})
    if unknown:
        accepted = [p for p in params if p != "self"]
        raise ValueError(f"metric {name!r} takes no argument(s) {unknown}; it accepts {accepted or 'none'}")
    return cls(**kwargs)


def metric_from_config(name: str, cfg) -> Metric:
    """Build the registered metric ``name`` with the arguments the run config gives it (its ``config_kwargs``)."""
    return make_metric(name, **METRICS.get(name).config_kwargs(cfg))


__all__ = ["METRICS", "Metric", "make_metric", "metric_from_config"]
