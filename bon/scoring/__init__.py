"""Preference models (PMs): score M sampled responses per prompt, with prefix reuse across them.

``make_pm("prompted")`` is the CPU default (the bundled SmolLM2 asked yes/no); ``make_pm("classifier", model=...)``
is a sequence-classification reward model (Skywork-Reward-V2 on GPU). Both serve every :class:`Variant`.
"""
from bon.scoring.base import NON_SYCOPHANTIC, PMS, STANDARD, PreferenceModel, Variant, apply_variant  # noqa: F401
from bon.scoring.engine import Engine, Group, encode_group  # noqa: F401
from bon.scoring.prompted import LogOddsScorer  # noqa: F401  (the LM judge reads yes/no log-odds with it)


def make_pm(name: str, **kwargs) -> PreferenceModel:
    """Build a registered PM by name (``"prompted"``, ``"classifier"``); kwargs go to its constructor."""
    return PMS.get(name)(**kwargs)
