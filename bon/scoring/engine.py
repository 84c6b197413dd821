"""The batched, prefix-reusing forward pass shared by every preference model (PM) and every LM judge.

The M responses to one prompt share a long prefix: judge wrapper, variant turns, conversation, assistant header and
prefill. The *cached* path runs each prefix once (prefixes of several prompts batched into one forward, a "wave"),
keeps the key/value cache, then runs the continuations (response plus the text after it) in length-sorted,
right-padded chunks on top of it. The *naive* path is the reference: every full sequence (prefix + continuation)
from scratch, in fixed-size unsorted batches, no cache. Both pool the hidden state at each sequence's last real token
and apply the same head, so they agree to float tolerance (tests/scoring/test_scoring.py, scripts/bench_scoring.py).

Right padding is enough for the cached path: attention is causal, so a real token only sees tokens before it, and
every pad comes after the last real token of its row. Padding inside a wave's prefixes is masked out explicitly.

Batch invariance: kernels pick their blocking, so their rounding, by a tensor's shape (a lone row even takes a
matrix-vector kernel), so the cached path gives each row shapes set by its own lengths only: prefixes pad to a
multiple of ``PREFIX_QUANTUM``, continuations to ``CONT_QUANTUM``, a wave or chunk holds one padded length, and the
head sees at least ``HEAD_ROWS`` rows. With one intra-op thread a score is then bit-identical alone or in any batch
(tests/tiny/test_tiny_hf.py); the price is padding (``stats["padding_share"]``; BENCHMARKS.md, batch invariance).

Out of memory (CUDA OOM, MemoryError, a RuntimeError saying "out of memory"): ``run`` halves every batch budget and
runs the call again, as many times as it takes down to one row per forward; ``stats["oom_retries"]`` counts the
retries, and stage facts report them per chunk and variant (:func:`counts`, :func:`counts_since`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch  # transformers is imported in rows_cache: a warm run never builds a cache, and it costs ~1.4 s

log = logging.getLogger("bon")
MODES = ("cached", "naive")
OVERFLOW_POLICIES = ("truncate", "error")
PADDING_SIDES = ("right", "left")
PREFIX_QUANTUM = 64  # a prefix pads to a multiple of this (its own length decides its shapes, not its wave's)
CONT_QUANTUM = 16  # a continuation pads to a multiple of this; rows * CONT_QUANTUM >= 16 keeps matrix kernels
HEAD_ROWS = 16  # the head always sees at least this many rows (a lone row would take a matrix-vector kernel)
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def is_oom(err: BaseException) -> bool:
    """An out-of-memory error: torch's CUDA OOM, a MemoryError, or a RuntimeError saying "out of memory"."""
    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(err, (MemoryError, *((oom,) if oom else ()))) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


def counts(obj) -> dict[str, int]:
    """Running totals of truncated inputs and OOM retries of a PM or LM judge's engine ({} for no engine).

    Stage facts take the difference around each chunk, so a chunk, a variant and a task each count their own.
    """
    eng = getattr(obj, "engine", None) or getattr(getattr(obj, "scorer", None), "engine", None)
    if eng is None:
        return {}
    s = eng.stats
    return {"truncated": int(s["truncated"]), "oom_retries": int(s["oom_retries"])}


def counts_since(obj, before: dict[str, int]) -> dict[str, int]:
    """What :func:`counts` grew by since ``before``."""
    return {k: v - before.get(k, 0) for k, v in counts(obj).items()}


def quantize(n: int, q: int) -> int:  # n rounded up to a multiple of q (0 stays 0)
    return -(-n // q) * q


def head_rows(head: Callable[[torch.Tensor], torch.Tensor], pooled: torch.Tensor) -> torch.Tensor:
    """``head(pooled)`` on at least HEAD_ROWS rows (zeros appended, then dropped): a row's output is its own."""
    pad = HEAD_ROWS - pooled.shape[0]
    return head(pooled) if pad <= 0 else head(torch.cat([pooled, pooled.new_zeros(pad, pooled.shape[1])]))[:-pad]


class ContextOverflowError(ValueError):
    """A prompt plus response does not fit the model's context and cannot (or may not) be truncated."""


@dataclass
class Group:
    """One prompt's inputs as token ids: the shared prefix and its M continuations."""

    prefix: list[int]
    conts: list[list[int]]
    keep_tail: int = 0  # trailing tokens of every continuation that truncation keeps (the text after the response)


def encode_group(tokenizer, before: str, middles: Sequence[str], after: str) -> Group:
    """The canonical tokenization: both engine paths and every test use exactly these ids.

    ids = tokenizer(before) + tokenizer(middle + after), without special tokens (the chat template already wrote
    them). Trailing spaces of ``before`` move into each continuation: BPE merges a space with the word after it
    (" The"), so cutting "Assistant: " | "The" would feed the model a token pair it never saw in training.

    Args:
        tokenizer: a Hugging Face tokenizer.
        before: text shared by all continuations (everything up to the response).
        middles: the M responses.
        after: text after each response (closing tags, judge question, assistant header); shared.
    Returns:
        A :class:`Group` whose ``keep_tail`` is the token length of ``after``.
    """
    head = before.rstrip(" ")
    moved = before[len(head):]
    prefix = tokenizer(head, add_special_tokens=False)["input_ids"] if head else []
    conts = tokenizer([moved + m + after for m in middles], add_special_tokens=False)["input_ids"] if middles else []
    keep_tail = len(tokenizer(after, add_special_tokens=False)["input_ids"]) if after else 0
    return Group(list(prefix), [list(c) for c in conts], keep_tail)


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
        A :class:`Group`.
    """
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


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` pass through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'")
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from None


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``"auto"`` is bf16 on GPU and fp32 on CPU (CPU bf16 matmuls are slow and lose the 1e-4 agreement)."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be 'auto' or one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def rows_cache(kv: list[tuple[torch.Tensor, torch.Tensor]], config):
    """A fresh DynamicCache holding given prefix states, (B, kv_heads, P, head_dim) per layer.

    forward appends to the cache it is given, so every chunk needs its own. ``DynamicCache(ddp_cache_data)`` would
    copy the states in (``update`` concatenates onto an empty tensor) and forward then copies them again when
    appending the chunk; setting them on plain layers leaves only that second copy, so a stride-0 view stays free.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer
    cache = DynamicCache(config=config)  # config: one layer object per decoder layer, of the right type
    if len(cache.layers) != len(kv):
        raise RuntimeError(f"the model's cache has {len(cache.layers)} layers but the prefix produced {len(kv)}")
    for layer, (k, v) in zip(cache.layers, kv):
        if type(layer) is DynamicLayer:
            layer.lazy_initialization(k, v)
            layer.keys, layer.values = k, v
        else:  # sliding-window and other layers keep counters of their own: go through their update
            layer.update(k, v)
    return cache


def pick_rows(kv: list[tuple[torch.Tensor, torch.Tensor]], rows: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Rows of a wave's prefix states, (G, ...) -> (len(rows), ...) per layer.

    Rows all from one prompt (the common case, M continuations of it) become a stride-0 view, no copy; rows from
    several prompts are gathered.
    """
    if len(set(rows)) == 1:
        w, n = rows[0], len(rows)
        return [(k[w:w + 1].expand(n, -1, -1, -1), v[w:w + 1].expand(n, -1, -1, -1)) for k, v in kv]
    sel = torch.tensor(rows, device=kv[0][0].device)
    return [(k.index_select(0, sel), v.index_select(0, sel)) for k, v in kv]


class Engine:
    """Pool the last real token's hidden state of prefix + continuation, for many groups at once.

    Args:
        body: the transformer without its head (``getattr(model, model.base_model_prefix)``); takes input_ids,
            attention_mask, position_ids, past_key_values and returns ``last_hidden_state``.
        head: maps pooled hidden states (R, H) to outputs (R, K): a reward head, or chosen-token logits.
        config: the model config (context length, cache layer types).
        token_budget: cap on rows * padded length per continuation chunk (the activation memory of one forward).
        kv_budget: cap on rows * (prefix + padded length) per chunk: the expanded prefix cache and the attention
            cost grow with the prefix, not just with the chunk (default 4 * token_budget).
        max_length: context limit (default ``config.max_position_embeddings``).
        overflow: ``"truncate"`` cuts the response from the right, keeping the text after it; ``"error"`` raises.
        mode: ``"cached"`` (prefix reuse, length buckets) or ``"naive"`` (the reference).
        naive_batch_size: rows per batch of the naive path.
        padding_side: padding side of the naive path (the cached path always pads right).
    """

    def __init__(self, body: torch.nn.Module, head: Callable[[torch.Tensor], torch.Tensor], config, *,
                 token_budget: int = 8192, kv_budget: int | None = None, max_length: int | None = None,
                 overflow: str = "truncate", mode: str = "cached", naive_batch_size: int = 8,
                 padding_side: str = "right"):
        for name, val in (("token_budget", token_budget), ("naive_batch_size", naive_batch_size)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"{name} must be a positive integer, got {val!r}")
        if kv_budget is not None and (not isinstance(kv_budget, int) or kv_budget < 1):
            raise ValueError(f"kv_budget must be a positive integer or None, got {kv_budget!r}")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if padding_side not in PADDING_SIDES:
            raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
        ctx = getattr(config, "max_position_embeddings", None)
        max_length = max_length if max_length is not None else ctx
        if not isinstance(max_length, int) or max_length < 2:
            raise ValueError(f"max_length must be an integer >= 2 (the config has no max_position_embeddings to "
                             f"default to), got {max_length!r}")
        self.body, self.head, self.config = body, head, config
        self.token_budget, self.kv_budget = token_budget, kv_budget or 4 * token_budget
        self.max_length, self.overflow, self.mode = max_length, overflow, mode
        self.naive_batch_size, self.padding_side = naive_batch_size, padding_side
        # A sliding-window layer's cache drops old tokens, which the cached path's mask does not model; with
        # sequences inside the window it behaves exactly like full attention, so only longer ones are refused.
        windows = [getattr(config, "sliding_window", None)] if any(
            t != "full_attention" for t in (getattr(config, "layer_types", None) or [])) else []
        self._window = min((w for w in windows if w), default=None)
        self.reset_stats()

    @property
    def device(self) -> torch.device:
        return next(self.body.parameters()).device

    def reset_stats(self) -> None:
        self._stats = dict(groups=0, sequences=0, forwards=0, rows=0, tokens_computed=0, tokens_real=0,
                           truncated=0, oom_retries=0, seconds=0.0)

    @property
    def stats(self) -> dict:
        """Counters since the last ``reset_stats``; tokens_computed counts padded rows, a cached prefix once."""
        s = dict(self._stats)
        s["padding_share"] = 1 - s["tokens_real"] / s["tokens_computed"] if s["tokens_computed"] else 0.0
        return s

    def run(self, groups: Sequence[Group | tuple], mode: str | None = None,
            progress: bool = False) -> list[torch.Tensor]:
        """Head outputs at the last real token of every prefix + continuation.

        Args:
            groups: :class:`Group` or ``(prefix_ids, conts)`` tuples.
            mode: override ``self.mode`` for this call.
            progress: show a tqdm bar over sequences.
        Returns:
            One float32 CPU tensor (M_g, K) per group, rows in continuation order.
        """
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        groups = [self._fit(i, g if isinstance(g, Group) else Group(list(g[0]), [list(c) for c in g[1]]))
                  for i, g in enumerate(groups)]
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(len(g.conts) for g in groups), unit="seq", desc=f"scoring ({mode})",
                   disable=not progress)
        t0 = time.perf_counter()
        while True:
            try:
                with torch.inference_mode():
                    out = self._cached(groups, bar) if mode == "cached" else self._naive(groups, bar)
                break
            except Exception as e:  # out of memory: halve the batch and run the call again, from its start
                if not is_oom(e) or (self.token_budget == 1 and self.naive_batch_size == 1):
                    raise
                self._halve(e)
                bar.reset()
        bar.close()
        self._stats["seconds"] += time.perf_counter() - t0
        self._stats["groups"] += len(groups)
        self._stats["sequences"] += sum(len(g.conts) for g in groups)
        return out

    def _halve(self, err: BaseException) -> None:
        """Halve every batch budget after an out-of-memory error; they stay halved for later calls."""
        self.token_budget = max(1, self.token_budget // 2)
        self.kv_budget = max(1, self.kv_budget // 2)
        self.naive_batch_size = max(1, self.naive_batch_size // 2)
        self._stats["oom_retries"] += 1
        log.warning("out of memory (%s); retrying with token_budget=%d, kv_budget=%d, naive_batch_size=%d",
                    str(err).splitlines()[0][:120] if str(err) else type(err).__name__, self.token_budget,
                    self.kv_budget, self.naive_batch_size)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _fit(self, gi: int, g: Group) -> Group:
        """Apply the overflow policy: cut response tokens from the right, keep the ``keep_tail`` tokens after them."""
        conts = []
        for j, c in enumerate(g.conts):
            total = len(g.prefix) + len(c)
            if total == 0:
                raise ValueError(f"group {gi}, continuation {j}: prefix and continuation are both empty; "
                                 "nothing to score")
            if total <= self.max_length:
                conts.append(c)
                continue
            where = (f"group {gi}, continuation {j}: {len(g.prefix)} prefix + {len(c)} continuation tokens = {total} "
                     f"exceed max_length {self.max_length}")
            if self.overflow == "error":
                raise ContextOverflowError(f"{where}; shorten the inputs, raise max_length, or set overflow='truncate'")
            tail = min(g.keep_tail, len(c))
            keep = len(c) - tail - (total - self.max_length)  # response tokens that still fit
            if keep < 0:
                raise ContextOverflowError(f"{where}, even with the response dropped entirely (prefix + {tail} tokens "
                                           "after the response); shorten the conversation or raise max_length")
            conts.append(c[:keep] + c[len(c) - tail:])
            self._stats["truncated"] += 1
        return Group(g.prefix, conts, g.keep_tail)

    def _count(self, rows: int, padded_len: int, real: int) -> None:
        self._stats["forwards"] += 1
        self._stats["rows"] += rows
        self._stats["tokens_computed"] += rows * padded_len
        self._stats["tokens_real"] += real

    def _chunks(self, lengths_desc: list[int], prefix_len: int) -> list[list[int]]:
        """Split positions of descending padded lengths into chunks of one padded length each, under both budgets
        (a lone row is always allowed)."""
        chunks, cur = [], []
        for j, n in enumerate(lengths_desc):
            padded = lengths_desc[cur[0]] if cur else n  # descending: the chunk's first row is its longest
            rows = len(cur) + 1
            if cur and (n != padded or rows * padded > self.token_budget
                        or rows * (prefix_len + padded) > self.kv_budget):
                chunks.append(cur)
                cur = []
            cur.append(j)
        return chunks + [cur] if cur else chunks

    def _cached(self, groups: list[Group], bar) -> list[torch.Tensor]:
        """Prefixes batched in waves (one forward per wave), then every continuation of the wave on top of them.

        Groups are sorted by prefix length so that a wave pads its prefixes little. Continuations of a wave are
        sorted by length and cut into chunks that may mix groups: each row attends to its own group's prefix
        states, with the wave's prefix padding masked out and positions continuing from its own prefix length.
        """
        dev = self.device
        prefixes, conts = [], []
        for gi, g in enumerate(groups):
            p, c = g.prefix, g.conts
            if c and p:  # every row starts with the prefix's last token: an empty reply gets a token to pool at,
                p, c = p[:-1], [p[-1:] + x for x in c]  # and no row's split depends on whether a neighbour is empty
            prefixes.append(p)
            conts.append(c)
        res: list[list[torch.Tensor | None]] = [[None] * len(c) for c in conts]
        order = sorted((gi for gi in range(len(groups)) if conts[gi]), key=lambda gi: -len(prefixes[gi]))
        for wave in self._chunks([quantize(len(prefixes[gi]), PREFIX_QUANTUM) for gi in order], 0):
            gids = [order[j] for j in wave]
            plen = [len(prefixes[gi]) for gi in gids]
            P = quantize(plen[0], PREFIX_QUANTUM)  # the wave's padded prefix length, the same for all its groups
            kv = self._prefix_states([prefixes[gi] for gi in gids], P) if P else None  # (G, kv_heads, P, head_dim)
            rows = sorted(((w, j) for w, gi in enumerate(gids) for j in range(len(conts[gi]))),
                          key=lambda r: -len(conts[gids[r[0]]][r[1]]))
            for chunk in self._chunks([quantize(len(conts[gids[w]][j]), CONT_QUANTUM) for w, j in rows], P):
                picked = [rows[i] for i in chunk]
                seqs = [conts[gids[w]][j] for w, j in picked]
                lens = [len(x) for x in seqs]
                B, L = len(picked), quantize(lens[0], CONT_QUANTUM)
                if self._window and P + L > self._window:
                    raise ValueError(f"{P + L} tokens (padded prefix + continuation) exceed the model's sliding window "
                                     f"{self._window}, which the cached path does not support; use mode='naive'")
                ids = torch.zeros(B, L, dtype=torch.long)
                mask = torch.zeros(B, P + L, dtype=torch.long)  # [own prefix | wave padding | continuation | pad]
                start = torch.tensor([plen[w] for w, _ in picked])  # (B,): each row's own prefix length
                for r, ((w, _), x) in enumerate(zip(picked, seqs)):
                    ids[r, :lens[r]] = torch.tensor(x)
                    mask[r, :plen[w]] = 1
                    mask[r, P:P + lens[r]] = 1
                # (B, L): each row's own positions on; pads (after every real token) capped at a learned table's end
                pos = (start[:, None] + torch.arange(L)).clamp(max=self.max_length - 1)
                past = rows_cache(pick_rows(kv, [w for w, _ in picked]), self.config) if kv else None
                h = self.body(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                              past_key_values=past, use_cache=past is not None).last_hidden_state  # (B, L, H)
                pooled = h[torch.arange(B, device=dev), torch.tensor(lens, device=dev) - 1]  # (B, H)
                for (w, j), y in zip(picked, head_rows(self.head, pooled).float().cpu()):
                    res[gids[w]][j] = y
                self._count(B, L, sum(lens))
                bar.update(B)
        return [torch.stack(r) if r else torch.empty(0, 0) for r in res]

    def _prefix_states(self, prefixes: list[list[int]], P: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Keys and values (G, kv_heads, P, head_dim) per layer of right-padded prefixes, from one forward."""
        dev = self.device
        ids = torch.zeros(len(prefixes), P, dtype=torch.long)
        mask = torch.zeros(len(prefixes), P, dtype=torch.long)
        for r, p in enumerate(prefixes):
            ids[r, :len(p)] = torch.tensor(p)
            mask[r, :len(p)] = 1
        pos = torch.arange(P).clamp(max=self.max_length - 1).expand(len(prefixes), P)  # pads capped, as in _cached
        cache = self.body(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev), use_cache=True)
        cache = cache.past_key_values
        self._count(len(prefixes), P, sum(map(len, prefixes)))
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _naive(self, groups: list[Group], bar) -> list[torch.Tensor]:
        dev = self.device
        flat = [(gi, j, g.prefix + c) for gi, g in enumerate(groups) for j, c in enumerate(g.conts)]
        res: dict[tuple[int, int], torch.Tensor] = {}
        for s in range(0, len(flat), self.naive_batch_size):
            batch = flat[s:s + self.naive_batch_size]
            lens = [len(x[2]) for x in batch]
            B, L = len(batch), max(lens)
            ids = torch.zeros(B, L, dtype=torch.long)
            mask = torch.zeros(B, L, dtype=torch.long)
            for r, (_, _, seq) in enumerate(batch):
                sl = slice(L - lens[r], L) if self.padding_side == "left" else slice(0, lens[r])
                ids[r, sl] = torch.tensor(seq)
                mask[r, sl] = 1
            # positions count real tokens only, so a left-padded row gets the same positions as a right-padded one
            pos = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, L)
            h = self.body(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                          use_cache=False).last_hidden_state  # (B, L, H)
            last = torch.full((B,), L - 1) if self.padding_side == "left" else torch.tensor(lens) - 1
            pooled = h[torch.arange(B, device=dev), last.to(dev)]  # (B, H)
            for (gi, j, _), y in zip(batch, self.head(pooled).float().cpu()):
                res[gi, j] = y
            self._count(B, L, sum(lens))
            bar.update(B)
        return [torch.stack([res[gi, j] for j in range(len(g.conts))]) if g.conts else torch.empty(0, 0)
                for gi, g in enumerate(groups)]


def torch_placement(device: str, dtype: str) -> dict:
    """Device type and dtype name an HF model (PM, LM judge) really runs with: ``auto`` resolved as it loads."""
    dev = resolve_device(device)
    return {"device": dev.type, "dtype": str(resolve_dtype(dtype, dev)).removeprefix("torch.")}
