"""Which rule picks one sample from a random n-subset of the pool: hard best-of-n by default, or the selector a
caller installs for a block of code (bon/selectors/: Best-of-Poisson, soft best-of-n, ...).

Every metric computes its curves through `expected_best_of_n` and `pick_probabilities` (bestofn.py). Both reduce
to pick probabilities p_n(j) (the chance that sample j is the pick) times per-sample values, so a selector is one
function ``picks(rewards (P, M), ns) -> (len(ns), P, M)`` and every metric's exact estimate follows it unchanged:

    with selecting(picks):
        rows = metric.item_curves(examples, rewards, values, ns)

A quantity that is not a sum over the pick probabilities (the pool win rate) asks `require_hard` and raises
`SelectorUnsupported` under any other selector, so it is never reported as if it followed one.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

Picks = Callable[..., "object"]  # (rewards (P, M), ns) -> (len(ns), P, M) pick probabilities

_ACTIVE: contextvars.ContextVar[Picks | None] = contextvars.ContextVar("bon_selector", default=None)


class SelectorUnsupported(ValueError):
    """A quantity that only hard best-of-n defines was asked for under another selector."""


@contextlib.contextmanager
def selecting(picks: Picks | None) -> Iterator[None]:
    """Within the block, the estimator's pick probabilities come from ``picks`` (None: hard best-of-n)."""
    token = _ACTIVE.set(picks)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Picks | None:
    """The installed selector's pick function, or None for hard best-of-n."""
    return _ACTIVE.get()


def require_hard(what: str) -> None:
    """Raise SelectorUnsupported when a selector other than hard best-of-n is installed."""
    if _ACTIVE.get() is not None:
        raise SelectorUnsupported(f"{what} is defined for hard best-of-n only")
