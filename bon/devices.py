"""Device keys (sampler.device, pm.device, judge.device) checked against the machine before any model loads.

A device the machine does not have is a config error like any other (one ``error:`` line, exit 2, no run folder),
not a traceback from deep inside a model load. Asking torch how many GPUs it sees creates no CUDA context, so a vLLM
engine started later still owns the first one.
"""
from __future__ import annotations

from typing import Optional

def gpu_count() -> int:
    """CUDA devices torch sees here (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def available(n_gpus: int, indexed: bool = True) -> str:
    """The devices of a machine with ``n_gpus`` GPUs, in words, for an error message."""
    if n_gpus == 0:
        return "this machine has no CUDA GPU (torch sees none): use auto or cpu"
    if not indexed:
        return f"this machine has {n_gpus} CUDA GPU(s): use auto, cpu or cuda"
    return f"this machine has {n_gpus} CUDA GPU(s): use auto, cpu, cuda or cuda:0..cuda:{n_gpus - 1}"


def device_problem(value: str, n_gpus: int, indexed: bool = True) -> Optional[str]:
    """Why ``value`` names no device of a machine with ``n_gpus`` GPUs; None if it does.

    Args:
        value: the configured device: auto, cpu, cuda or (indexed) cuda:N.
        n_gpus: GPUs on this machine.
        indexed: whether cuda:N is accepted.
    """
    if value in ("auto", "cpu"):
        return None
    if value == "cuda" or (indexed and value.startswith("cuda:") and value[5:].isdigit()):
        index = int(value[5:]) if ":" in value else 0
        if index < n_gpus:
            return None
        return f"no such device; {available(n_gpus, indexed)}"
    if indexed:
        allowed = "auto, cpu, cuda or cuda:N"
    else:  # the HF sampler places the whole model on one device or spreads it with accelerate (auto): no index
        from bon.sampling.hf import DEVICES

        allowed = ", ".join(DEVICES)
    return f"must be {allowed}, got {value!r}"


def device_errors(cfg, sampler_backend: str, n_gpus: int | None = None) -> list[str]:
    """One line per device key that names a device this machine lacks.

    Args:
        cfg: the run config (sampler, pm, judge nodes).
        sampler_backend: sampler.backend (auto is resolved only when it matters: a CPU request on a GPU machine).
        n_gpus: GPUs on this machine; None asks torch.

    Returns:
        "KEY=VALUE: why" lines; empty when every device exists.
    """
    n = gpu_count() if n_gpus is None else n_gpus
    errs = []
    s = cfg.sampler
    problem = device_problem(str(s.device), n, indexed=False)
    if problem:
        errs.append(f"sampler.device={s.device}: {problem}")
    elif s.device == "cpu" and n > 0 and _resolved(sampler_backend) == "vllm":
        # vLLM runs where its build targets (CUDA here); a CPU request would be silently ignored
        errs.append("sampler.device=cpu: the vLLM sampler runs on the GPU here; use sampler=hf for a CPU run, "
                    "or leave sampler.device=auto")
    for key, node in (("pm", cfg.pm), ("judge", cfg.get("judge"))):
        if node is None or "device" not in node:
            continue
        problem = device_problem(str(node.device), n)
        if problem:
            errs.append(f"{key}.device={node.device}: {problem}")
    return errs


def _resolved(backend: str) -> str:
    from bon.sampling import resolve_backend

    return resolve_backend(backend)
