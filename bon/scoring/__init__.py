"""Preference models (PMs): score M sampled responses per prompt, with prefix reuse across them.

``make_pm("prompted")`` is the CPU default (the bundled SmolLM2 asked yes/no); ``make_pm("classifier", model=...)``
is a sequence-classification reward model (Skywork-Reward-V2 on GPU). Both serve every :class:`Variant`.
"""
from bon.scoring.base import NON_SYCOPHANTIC, PMS, STANDARD, PreferenceModel, Variant, apply_variant  # noqa: F401
from bon.scoring.engine import Engine, Group, encode_group  # noqa: F401
from bon.scoring.prompted import LogOddsScorer  # noqa: F401  (the LM judge reads yes/no log-odds with it)


def pm_key(name: str, backend: str = "hf") -> str:
    """Registry key of the PM for ``pm.name`` and ``pm.backend``: the name itself for hf, ``<name>_<backend>`` for a
    PM served by another backend (``classifier_vllm``)."""
    return name if backend == "hf" else f"{name}_{backend}"


def pm_backends() -> dict[str, list[str]]:
    """pm.name -> the pm.backend values registered for it, e.g. {"classifier": ["hf", "vllm"], "prompted": ["hf"]}."""
    out: dict[str, list[str]] = {}
    for key, cls in PMS.items():
        name = key if cls.backend == "hf" else key.removesuffix(f"_{cls.backend}")
        out.setdefault(name, []).append(cls.backend)
    return {name: sorted(b, key=lambda b: (b != "hf", b)) for name, b in out.items()}


def make_pm(name: str, **kwargs) -> PreferenceModel:
    """Build a registered PM by name (``"prompted"``, ``"classifier"``); kwargs go to its constructor."""
    return PMS.get(name)(**kwargs)


def pm_from_config(p) -> PreferenceModel:
    """Build the PM the ``pm`` config node names (``pm.name`` served by ``pm.backend``), as a run scores with it."""
    opts = {"template": p.template, "max_length": p.max_length}
    return make_pm(pm_key(p.name, p.backend), model=p.model, token_budget=p.token_budget, overflow=p.overflow,
                   device=p.device, dtype=p.dtype, **{k: v for k, v in opts.items() if v is not None})
