"""Typed configs (Hydra structured configs) and their validation.

Each dataclass is the schema of one ``conf/`` group; ``register_configs()`` stores them in Hydra's ConfigStore so a
mistyped key or value fails at composition. :func:`validate` then checks what types cannot (n <= M, known registry
names, existing paths) before any model loads, and raises :class:`ConfigError` with one line per problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class PolicyConfig:
    model: str = MISSING  # bundled:NAME, a local HF folder, or a hub id (needs network)


@dataclass
class SamplerConfig:
    backend: str = "auto"  # auto | vllm | hf
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    overlength: str = "skip"  # skip | truncate: prompts longer than the context (counted in the report)
    prompts_per_batch: int = 8  # hf: prompts per generate call (x m rows)
    device: str = "auto"  # hf: auto | cpu | cuda
    tensor_parallel_size: int = 1  # vllm
    gpu_memory_utilization: float = 0.9  # vllm
    dtype: str = "auto"  # vllm/hf; forced to float32 on CPU
    max_model_len: Optional[int] = None  # vllm


@dataclass
class PMConfig:
    name: str = "prompted"  # registry key: prompted | classifier
    model: str = MISSING
    template: Optional[str] = None  # prompted: judge wrapper override ({conversation}, {response})
    token_budget: int = 8192  # tokens per forward chunk (rows x padded length)
    max_length: Optional[int] = None  # context limit; default: the model's
    overflow: str = "truncate"  # truncate (cut the response, keep what follows) | error
    device: str = "auto"
    dtype: str = "auto"


@dataclass
class VariantConfig:
    """A PM variant is data: turns prepended to the dialog the PM scores, and/or a system prompt."""

    prefix: list[dict[str, str]] = field(default_factory=list)  # [{role: user|assistant, content: ...}]
    system: Optional[str] = None


@dataclass
class JudgeConfig:
    name: str = "lm"  # registry key
    model: str = MISSING
    answer_grading: str = "string"  # string (normalised matching with negation) | judge
    token_budget: int = 8192
    device: str = "auto"
    dtype: str = "auto"
    pairwise_check: int = 0  # comment pairs re-judged pairwise ("which is more positive?", both orders)


@dataclass
class DatasetConfig:
    paths: list[str] = field(default_factory=list)  # files or folders; empty = the bundled set
    kinds: list[str] = field(default_factory=lambda: ["answer", "feedback", "mimicry"])
    feedback_datasets: list[str] = field(default_factory=lambda: ["arguments"])
    max_items: Optional[int] = None  # per kind, the first items in file order (deterministic)


@dataclass
class WandbConfig:
    mode: str = "disabled"  # disabled | offline | online
    project: str = "bon"
    entity: Optional[str] = None
    group: Optional[str] = None  # default: the multirun sweep dir, so jobs of one sweep are grouped
    tags: list[str] = field(default_factory=list)


@dataclass
class Config:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pm: PMConfig = field(default_factory=PMConfig)
    # name -> VariantConfig fields; untyped here because OmegaConf cannot add a new key to a dict of structured
    # configs from the command line (+variants.mine={system: ...}); validate() checks each entry instead.
    variants: dict[str, Any] = field(default_factory=dict)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    metrics: list[str] = field(default_factory=lambda: ["reward", "answer_sycophancy", "feedback_sycophancy",
                                                        "mimicry_sycophancy"])
    m: int = 8  # pool size: samples per prompt
    ns: Optional[list[int]] = None  # best-of-N grid; default 1, 2, 4, ..., m (and m)
    seed: int = 0
    store: str = "~/.cache/bon/store"  # content-addressed stage artifacts, shared across runs
    run_dir: Optional[str] = None  # default: Hydra's output dir
    chunk_prompts: int = 16  # prompts per resumable chunk
    n_boot: int = 1000
    ci: float = 0.95
    n_example_picks: int = 3  # prompts per metric shown in the W&B table of picks
    progress: bool = True


def register_configs() -> None:
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for group, node in [("policy", PolicyConfig), ("sampler", SamplerConfig), ("pm", PMConfig),
                        ("judge", JudgeConfig), ("dataset", DatasetConfig)]:
        cs.store(group=group, name=f"base_{group}", node=node)


class ConfigError(ValueError):
    pass


def validate(cfg: Any) -> list[int]:
    """Check a composed config before any model loads. Returns the resolved ns; raises ConfigError listing problems."""
    from bon.data import KINDS
    from bon.estimator import default_ns
    from bon.metrics import METRICS
    from bon.metrics.judges import JUDGES
    from bon.registry import UnknownNameError
    from bon.sampling import SAMPLERS
    from bon.scoring import PMS

    errs: list[str] = []
    if not isinstance(cfg.m, int) or cfg.m < 1:
        errs.append(f"m must be a positive integer (samples per prompt), got {cfg.m!r}")
    ns = list(cfg.ns) if cfg.ns is not None else (default_ns(cfg.m) if isinstance(cfg.m, int) and cfg.m >= 1 else [])
    for n in ns:
        if not isinstance(n, int) or n < 1 or (isinstance(cfg.m, int) and n > cfg.m):
            errs.append(f"ns: every N must be an integer in 1..m={cfg.m}, got {n!r}")
    if cfg.ns is not None and len(set(ns)) != len(ns):
        errs.append(f"ns has repeated values: {list(cfg.ns)}")
    if cfg.sampler.backend != "auto" and cfg.sampler.backend not in SAMPLERS:
        errs.append(f"sampler.backend: unknown backend {cfg.sampler.backend!r}; "
                    f"expected auto, {', '.join(SAMPLERS.names())}")
    if cfg.sampler.overlength not in ("skip", "truncate"):
        errs.append(f"sampler.overlength must be skip or truncate, got {cfg.sampler.overlength!r}")
    if not (0 < cfg.sampler.top_p <= 1) or cfg.sampler.temperature < 0:
        errs.append(f"sampler: need temperature >= 0 and 0 < top_p <= 1, got {cfg.sampler.temperature}, {cfg.sampler.top_p}")
    for what, reg, name in [("pm.name", PMS, cfg.pm.name), ("judge.name", JUDGES, cfg.judge.name)] + [("metrics", METRICS, n) for n in cfg.metrics]:
        try:
            reg.get(name)
        except UnknownNameError as e:
            errs.append(f"{what}: {e}")
    if cfg.judge.answer_grading not in ("string", "judge"):
        errs.append(f"judge.answer_grading must be string or judge, got {cfg.judge.answer_grading!r}")
    if not cfg.variants:
        errs.append("variants: at least one PM variant is needed (e.g. variants=paper)")
    for vname, v in cfg.variants.items():
        if v is None:
            v = {}
        extra = set(v) - {"prefix", "system"}
        if extra:
            errs.append(f"variants.{vname}: unknown field(s) {sorted(extra)}; a variant has prefix (turns) and system")
            continue
        if v.get("system") is not None and not isinstance(v.get("system"), str):
            errs.append(f"variants.{vname}.system must be a string, got {v.get('system')!r}")
        for i, turn in enumerate(v.get("prefix") or []):
            if turn.get("role") not in ("user", "assistant", "system") or not isinstance(turn.get("content"), str):
                errs.append(f"variants.{vname}.prefix[{i}] must be {{role: user|assistant|system, content: str}}, got {dict(turn)}")
    for kind in cfg.dataset.kinds:
        if kind not in KINDS:
            errs.append(f"dataset.kinds: unknown kind {kind!r}; expected some of {list(KINDS)}")
    for p in cfg.dataset.paths:
        if not Path(p).expanduser().exists():
            errs.append(f"dataset.paths: {p} does not exist")
    if cfg.wandb.mode not in ("disabled", "offline", "online"):
        errs.append(f"wandb.mode must be disabled, offline or online, got {cfg.wandb.mode!r}")
    for ref_name, ref in [("policy.model", cfg.policy.model), ("pm.model", cfg.pm.model), ("judge.model", cfg.judge.model)]:
        if not ref.startswith("bundled:") and (ref.startswith((".", "/", "~")) and not Path(ref).expanduser().exists()):
            errs.append(f"{ref_name}: model folder {ref} does not exist")
    if cfg.chunk_prompts < 1:
        errs.append(f"chunk_prompts must be >= 1, got {cfg.chunk_prompts}")
    if errs:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errs))
    return ns
