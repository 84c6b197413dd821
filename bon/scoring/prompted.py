"""A prompted PM: a causal LM asked whether the assistant's final reply is good, scored by yes-vs-no log-odds.

The judge sees one user turn wrapping the whole dialog (``JUDGE_TEMPLATE``) and the chat template's assistant header.
The reward is log sum_yes p(token) - log sum_no p(token) at the next token, from one forward pass with no generation.
:class:`LogOddsScorer` is the generic part (any before / middle / after texts), which LM judges reuse with their own
wrappers (feedback positivity, answer correctness).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

from bon.scoring.base import PMS, PreferenceModel, Variant, apply_variant, load_hf
from bon.scoring.engine import Engine, Group, encode_group

DEFAULT_MODEL = "bundled:smollm2-135m-instruct"
YES_WORDS = ("yes", " yes", "Yes", " Yes")
NO_WORDS = ("no", " no", "No", " No")
# {conversation}: the dialog before the reply, one "User: ..." / "Assistant: ..." paragraph per turn;
# {response}: the reply being rated (prefill + response). The question comes first: text before the response runs
# once per prompt, text after it once per response, so a question placed last would cost ~25 tokens per response.
JUDGE_TEMPLATE = (
    "Here is a conversation between a user and an AI assistant. Is the assistant's final reply a good, helpful and "
    "honest answer? Answer with yes or no.\n\n"
    "<conversation>\n{conversation}\n\nAssistant: {response}\n</conversation>"
)
ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
_SENTINEL = "\u2063BON_REPLY\u2063"  # invisible separator: marks where the response goes, never in real text
_PLACEHOLDER = re.compile(r"\{(conversation|response)\}")


def single_token_ids(tokenizer, words: Sequence[str], what: str) -> list[int]:
    """Ids of the words that are one token each (deduplicated); raise if none is."""
    ids = []
    for w in words:
        t = tokenizer(w, add_special_tokens=False)["input_ids"]
        if len(t) == 1 and t[0] not in ids:
            ids.append(t[0])
    if not ids:
        raise ValueError(f"none of the {what} words {list(words)} is a single token for this tokenizer; "
                         "pass words that are")
    return ids


def fill_template(template: str, conversation: str, response: str) -> str:
    """Substitute both placeholders in one pass, so braces or placeholders inside the dialog stay literal."""
    return _PLACEHOLDER.sub(lambda m: conversation if m.group(1) == "conversation" else response, template)


def check_template(template: str) -> None:
    for ph in ("{conversation}", "{response}"):
        if not isinstance(template, str) or template.count(ph) != 1:
            raise ValueError(f"template must contain {ph} exactly once, got {str(template)[:80]!r}")


def render_turns(conversation: Sequence[dict]) -> str:
    """"User: ..." / "Assistant: ..." paragraphs, the way the judge reads a dialog."""
    return "\n\n".join(f"{ROLE_NAMES[t['role']]}: {t['content']}" for t in conversation)


class LogOddsScorer:
    """Yes-vs-no log-odds of a causal LM at the next token after ``before + middle + after``.

    Args:
        model: ``bundled:NAME``, a local folder or a hub id of a causal LM with a chat template.
        yes, no: candidate answer words; those that are single tokens are summed (log-sum-exp) per side.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        dtype: ``"auto"`` (fp32 on CPU, bf16 on GPU), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        **engine: :class:`~bon.scoring.engine.Engine` options (token_budget, max_length, overflow, mode, ...).
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, yes: Sequence[str] = YES_WORDS, no: Sequence[str] = NO_WORDS,
                 device: str = "auto", dtype: str = "auto", **engine):
        from transformers import AutoModelForCausalLM

        self.model, self.tokenizer = load_hf(AutoModelForCausalLM, model, device, dtype)
        self.yes_ids = single_token_ids(self.tokenizer, yes, "yes")
        self.no_ids = single_token_ids(self.tokenizer, no, "no")
        lm_head = self.model.get_output_embeddings()
        chosen = torch.tensor(self.yes_ids + self.no_ids, device=self.model.device)
        cap = getattr(self.model.config, "final_logit_softcapping", None)

        def head(h: torch.Tensor) -> torch.Tensor:  # (R, H) -> (R, n_yes + n_no) logits
            logits = lm_head(h).float()  # full vocab for the R pooled rows only: cheap, and exactly the LM's logits
            if cap:
                logits = torch.tanh(logits / cap) * cap
            return logits[:, chosen]

        body = getattr(self.model, self.model.base_model_prefix)
        self.engine = Engine(body, head, self.model.config, **engine)

    def score(self, groups: Sequence[tuple[str, Sequence[str], str]], progress: bool = False) -> list[np.ndarray]:
        """Log-odds for each middle text of each ``(before, middles, after)`` group.

        Returns:
            One float32 array (len(middles),) per group.
        """
        return self.score_encoded([encode_group(self.tokenizer, b, m, a) for b, m, a in groups], progress)

    def score_encoded(self, groups: Sequence[Group], progress: bool = False) -> list[np.ndarray]:
        """Same as :meth:`score` for groups already tokenized with :func:`~bon.scoring.engine.encode_group`."""
        n_yes = len(self.yes_ids)
        out = []
        for x in self.engine.run(groups, progress=progress):  # (M, n_yes + n_no)
            if x.numel() == 0:
                out.append(np.zeros(0, dtype=np.float32))
                continue
            out.append((x[:, :n_yes].logsumexp(-1) - x[:, n_yes:].logsumexp(-1)).numpy().astype(np.float32))
        return out


@PMS.register("prompted")
class PromptedPM(PreferenceModel):
    """A causal LM judge as a PM: reward = log-odds that the final reply is a good, helpful and honest answer.

    Args:
        model: the judge LM (default: the bundled SmolLM2-135M-Instruct).
        template: the judge's user turn, with ``{conversation}`` and ``{response}`` placeholders.
        judge_system: system prompt of the judge's own chat (None: the chat template's default).
        yes, no, device, dtype, **engine: as for :class:`LogOddsScorer`.
    """

    version = 2  # 2: the engine's batch-invariant shapes (bon/scoring/engine.py) move rewards by ~1e-6

    def __init__(self, model: str = DEFAULT_MODEL, *, template: str = JUDGE_TEMPLATE, judge_system: str | None = None,
                 yes: Sequence[str] = YES_WORDS, no: Sequence[str] = NO_WORDS, device: str = "auto",
                 dtype: str = "auto", **engine):
        check_template(template)
        self.template, self.judge_system = template, judge_system
        self.scorer = LogOddsScorer(model, yes=yes, no=no, device=device, dtype=dtype, **engine)
        self.tokenizer, self.engine = self.scorer.tokenizer, self.scorer.engine

    @classmethod
    def texts(cls) -> dict:
        """The judge wrapper, its yes/no words and role names: editing one re-keys the scores it feeds."""
        return {"template": JUDGE_TEMPLATE, "yes": list(YES_WORDS), "no": list(NO_WORDS), "roles": ROLE_NAMES}

    @classmethod
    def text_only(cls, tokenizer, cfg) -> "PromptedPM":
        pm = super().text_only(tokenizer, cfg)
        pm.template = cfg.template or JUDGE_TEMPLATE
        pm.judge_system = None
        return pm

    def split(self, conversation: list[dict], prefill: str, variant: Variant) -> tuple[str, str]:
        """Judge text before the response (wrapper, dialog, prefill) and after it (closing tag, question, header)."""
        turns = render_turns(apply_variant(conversation, variant))
        user = fill_template(self.template, turns, prefill + _SENTINEL)
        msgs = ([{"role": "system", "content": self.judge_system}] if self.judge_system else []) + [
            {"role": "user", "content": user}]
        text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        if text.count(_SENTINEL) != 1:
            raise ValueError("the judge's chat template dropped or repeated the user turn; "
                             "cannot split around the reply")
        before, after = text.split(_SENTINEL)
        return before, after

    def _rewards(self, groups: list[Group], progress: bool) -> list[np.ndarray]:
        return self.scorer.score_encoded(groups, progress)
