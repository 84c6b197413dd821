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
    backend: str = "hf"  # hf | vllm (classifier only: vLLM's pooling runner, raw logits, prefix caching)


@dataclass
class VariantConfig:
    """A PM variant is data: turns prepended to the dialog the PM scores, and/or a system prompt."""

    prefix: list[dict[str, str]] = field(default_factory=list)  # [{role: user|assistant, content: ...}]
    system: Optional[str] = None
    bias: dict[str, float] = field(default_factory=dict)  # planted weights {feature: w} (bon/bias.py); empty: none


@dataclass
class JudgeConfig:
    name: str = "lm"  # LM judge (registry key) for tasks that need a language model: correctness, positivity=lm
    model: Optional[str] = None  # the LM judge's model; None = no LM judge configured
    positivity: str = "lexicon"  # judge of comment positivity (registry key): lexicon (VADER, offline) | lm
    feedback: str = "scalar"  # scalar (one value per comment) | pairwise (the paper's question, M x M pairs)
    answer_grading: str = "auto"  # string | judge | reference | auto (string for short, reference for sentence answers)
    token_budget: int = 8192
    device: str = "auto"
    dtype: str = "auto"


@dataclass
class DatasetConfig:
    # files or folders; [] = the bundled set (dataset=bundled). MISSING here, not [], so that a group's `paths: ???`
    # (dataset=sycophancy_eval) stays unset and fails validation: OmegaConf never lets ??? override a default.
    paths: list[str] = MISSING
    kinds: list[str] = field(default_factory=lambda: ["answer", "feedback", "mimicry", "are_you_sure"])
    feedback_datasets: list[str] = field(default_factory=lambda: ["arguments"])
    max_items: Optional[int] = None  # per kind, the first items in file order (deterministic)
    # choosing items (bon/data/choose.py): a seeded sample of this many items per kind, stratified by base.dataset
    # and base.category (replaces max_items when set); where: base field -> value or [values] an item must have
    sample: Optional[int] = None
    seed: int = 0
    where: dict[str, Any] = field(default_factory=dict)


@dataclass
class AreYouSureConfig:
    """The two-turn "Are you sure?" task (bon/data/are_you_sure.py, bon/stages/first_turn.py, metric are_you_sure)."""

    # sample: one seeded policy sample per item (the paper's protocol); best_of_n: turn 1 is each variant's best-of-N
    # pick among M turn-1 samples, every one of them challenged (M x M turn-2 samples per item)
    first_turn: str = "sample"
    admits: str = "string"  # who decides that a reply admits a mistake: string (bon/judges/admits.py) | lm (judge.model)


@dataclass
class ShardConfig:
    """Run one slice of the prompts: item i (in selection order) goes to shard i % count; `python -m bon.merge`
    combines the shard run dirs. A whole item (every framing of one question or text) stays in one shard."""

    index: int = 0  # this shard, 0..count-1 (e.g. ${oc.env:SLURM_ARRAY_TASK_ID})
    count: int = 1  # 1 = unsharded


@dataclass
class GoldConfig:
    """The gold score of a Goodhart curve (Gao et al. 2022): the run writes gold/<name> of each proxy variant's pick.

    A separate gold PM model is not supported yet: use another variant of the same PM, a metric's per-sample value
    or a judge task."""

    source: Optional[str] = None  # a GOLD_SOURCES key (bon/metrics/gold/): variant | metric | judge; None = no gold
    ref: Optional[str] = None  # the variant name, the metric (answer_sycophancy = correctness) or the judge task
    name: Optional[str] = None  # row gold/<name>; default: ref (answer_sycophancy -> correctness)


@dataclass
class PlotConfig:
    x: str = "kl"  # KL axis of curves.png: kl (the bound log N - (N-1)/N) | kl_pool (measured on the pool)


from bon.config_groups import ExtrapolateConfig, SelectorConfig  # noqa: E402  (issue 26, 29)


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
    shard: ShardConfig = field(default_factory=ShardConfig)
    gold: GoldConfig = field(default_factory=GoldConfig)
    plot: PlotConfig = field(default_factory=PlotConfig)
    extrapolate: ExtrapolateConfig = field(default_factory=ExtrapolateConfig)
    are_you_sure: AreYouSureConfig = field(default_factory=AreYouSureConfig)
    selectors: list[str] = field(default_factory=lambda: ["bon"])  # bon/selectors/: bon, poisson, soft, penalty
    selector: SelectorConfig = field(default_factory=SelectorConfig)
    # modules of the user's own to import before validation: their decorators register metrics, judges, selectors,
    # samplers or PMs (bon/registry.py; installed plugins register by entry point without this key)
    plugins: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=lambda: ["reward", "answer_sycophancy", "feedback_sycophancy",
                                                        "mimicry_sycophancy", "are_you_sure", "win_rate", "length",
                                                        "truncated"])
    m: int = 8  # pool size: samples per prompt
    ns: Optional[list[int]] = None  # best-of-N grid; default 1, 2, 4, ..., m (and m)
    seed: int = 0
    store: str = "~/.cache/bon/store"  # content-addressed stage artifacts, shared across runs
    # where the instrument checks (PM probe, LM-judge checks) are cached; default <store>. They depend on the PM and
    # judge only, not on the samples, so several stores (one per test, per cluster job) can share one.
    check_store: Optional[str] = "${oc.env:BON_CHECK_STORE,null}"
    run_dir: Optional[str] = None  # default: Hydra's output dir
    chunk_prompts: int = 16  # prompts per resumable chunk
    n_boot: int = 1000
    ci: float = 0.95
    # fewest independent items (item_id, all templates together) for a CI: below it curves.csv / differences.csv leave
    # the CI empty and the report prints the point estimate only, "n = k items: too few for a CI"
    min_items_ci: int = 5
    n_example_picks: int = 3  # prompts per metric shown in the W&B table of picks
    progress: bool = True
    dry_run: bool = False  # validate, count prompts/tokens/judge calls with the tokenizers only, print the cost; no run
    verbose: bool = False  # show third-party INFO logs and warnings on the console (run.log always has them)


# conf/ at the repository root, shipped as this package (pyproject.toml maps it): Hydra composes from it by module
# name (pkg://bon.conf), so a checkout installed editable and an installed wheel load the same files the same way.
CONF_PACKAGE = "bon.conf"


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
    from bon.judges import JUDGES
    from bon.registry import UnknownNameError
    from bon.sampling import SAMPLERS
    from bon.sampling.base import OVERLENGTH
    from bon.scoring import PMS, pm_backends, pm_key

    missing = _missing_values(cfg)
    if missing:  # every later check would stop at the first unset value with OmegaConf's MissingMandatoryValue
        raise ConfigError("invalid config:\n  " + "\n  ".join(missing))
    errs: list[str] = []
    from bon.registry import PluginError, load_plugins

    try:
        load_plugins(cfg.get("plugins") or [])
    except PluginError as e:
        errs.append(str(e))
    if not isinstance(cfg.m, int) or cfg.m < 1:
        errs.append(f"m must be a positive integer (samples per prompt), got {cfg.m!r}")
    ns = list(cfg.ns) if cfg.ns is not None else (default_ns(cfg.m) if isinstance(cfg.m, int) and cfg.m >= 1 else [])
    for n in ns:
        if not isinstance(n, int) or n < 1 or (isinstance(cfg.m, int) and n > cfg.m):
            errs.append(f"ns: every N must be an integer in 1..m={cfg.m}, got {n!r}")
    if cfg.ns is not None and not ns:
        errs.append("ns: the best-of-N grid is empty; leave ns unset for 1, 2, 4, ..., m")
    if cfg.ns is not None and len(set(ns)) != len(ns):
        errs.append(f"ns has repeated values: {list(cfg.ns)}")
    if cfg.sampler.backend != "auto" and cfg.sampler.backend not in SAMPLERS:
        errs.append(f"sampler.backend: unknown backend {cfg.sampler.backend!r}; "
                    f"expected auto, {', '.join(SAMPLERS.names())}")
    if cfg.sampler.overlength not in OVERLENGTH:
        errs.append(f"sampler.overlength must be {' or '.join(OVERLENGTH)}, got {cfg.sampler.overlength!r}")
    if not (0 < cfg.sampler.top_p <= 1) or cfg.sampler.temperature < 0:
        errs.append(f"sampler: need temperature >= 0 and 0 < top_p <= 1, got {cfg.sampler.temperature}, {cfg.sampler.top_p}")
    for what, reg, name in [("pm.name", PMS, cfg.pm.name), ("judge.name", JUDGES, cfg.judge.name),
                                              ("judge.positivity", JUDGES, cfg.judge.positivity)] + [("metrics", METRICS, n) for n in cfg.metrics]:
        try:
            reg.get(name)
        except (UnknownNameError, PluginError) as e:
            errs.append(f"{what}: {e}")
    for _, metric in METRICS.items():  # the config values a metric owns (judge.answer_grading, judge.feedback)
        errs += metric.config_errors(cfg)
    if cfg.judge.positivity in JUDGES and "positivity" not in JUDGES.get(cfg.judge.positivity).tasks:
        errs.append(f"judge.positivity: judge {cfg.judge.positivity!r} cannot rate positivity")
    if not cfg.variants:
        errs.append("variants: at least one PM variant is needed (e.g. variants=paper)")
    for vname, v in cfg.variants.items():
        if v is None:
            v = {}
        extra = set(v) - {"prefix", "system", "bias"}
        if extra:
            errs.append(f"variants.{vname}: unknown field(s) {sorted(extra)}; a variant has prefix (turns), system "
                        f"and bias")
            continue
        from bon.bias import config_errors as bias_errors  # a planted bias: {feature: w}

        errs += bias_errors(cfg, vname, v.get("bias"))
        if v.get("system") is not None and not isinstance(v.get("system"), str):
            errs.append(f"variants.{vname}.system must be a string, got {v.get('system')!r}")
        for i, turn in enumerate(v.get("prefix") or []):
            if not hasattr(turn, "get") or turn.get("role") not in ("user", "assistant") \
                    or not isinstance(turn.get("content"), str):
                hint = "; a system prompt goes in the variant's `system:` field" \
                    if hasattr(turn, "get") and turn.get("role") == "system" else ""
                errs.append(f"variants.{vname}.prefix[{i}] must be {{role: user|assistant, content: str}}, "
                            f"got {dict(turn) if hasattr(turn, 'items') else turn!r}{hint}")
    for kind in cfg.dataset.kinds:
        if kind not in KINDS:
            errs.append(f"dataset.kinds: unknown kind {kind!r}; expected some of {list(KINDS)}")
    from bon.data.choose import config_errors as choice_errors

    errs += choice_errors(cfg.dataset)
    for p in cfg.dataset.paths:
        if not Path(p).expanduser().exists():
            where = "" if Path(p).expanduser().is_absolute() else f" (relative to {Path.cwd()}, where bon runs)"
            errs.append(f"dataset.paths: {p} does not exist{where}; pass dataset.paths=[PATH] (a file or folder "
                        f"of SycophancyEval JSON Lines)")
    if cfg.wandb.mode not in ("disabled", "offline", "online"):
        errs.append(f"wandb.mode must be disabled, offline or online, got {cfg.wandb.mode!r}")
    for ref_name, ref in [("policy.model", cfg.policy.model), ("pm.model", cfg.pm.model), ("judge.model", cfg.judge.model)]:
        problem = _model_ref_problem(ref) if ref else None
        if problem:
            errs.append(f"{ref_name}: {problem}")
    if cfg.wandb.mode == "online" and not _wandb_key_found():
        errs.append("wandb.mode=online needs a W&B API key: set WANDB_API_KEY or run `wandb login`; "
                    "or log locally with wandb.mode=offline and upload later with `wandb sync`")
    for what, p in [("store", cfg.store), ("run_dir", cfg.run_dir)]:
        problem = _unwritable(p) if p else None
        if problem:
            errs.append(f"{what}: cannot write {p}: {problem}")
    min_items = cfg.get("min_items_ci", 5)  # absent from the run.json of shards made before it existed
    if isinstance(min_items, bool) or not isinstance(min_items, int) or min_items < 1:
        errs.append(f"min_items_ci must be an integer >= 1 (fewest items for a CI), got {min_items!r}")
    if cfg.chunk_prompts < 1:
        errs.append(f"chunk_prompts must be >= 1, got {cfg.chunk_prompts}")
    if cfg.pm.name in PMS and pm_key(cfg.pm.name, cfg.pm.backend) not in PMS:  # classifier_vllm for backend vllm
        others = [f"{b} with pm.name={name}" for name, bs in pm_backends().items() for b in bs if b != "hf"]
        errs.append(f"pm.backend must be {', or '.join(['hf', *others])}; got backend={cfg.pm.backend!r} "
                    f"for pm.name={cfg.pm.name!r}")
    if not (isinstance(cfg.shard.count, int) and cfg.shard.count >= 1 and 0 <= cfg.shard.index < cfg.shard.count):
        errs.append(f"shard: need count >= 1 and 0 <= index < count, got index={cfg.shard.index}, "
                    f"count={cfg.shard.count}")
    errs += _gold_plot_errors(cfg)
    errs += _extrapolate_errors(cfg)
    if cfg.get("selector") is not None:  # absent from the run.json of runs made before selectors
        from bon.selectors import config_errors as selector_errors

        errs += selector_errors(cfg)
    errs += _are_you_sure_errors(cfg)
    if errs:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errs))
    return ns


def _are_you_sure_errors(cfg) -> list[str]:
    """Problems with the ``are_you_sure`` config node (for bon.config.validate)."""
    node = cfg.get("are_you_sure")
    if node is None:
        return []
    from bon.data.are_you_sure import FIRST_TURNS

    errs = []
    if node.first_turn not in FIRST_TURNS:
        errs.append(f"are_you_sure.first_turn must be one of {list(FIRST_TURNS)}, got {node.first_turn!r}")
    elif node.first_turn == "best_of_n":
        from bon.bias import run_biases

        for v, b in run_biases(cfg).items():
            if b.get("length"):  # the one planted feature that is nonzero on are_you_sure replies
                errs.append(f"variants.{v}.bias.length={b['length']} cannot be combined with "
                            f"are_you_sure.first_turn=best_of_n: the bias is planted on the turn-2 rewards where the "
                            f"curves are computed, and turn 1 is picked by the stored rewards; use first_turn=sample "
                            f"or drop the length bias")
    from bon.metrics.are_you_sure import ADMITS

    if node.admits not in ADMITS:
        errs.append(f"are_you_sure.admits must be {' or '.join(ADMITS)}, got {node.admits!r}")
    return errs


# Hints for values a config group leaves as ??? (MISSING): what to add on the command line.
_MISSING_HINTS = {
    "dataset.paths": "dataset=sycophancy_eval needs the data files: add dataset.paths=[DIR] (the datasets/ folder "
                     "of github.com/meg-tong/sycophancy-eval), or use dataset=bundled",
    "policy.model": "add policy.model=/path/to/model (a local Hugging Face folder), a hub id, or "
                    "bundled:smollm2-135m-instruct",
    "pm.model": "add pm.model=/path/to/reward-model (a local Hugging Face folder) or a hub id",
}


def _missing_values(cfg: Any) -> list[str]:
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(cfg, DictConfig):
        return []
    return [f"{k}: required value is not set; {_MISSING_HINTS.get(k, f'add {k}=...')}"
            for k in sorted(OmegaConf.missing_keys(cfg))]


def _model_ref_problem(ref: str) -> Optional[str]:
    """Why a model reference cannot load (without loading it), as ``bon.models.resolve`` would find; None if fine."""
    from bon.models import BUNDLED, ModelError, _bundled_gguf

    if ref.startswith("bundled:"):
        name = ref.split(":", 1)[1]
        if name not in BUNDLED:
            return (f"unknown bundled model {ref!r}; available: "
                    f"{', '.join('bundled:' + n for n in sorted(BUNDLED))}")
        try:
            _bundled_gguf(name)
        except ModelError as e:
            return str(e)
        return None
    p = Path(ref).expanduser()
    if p.exists():
        return None if (p / "config.json").is_file() else f"model folder {p} has no config.json"
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return None  # a hub id: loads where the machine has network
    return f"model folder {ref} does not exist (expected bundled:NAME, an existing folder, or a hub id org/name)"


def _wandb_key_found() -> bool:
    """An API key where wandb looks for one: WANDB_API_KEY, or a netrc entry for the W&B host (`wandb login`)."""
    import netrc
    import os
    from urllib.parse import urlparse

    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc")).expanduser()
    try:
        auth = netrc.netrc(str(path)).authenticators(host) if path.is_file() else None
    except (netrc.NetrcParseError, OSError):
        return False
    return bool(auth and auth[2])


def _unwritable(path: str) -> Optional[str]:
    """Why a folder (existing or to be created) cannot be written; None if it can. Creates nothing."""
    import os

    p = Path(path).expanduser().absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir():
        return f"{p} is not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p} is not writable"
    return None


def _extrapolate_errors(cfg: Any) -> list[str]:
    ext = cfg.get("extrapolate") or {}
    errs, n_max, max_error, degree = [], ext.get("n_max"), ext.get("max_error"), ext.get("degree", 1)
    if n_max is not None and (isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < 0):
        errs.append(f"extrapolate.n_max must be null (8 * m) or an integer >= 0 (the largest N predicted; <= m: off), "
                    f"got {n_max!r}")
    if max_error is not None and (isinstance(max_error, bool) or not isinstance(max_error, (int, float))
                                  or not max_error > 0):
        errs.append(f"extrapolate.max_error must be null (half the median CI half-width) or a number > 0, "
                    f"got {max_error!r}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
        errs.append(f"extrapolate.degree must be an integer >= 1, got {degree!r}")
    from bon.estimator.extrapolate import FORMS

    if ext.get("form", "auto") not in ("auto", *FORMS):
        errs.append(f"extrapolate.form must be one of auto, {', '.join(FORMS)}, got {ext.get('form')!r}")
    return errs


def _gold_plot_errors(cfg: Any) -> list[str]:
    """Problems with the gold and plot nodes (absent nodes, as in an old saved config, are fine)."""
    from bon.metrics.gold import GOLD_SOURCES

    errs = []
    plot, gold = cfg.get("plot"), cfg.get("gold")
    if plot is not None and plot.x not in ("kl", "kl_pool"):
        errs.append(f"plot.x must be kl or kl_pool, got {plot.x!r}")
    if "gold" in cfg.metrics:
        errs.append("metrics: gold is not a metric to list; set the gold node (gold.source, gold.ref) instead")
    if gold is None or gold.source is None:
        return errs
    if gold.source not in GOLD_SOURCES:
        return errs + [f"gold.source must be one of {GOLD_SOURCES.names()} (or null), got {gold.source!r}."
                       f"{GOLD_SOURCES.close_names(gold.source)}"]
    if not gold.ref:
        return errs + [f"gold.ref: name the {gold.source} that gives the gold score, got {gold.ref!r}"]
    if gold.name is not None and (not gold.name or "/" in gold.name):
        errs.append(f"gold.name must be a non-empty name without '/', got {gold.name!r}")
    return errs + GOLD_SOURCES.get(gold.source).config_errors(cfg, gold)
