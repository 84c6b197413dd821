"""A sequence-classification reward model as a PM (the GPU target is the Skywork-Reward-V2 family).

The model's chat template renders the conversation plus the assistant reply; the reward is the raw logit of label 0
at the last real token (no softmax). We run the base transformer through the shared engine and apply the head
(``model.score``, else ``model.classifier``) to the pooled hidden state ourselves: the model's own pooling looks for
the first pad token, which lands on the first ``<|im_end|>`` of the dialog when pad == eos.
"""
from __future__ import annotations

import numpy as np

from bon.chat import split_around_response
from bon.scoring.base import PMS, PreferenceModel, Variant, apply_variant, load_hf
from bon.scoring.engine import Engine, Group


@PMS.register("classifier")
class ClassifierPM(PreferenceModel):
    """Reward = raw label-``label`` logit of an ``AutoModelForSequenceClassification`` at the reply's last token.

    Args:
        model: local folder or hub id of the reward model (its tokenizer must have a chat template).
        label: which output logit is the reward (0 for single-output reward models).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        dtype: ``"auto"`` (fp32 on CPU, bf16 on GPU), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        **engine: :class:`~bon.scoring.engine.Engine` options (token_budget, max_length, overflow, mode, ...).
    """

    version = 2  # 2: the engine's batch-invariant shapes (bon/scoring/engine.py) move rewards by ~1e-6

    def __init__(self, model: str, *, label: int = 0, device: str = "auto", dtype: str = "auto", **engine):
        from transformers import AutoModelForSequenceClassification

        self.model, self.tokenizer = load_hf(AutoModelForSequenceClassification, model, device, dtype)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(f"the tokenizer of {model!r} has no chat template; a classifier PM needs one to render "
                             "the conversation")
        n_labels = self.model.config.num_labels
        if not isinstance(label, int) or not 0 <= label < n_labels:
            raise ValueError(f"label must be an integer in [0, {n_labels}) for this model, got {label!r}")
        head = getattr(self.model, "score", None) or getattr(self.model, "classifier", None)
        if head is None:
            raise ValueError(f"{type(self.model).__name__} has neither .score nor .classifier; cannot find its "
                             "reward head")

        def pooled_head(h):  # (R, H) -> (R, 1)
            y = head(h)
            if y.shape != (h.shape[0], n_labels):  # e.g. a RoBERTa head expects (R, L, H) and pools itself
                raise ValueError(f"the head of {type(self.model).__name__} maps a pooled state to {tuple(y.shape)}, "
                                 f"expected ({h.shape[0]}, {n_labels}); only per-token linear heads are supported")
            return y[:, label:label + 1]

        body = getattr(self.model, self.model.base_model_prefix)
        self.engine = Engine(body, pooled_head, self.model.config, **engine)

    def split(self, conversation: list[dict], prefill: str, variant: Variant) -> tuple[str, str]:
        return split_around_response(self.tokenizer, apply_variant(conversation, variant), prefill)

    def render(self, conversation: list[dict], prefill: str, response: str, variant: Variant, before: str,
               after: str) -> str:
        """The chat template's own rendering of the dialog with this reply (trimming and all, as in training)."""
        msgs = apply_variant(conversation, variant) + [{"role": "assistant", "content": prefill + response}]
        return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)

    def _rewards(self, groups: list[Group], progress: bool) -> list[np.ndarray]:
        return [x[:, 0].numpy() if x.numel() else np.zeros(0, np.float32)
                for x in self.engine.run(groups, progress=progress)]
