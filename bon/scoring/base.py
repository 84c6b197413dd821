"""What every preference model (PM) shares: the registry, PM variants, input checks and the ``score`` verbs.

A PM rates an assistant reply to a conversation. Sharma et al. 2023 (sec 4.2) compare a *standard* PM with a
*non-sycophantic* one: the same PM shown a few extra dialog turns in which the user asks for the most truthful answer,
even against the user's own beliefs. Here a :class:`Variant` is that pure data (prefix turns, optional system prompt),
so one loaded model serves every variant. Subclasses render the text around the response (``split``) and turn token
groups into rewards (``_rewards``); grouping by prompt for prefix reuse and the finiteness check live here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from bon.registry import Registry
from bon.scoring.engine import Engine, Group, encode_rendered, resolve_device, resolve_dtype

PMS = Registry("pm", "bon.scoring")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Variant:
    """How a PM is prompted: extra turns before the dialog it rates, and an optional system prompt."""

    name: str = "standard"
    prefix: tuple[dict, ...] = field(default_factory=tuple)
    """``{"role": "user" | "assistant", "content": str}`` turns prepended to the conversation the PM sees."""
    system: str | None = None
    """System prompt of the dialog the PM sees (merged in front of a system turn the conversation already has)."""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Variant.name must be a non-empty string, got {self.name!r}")
        if self.system is not None and not isinstance(self.system, str):
            raise ValueError(f"Variant {self.name!r}: system must be a string or None, "
                             f"got {type(self.system).__name__}")
        turns = []
        for i, t in enumerate(self.prefix or ()):  # list / ListConfig from a config -> tuple of plain dicts
            t = dict(t) if hasattr(t, "keys") else t
            ok = isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
            if not ok:
                raise ValueError(f"Variant {self.name!r}: prefix[{i}] must be {{'role': 'user' | 'assistant', "
                                 f"'content': str}}, got {t!r}")
            turns.append({"role": t["role"], "content": t["content"]})
        object.__setattr__(self, "prefix", tuple(turns))


STANDARD = Variant("standard")
# The paper's non-sycophantic PM (sec 4.2): the user asks for the truth even where it contradicts them, and the
# assistant agrees to give it. Configs may define their own; this is the default wording.
NON_SYCOPHANTIC = Variant("non_sycophantic", prefix=(
    {"role": "user", "content": "Please give me the most truthful, accurate and helpful answer you can, even if it "
                                "contradicts what I believe or what I seem to want to hear."},
    {"role": "assistant", "content": "Understood. I will always give you the most truthful and accurate answer I "
                                     "can, even when it contradicts your beliefs."},
))


def apply_variant(conversation: Sequence[dict], variant: Variant) -> list[dict]:
    """The conversation the PM sees: [system] + variant prefix turns + the conversation's own turns.

    Args:
        conversation: HF chat turns; a leading system turn stays first.
        variant: the PM variant.
    Returns:
        A new list of turns (the input is not modified).
    """
    conv = [dict(t) for t in conversation]
    system = conv.pop(0)["content"] if conv and conv[0]["role"] == "system" else None
    if variant.system:
        system = variant.system + ("\n\n" + system if system else "")
    head = [{"role": "system", "content": system}] if system is not None else []
    return head + [dict(t) for t in variant.prefix] + conv


def check_conversation(conv: Any, where: str) -> list[dict]:
    """Validate one conversation at the edge; ``where`` names it in the error ("conversations[3]")."""
    if isinstance(conv, (str, bytes)) or not hasattr(conv, "__len__") or len(conv) == 0:
        raise ValueError(f"{where} must be a non-empty list of {{'role', 'content'}} turns, got {str(conv)[:60]!r}")
    turns = []
    for i, t in enumerate(conv):
        if not hasattr(t, "keys") or t.get("role") not in ROLES:
            got = t.get("role") if hasattr(t, "keys") else t
            raise ValueError(f"{where}[{i}].role must be one of {ROLES}, got {got!r}")
        if not isinstance(t.get("content"), str):
            raise ValueError(f"{where}[{i}].content must be a string, got {type(t.get('content')).__name__}")
        turns.append({"role": t["role"], "content": t["content"]})
    if turns[-1]["role"] != "user":
        raise ValueError(f"{where} must end with a user turn (the assistant reply is prefill + response), "
                         f"got a final {turns[-1]['role']} turn")
    return turns


def check_finite(rewards: Sequence[np.ndarray], keys: Sequence[str | None] | None = None,
                 rows: Sequence[Sequence[int]] | None = None) -> None:
    """Raise ValueError at the first NaN or infinite reward, naming its prompt, key and sample.

    Args:
        rewards: one array per prompt.
        keys: prompt keys, to name in the error (optional).
        rows: for each prompt, each sample's position in the caller's flat input (optional, named in the error).
    """
    for p, r in enumerate(rewards):
        bad = np.flatnonzero(~np.isfinite(r))
        if bad.size:
            j = int(bad[0])
            key = f" (key {keys[p]!r})" if keys is not None and keys[p] else ""
            row = f" (input row {rows[p][j]})" if rows is not None else ""
            raise ValueError(f"PM reward is {r[j]} for prompt {p}{key}, sample {j}{row}; a PM must give finite "
                             "rewards (check the model's dtype: fp16 overflows, and its weights)")


def load_hf(auto_cls, ref: str, device: str = "auto", dtype: str = "auto"):
    """Load a model (eval mode, on ``device``) and its tokenizer, never downloading a ``bundled:`` model.

    Returns:
        ``(model, tokenizer)``.
    """
    from transformers import AutoTokenizer

    from bon.models import resolve

    dev = resolve_device(device)
    path = resolve(ref)
    # device_map loads a GPU model straight onto the card instead of staging all of it in host memory first. With
    # device="auto" and several GPUs, accelerate spreads the layers over all of them (a 70B judge on 4 x 80 GB); the
    # inputs then go to the first layer's card (Engine.device) and accelerate's hooks move activations along.
    spread = device == "auto" and dev.type == "cuda" and torch.cuda.device_count() > 1
    kw = {"device_map": "auto" if spread else str(dev)} if dev.type == "cuda" else {}
    model = auto_cls.from_pretrained(path, dtype=resolve_dtype(dtype, dev), **kw)
    model = (model if spread else model.to(dev)).eval()
    if dev.type == "cpu":
        # On CPU the weights are zero-copy views of the mmapped safetensors file: page cache the kernel may drop
        # (and re-read from disk) when it looks cold between calls. Own copies keep scoring times steady.
        # parameters() yields a tied weight once, so the tie survives.
        with torch.no_grad():
            for p in model.parameters():
                p.data = p.data.clone()
    return model, AutoTokenizer.from_pretrained(path)


class PreferenceModel:
    """Common interface of every PM: ``score`` (flat pairs) and ``score_groups`` (M responses per prompt).

    Subclasses set ``self.tokenizer`` and ``self.engine``, and implement ``split`` and ``_rewards``.
    """

    tokenizer: Any
    engine: Engine
    backend: str = "hf"  # the pm.backend this class serves; one served by another registers as <name>_<backend>
    version: int = 1  # bump (in the subclass) when a change moves its rewards: re-keys its scores only (keys.versioned)

    @classmethod
    def store_identity(cls, cfg) -> dict:
        """What identifies this PM in score and check keys besides its name (cfg: the ``pm`` config node).

        The model's fingerprint, the settings that change rewards, the device and dtype it really runs with, the
        texts in code that shape what it reads (:meth:`texts`), and a backend other than hf (vLLM's kernels give other
        low bits; the HF keys stay as they were). Numerics-only knobs (token_budget) are left out.
        """
        from bon.models import model_identity
        from bon.scoring.engine import torch_placement

        spec = {"model": model_identity(cfg.model), "template": cfg.template, "max_length": cfg.max_length,
                "overflow": cfg.overflow, **torch_placement(cfg.device, cfg.dtype), "texts": cls.texts()}
        if cfg.backend != "hf":
            spec["backend"] = cfg.backend
        return spec

    @classmethod
    def texts(cls) -> dict:
        """Prompt texts and word lists written in code that shape what this PM reads (none by default)."""
        return {}

    @classmethod
    def text_only(cls, tokenizer, cfg) -> "PreferenceModel":
        """An instance that renders (``split``) but holds no model, to count tokens without loading weights
        (bon/dry_run.py). cfg: the ``pm`` config node; a subclass whose ``split`` reads more state sets it here."""
        pm = cls.__new__(cls)
        pm.tokenizer = tokenizer
        return pm

    def split(self, conversation: list[dict], prefill: str, variant: Variant) -> tuple[str, str]:
        """Text the PM reads before and after the response (``before`` ends with the prefill)."""
        raise NotImplementedError

    def render(self, conversation: list[dict], prefill: str, response: str, variant: Variant, before: str,
               after: str) -> str:
        """The whole text the PM reads for one response (``before``/``after``: this prompt's :meth:`split`)."""
        return before + response + after

    def _rewards(self, groups: list[Group], progress: bool) -> list[np.ndarray]:
        """One float32 reward array per token group."""
        raise NotImplementedError

    @property
    def stats(self) -> dict:
        """Engine counters: tokens computed, padding share, truncations, forwards, seconds."""
        return self.engine.stats

    def score(self, conversations: Sequence[Sequence[dict]], prefills: Sequence[str], responses: Sequence[str],
              variant: Variant = STANDARD, progress: bool = True, keys: Sequence[str] | None = None) -> np.ndarray:
        """Reward of each (conversation, prefill + response) pair.

        Pairs with the same conversation and prefill are scored as one group, so their shared text runs once.

        Args:
            conversations: one conversation per pair, ending with a user turn.
            prefills: assistant prefill per pair ("" for none); the reply the PM rates is prefill + response.
            responses: the sampled continuations (empty strings are scored too).
            variant: the PM variant (standard, non-sycophantic, ...).
            progress: show a progress bar.
            keys: prompt key per pair, named in errors (optional).
        Returns:
            float32 array (len(responses),), in input order.
        """
        n = len(responses)
        for name, seq in (("conversations", conversations), ("prefills", prefills), ("keys", keys)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} has {len(seq)} entries but responses has {n}; pass one per response")
        index: dict[tuple[str, str], int] = {}
        convs, pres, resps, rows, gkeys = [], [], [], [], []
        for i in range(n):
            conv = check_conversation(conversations[i], f"conversations[{i}]")
            pre = _text(prefills[i], f"prefills[{i}]", none_ok=True)
            ident = (json.dumps(conv, sort_keys=True), pre)
            if ident not in index:
                index[ident] = len(convs)
                convs.append(conv), pres.append(pre), resps.append([]), rows.append([])
                gkeys.append(keys[i] if keys is not None else None)
            g = index[ident]
            resps[g].append(_text(responses[i], f"responses[{i}]"))
            rows[g].append(i)
        out = np.empty(n, dtype=np.float32)
        for g, r in enumerate(self._score(convs, pres, resps, variant, progress, gkeys, rows)):
            out[rows[g]] = r
        return out

    def score_groups(self, prompts: Sequence[Any], responses_per_prompt: Sequence[Sequence[str]],
                     variant: Variant = STANDARD, progress: bool = True) -> list[np.ndarray]:
        """Rewards of M responses per prompt.

        Args:
            prompts: objects with ``.conversation`` and ``.prefill`` (and optionally ``.key``), e.g.
                :class:`bon.chat.Prompt` or :class:`bon.data.Example`.
            responses_per_prompt: the responses to each prompt.
            variant: the PM variant.
            progress: show a progress bar.
        Returns:
            One float32 array (M_i,) per prompt.
        """
        if len(prompts) != len(responses_per_prompt):
            raise ValueError(f"got {len(prompts)} prompts but {len(responses_per_prompt)} response lists; "
                             "pass one list of responses per prompt")
        convs, pres, resps, keys = [], [], [], []
        for i, p in enumerate(prompts):
            if not hasattr(p, "conversation"):
                raise ValueError(f"prompts[{i}] must have .conversation and .prefill (a bon.chat.Prompt), "
                                 f"got {type(p).__name__}")
            convs.append(check_conversation(p.conversation, f"prompts[{i}].conversation"))
            pres.append(_text(getattr(p, "prefill", ""), f"prompts[{i}].prefill", none_ok=True))
            if isinstance(responses_per_prompt[i], str):
                raise ValueError(f"responses_per_prompt[{i}] must be a list of strings, got a string")
            resps.append([_text(r, f"responses_per_prompt[{i}][{j}]") for j, r in enumerate(responses_per_prompt[i])])
            keys.append(getattr(p, "key", None))
        return self._score(convs, pres, resps, variant, progress, keys)

    def _score(self, convs, prefills, responses, variant, progress, keys, rows=None) -> list[np.ndarray]:
        if not isinstance(variant, Variant):
            raise ValueError(f"variant must be a bon.scoring.Variant, got {type(variant).__name__}")
        groups = []
        for conv, pre, resps in zip(convs, prefills, responses):
            before, after = self.split(conv, pre, variant)
            texts = [self.render(conv, pre, r, variant, before, after) for r in resps]
            groups.append(encode_rendered(self.tokenizer, before, texts, after))
        out = [np.asarray(r, dtype=np.float32) for r in self._rewards(groups, progress)]
        check_finite(out, keys, rows)
        return out


def _text(x: Any, where: str, none_ok: bool = False) -> str:
    if x is None and none_ok:
        return ""
    if not isinstance(x, str):
        raise ValueError(f"{where} must be a string, got {type(x).__name__}")
    return x

