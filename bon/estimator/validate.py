"""Argument checks shared by the estimator's functions: each raises ValueError naming the argument, the expected
form and the value received."""
from __future__ import annotations

import numpy as np
def check_int(name: str, x, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= {lo}, got {x!r} ({type(x).__name__})")
    if x < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {x}")
    return int(x)


def check_ns(ns, m: int) -> list[int]:
    if isinstance(ns, (int, np.integer)) and not isinstance(ns, bool):
        ns = [ns]
    try:
        ns = list(ns)
    except TypeError:
        raise ValueError(f"ns must be an int or a sequence of ints, got {ns!r}") from None
    if not ns:
        raise ValueError(f"ns is empty; pass at least one n in 1..{m}, e.g. default_ns({m})")
    for n in ns:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ValueError(f"each n in ns must be an int, got {n!r} ({type(n).__name__})")
        if not 1 <= n <= m:
            raise ValueError(f"each n in ns must be in 1..{m} (the pool size M), got n={n}")
    return [int(n) for n in ns]


def check_array(name: str, x) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array, got {type(x).__name__}: {e}") from None


def check_finite(name: str, x: np.ndarray, what: str = "index") -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; got {x[where]} at {what} {where} ({int(bad.sum())} non-finite in total)")


def check_rewards(rewards) -> np.ndarray:
    rewards = check_array("rewards", rewards)
    if rewards.ndim != 2 or rewards.shape[1] == 0:
        raise ValueError(f"rewards must have shape (P, M) with M >= 1 samples per prompt, got {rewards.shape}")
    check_finite("rewards", rewards, what="(prompt, sample)")
    return rewards


def check_pool(name: str, values, rewards) -> tuple[np.ndarray, np.ndarray]:
    v, r = check_array(f"values_{name}", values), check_array(f"rewards_{name}", rewards)
    if v.ndim != 1 or v.shape != r.shape or v.size == 0:
        raise ValueError(f"values_{name} and rewards_{name} must be 1-D of the same length M >= 1, got {v.shape} and {r.shape}")
    check_finite(f"values_{name}", v, what="sample")
    check_finite(f"rewards_{name}", r, what="sample")
    return v, r


def check_dist(name: str, values, probs) -> tuple[np.ndarray, np.ndarray]:
    v, p = check_array(f"values_{name}", values), check_array(f"probs_{name}", probs)
    if v.ndim != 1 or v.shape != p.shape or v.size == 0:
        raise ValueError(f"values_{name} and probs_{name} must be 1-D of the same length >= 1, got {v.shape} and {p.shape}")
    check_finite(f"values_{name}", v, what="index")
    check_finite(f"probs_{name}", p, what="index")
    if (p < 0).any() or abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"probs_{name} must be non-negative and sum to 1, got min {p.min()} and sum {p.sum()}")
    return v, p
