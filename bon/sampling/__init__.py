"""Samplers: draw m completions per prompt from a policy. One file per backend, registered in SAMPLERS
(the registry imports every file of this folder; heavy imports happen lazily inside each backend).

    from bon.sampling import make_sampler
    sampler = make_sampler("auto", model="bundled:smollm2-135m-instruct", max_new_tokens=64)
    completions = sampler.sample(prompts, m=8, seed=0)   # list[list[Completion]], same order as prompts
"""
from bon.sampling.auto import make_sampler, resolve_backend, sampler_from_config
from bon.sampling.base import SAMPLERS, Completion, prompt_seed

__all__ = ["Completion", "SAMPLERS", "make_sampler", "resolve_backend", "prompt_seed", "sampler_from_config"]
