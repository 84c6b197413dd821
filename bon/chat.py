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


def encode_rendered(tokenizer, before: str, texts, after: str):
    """Token ids of each fully rendered input exactly as the tokenizer reads the whole text, split for prefix reuse.

    Rendering every reply through the chat template and tokenizing the whole string is what the PM saw in training:
    templates may trim a reply (Llama 3: ``message['content'] | trim``), and BPE may merge across the place where
    the reply starts. The shared prefix is the longest run of ids common to all rows, at most the tokens of
    ``before`` (the text up to the reply) and one short of the shortest row, so prefix + continuation of each row
    equals ``tokenizer(text)``.

    Args:
        tokenizer: a Hugging Face tokenizer.
        before: the text shared by the rows, up to the reply (bounds the shared prefix).
        texts: one fully rendered input per reply.
        after: the text after the reply (its token count is what truncation keeps).
    Returns:
        A :class:`bon.scoring.engine.Group`.
    """
    from bon.scoring.engine import Group

    texts = list(texts)
    if not texts:
        return Group([], [], 0)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    head = len(tokenizer(before.rstrip(" "), add_special_tokens=False)["input_ids"]) if before.strip(" ") else 0
    cap, k = min(head, min(len(x) for x in ids) - 1), 0
    first = ids[0]
    while k < cap and all(x[k] == first[k] for x in ids):
        k += 1
    keep_tail = len(tokenizer(after, add_special_tokens=False)["input_ids"]) if after else 0
    return Group(list(first[:k]), [list(x[k:]) for x in ids], keep_tail)
