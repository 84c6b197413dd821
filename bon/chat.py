"""Conversations and chat templates, shared by samplers, preference models and judges.

A conversation is a list of ``{"role": "user" | "assistant" | "system", "content": str}`` dicts (the HF chat
format). A :class:`Prompt` is a conversation plus an optional assistant *prefill*: text the answer must continue.
"""
from __future__ import annotations

from dataclasses import dataclass

_SENTINEL = "\u2063BON_RESPONSE\u2063"  # invisible separator: never occurs in real text


@dataclass(frozen=True)
class Prompt:
    conversation: tuple[dict, ...]
    prefill: str = ""
    key: str = ""  # stable id (seeds and artifacts are keyed by it, never by batch position)

    @staticmethod
    def of(conversation, prefill: str = "", key: str = "") -> "Prompt":
        return Prompt(tuple(dict(t) for t in conversation), prefill or "", key)


def render_generation_prompt(tokenizer, conversation, prefill: str = "") -> str:
    """Text a policy continues: the chat template with the assistant header, then the prefill (continued, not restarted)."""
    text = tokenizer.apply_chat_template(list(conversation), tokenize=False, add_generation_prompt=True)
    return text + (prefill or "")


def split_around_response(tokenizer, conversation, prefill: str = "") -> tuple[str, str]:
    """Render ``conversation + [assistant: prefill + <response>]`` and return the text before and after the response.

    The text before (which includes the prefill) is shared by all M responses to one prompt, so it is computed once.
    Using a sentinel keeps this right for any chat template, whatever it adds after the assistant turn.
    """
    msgs = list(conversation) + [{"role": "assistant", "content": (prefill or "") + _SENTINEL}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    if text.count(_SENTINEL) != 1:
        raise ValueError("the chat template dropped or repeated the assistant turn; cannot split around the response")
    before, after = text.split(_SENTINEL)
    return before, after
