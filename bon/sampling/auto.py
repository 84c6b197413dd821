"""Pick a sampler backend: ``auto`` means the backend measured faster on this kind of device.

On GPU that is vLLM (where it imports cleanly, else transformers). On CPU it is :data:`CPU_BACKEND`, the faster of
the two in ``scripts/bench_sampler.py`` on a 2-core CPU (BENCHMARKS.md, section "sampler"); when that is vLLM and
vLLM does not import, transformers.
"""
from __future__ import annotations

import functools
import importlib.util

from bon.runtime import on_gpu, set_vllm_env
from bon.sampling.base import SAMPLERS, log

# The faster backend on CPU, by measurement (scripts/bench_sampler.py: generated tokens/s of our HF and vLLM samplers
# on the same prompts, n=8, one run side by side; BENCHMARKS.md "sampler"). Re-measure before changing it.
CPU_BACKEND = "vllm"


@functools.lru_cache(maxsize=1)
def _vllm_usable() -> tuple[bool, str]:
    """(usable, why), from one import attempt per process (importing vLLM takes a few seconds)."""
    if importlib.util.find_spec("vllm") is None:
        return False, "vllm is not installed"
    set_vllm_env()  # before the first import: vLLM reads some of them then
    try:
        import vllm  # noqa: F401
    except Exception as e:  # a broken install (e.g. mismatched torchvision) must fall back, not crash the run
        return False, f"vllm is installed but `import vllm` fails: {type(e).__name__}: {e}"
    return True, "vllm imports cleanly"


def resolve_backend(name: str) -> str:
    """The backend a name stands for, so a run records (and hashes) what actually sampled.

    Args:
        name: "auto" or a registered sampler ("hf", "vllm").
    Returns:
        A registered sampler name; "auto" becomes "vllm" on GPU and :data:`CPU_BACKEND` on CPU, or "hf" when
        vLLM was the choice but does not import cleanly.
    Raises:
        UnknownNameError: for a name that is neither "auto" nor registered.
    """
    if name != "auto":
        SAMPLERS.get(name)  # raises with close names and the list of backends
        return name
    if not on_gpu() and CPU_BACKEND == "hf":
        log.info("sampler backend auto -> hf (measured faster than vllm on CPU, BENCHMARKS.md)")
        return "hf"
    ok, why = _vllm_usable()
    chosen = "vllm" if ok else "hf"
    where = "GPU" if on_gpu() else "CPU, measured faster than hf there"
    log.info("sampler backend auto -> %s (%s; %s)", chosen, where, why)
    return chosen


def sampler_from_config(backend: str, cfg):
    """Build the run's sampler: the policy cfg.policy.model on ``backend`` (``auto`` resolved), with the shared
    decoding settings of cfg.sampler and the ones that backend takes (its ``config_kwargs``)."""
    backend = resolve_backend(backend)
    s = cfg.sampler
    return make_sampler(backend, model=cfg.policy.model, temperature=s.temperature, top_p=s.top_p,
                        max_new_tokens=s.max_new_tokens, overlength=s.overlength,
                        **SAMPLERS.get(backend).config_kwargs(s))


def make_sampler(backend: str, **kwargs):
    """Build a sampler.

    Args:
        backend: "auto", "hf" or "vllm".
        **kwargs: the sampler's constructor arguments (model, temperature, top_p, max_new_tokens, overlength, ...).
    Returns:
        An object with ``sample(prompts, m, seed, progress=True) -> list[list[Completion]]`` and ``stats``.
    """
    return SAMPLERS.get(resolve_backend(backend))(**kwargs)
