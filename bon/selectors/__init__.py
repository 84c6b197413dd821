"""Selectors: rules that pick one reply from the same pool of M samples, so one pool answers every mitigation.

Hard best-of-N (bon) is one rule; Best-of-Poisson, soft best-of-N and an agreement penalty are others. Each is one
file here with a class decorated ``@SELECTORS.register("<name>")``; the registry imports every file of this folder,
so nothing else is edited (as for metrics). Config: ``selectors: [bon, ...]`` and the ``selector`` node of settings.

A selector works at the curves stage on stored samples and scores only (no sampling, no scoring). It says how each
of its settings picks, in one of two ways the curves stage (bon/stages/curves.py) applies around every metric:

- ``picks(setting, s)``: a function (rewards (P, M), ns) -> (len(ns), P, M) of pick probabilities, installed with
  `bon.estimator.selection.selecting`, so every metric's exact estimate follows it (None: hard best-of-N);
- ``rewards(r, setting, s, agree)``: the rewards hard best-of-N then ranks (the penalty), identity by default.

``s`` is the variant's within-prompt reward SD pooled over the run (bon.bias.pooled_within_sd), the unit of every
setting. A selector carries its identity (``name``, ``version``), whether its numbers are ``exact`` or Monte
Carlo, its settings from the config and its config checks, like a metric.

    bon.py      hard best-of-N (today's estimator, ties broken uniformly)
    poisson.py  Best-of-Poisson (Khalaf et al. 2025): n = 1 + Poisson(mu), mu = N - 1 on the N grid
    soft.py     soft best-of-N (Verdun et al. 2025): pick i of N draws with probability prop. to exp(r_i / (lam s))
    penalty.py  agreement penalty (Shapira et al. 2026): hard best-of-N on r - lam * s * A
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from bon.registry import Registry

SELECTORS: Registry = Registry("selector", "bon.selectors")


class Selector:
    """Defaults for a selector with one setting that picks by hard best-of-N; subclasses override."""

    name: str = ""
    version: int = 1
    exact: bool = True  # False: Monte Carlo, with a stated, seeded error
    title: str = ""
    needs_agree: bool = False  # reads the per-sample agreement feature A (bon.selectors.agree)

    @classmethod
    def config_errors(cls, cfg) -> list[str]:
        return []

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg

    def settings(self) -> list[float | None]:
        """One curve family per setting (None: the selector has no setting)."""
        return [None]

    def label(self, setting: float | None) -> str:
        """The value of curves.csv's ``selector`` column for one setting: ``<name>`` or ``<name>:<key>=<value>``."""
        return self.name if setting is None else f"{self.name}:lambda={setting:g}"

    def picks(self, setting: float | None, s: float) -> Callable[..., np.ndarray] | None:
        return None

    def rewards(self, r: np.ndarray, setting: float | None, s: float, agree: np.ndarray | None) -> np.ndarray:
        return r

    def replicate_picks(self, setting: float | None, s: float, m: int, ns) -> list:
        """Monte Carlo selectors: pick functions with further seeds, whose spread states the rows' error (the
        curves report the mean over them and the main pick function); [] when the numbers are exact."""
        return []

    def facts(self) -> dict:
        """What the run should record about this selector (tails, Monte Carlo errors) after its curves ran."""
        return {}


def make_selectors(cfg) -> list[Selector]:
    """The run's selectors, in the config's order, built from the config."""
    return [SELECTORS.get(name)(cfg) for name in cfg.get("selectors", ["bon"])]


def config_errors(cfg) -> list[str]:
    """Unknown selector names and each listed selector's own config problems, one line each."""
    names = cfg.get("selectors", ["bon"])
    errs = []
    if not names:
        errs.append("selectors: list at least one selector (default [bon])")
    for name in names:
        if name not in SELECTORS:
            errs.append(f"selectors: unknown selector {name!r}.{SELECTORS.close_names(str(name))} "
                        f"Available: {', '.join(SELECTORS.names())}")
    if names and "bon" not in names:
        errs.append(f"selectors: include bon (the report's tables, curves.png and Goodhart fits are hard "
                    f"best-of-N's), got {list(names)}")
    if len(set(names)) != len(list(names)):
        errs.append(f"selectors: each selector once, got {list(names)}")
    for name in dict.fromkeys(n for n in names if n in SELECTORS):
        errs += SELECTORS.get(name).config_errors(cfg)
    return errs


__all__ = ["SELECTORS", "Selector", "config_errors", "make_selectors"]
