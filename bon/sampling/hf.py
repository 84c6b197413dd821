"""Sampler on transformers ``generate``: batched across prompts, with per-prompt seeds (Gumbel-max sampling).

Sampling is done by :class:`GumbelSampling`, a ``LogitsProcessor`` under greedy decoding: it tempers the raw logits,
applies top-p, then adds Gumbel noise drawn from a ``torch.Generator`` of its own for every row. Row = one
(prompt, sample j) pair, seeded with ``prompt_seed(seed, prompt.key) + j``; the argmax of logits/T + Gumbel noise
is an exact draw from softmax(logits/T) (the Gumbel-max trick; Gumbel 1954, see e.g. Maddison et al. 2014 "A*
Sampling"). This is the same trick vLLM's sampler uses (``probs / Exponential`` noise).

What is reproducible: the same (seed, prompt key, m, temperature, top_p, max_new_tokens) gives the same samples
whatever the batch size, the batch neighbours, the prompt order or the shard a prompt lands in, on the same machine,
device and dtype. Sample j of a prompt is the same for any m > j. The only coupling between rows is floating-point:
a different batch shape or amount of left padding can change the logits in the last bits, which flips a sample only
when two perturbed logits nearly tie (rare, but not impossible). Different devices/dtypes/library versions give
different (equally valid) samples.

The model card's generation defaults (top_k, repetition penalty, ...) are deliberately ignored: we sample from the
policy's raw distribution, tempered and top-p filtered only as configured.
"""
from __future__ import annotations

import gc

from tqdm.auto import tqdm

from bon.chat import Prompt, render_generation_prompt
from bon.models import resolve
from bon.sampling.base import (SAMPLERS, Completion, check_params, check_sample_args, fit_prompt, new_stats,
                               prompt_limit, prompt_seed)

DEVICES = ("auto", "cpu", "cuda")


def top_p_filter(logits, top_p: float):
    """Set to -inf the logits outside the smallest set whose probability reaches ``top_p`` (always keeps the top one).

    Args:
        logits: (rows, V) tempered logits.
        top_p: nucleus mass in (0, 1).
    Returns:
        (rows, V) logits with the tail masked.
    """
    import torch

    sorted_logits, idx = torch.sort(logits, dim=-1, descending=False)  # ascending, as HF's and vLLM's top-p
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop = cum <= 1 - top_p  # the low tail whose total mass is at most 1 - top_p
    drop[:, -1] = False
    return logits.masked_fill(drop.scatter(1, idx, drop), float("-inf"))


class GumbelSampling:
    """A ``LogitsProcessor`` that turns greedy decoding into exact sampling with one random stream per row.

    Duck-typed (generate() only calls it), so importing bon.sampling needs no transformers. It also records, per
    step, the chosen token and its log-probability under the raw (untempered) distribution: what
    ``output_logits=True`` would give, without keeping (steps, rows, V) logits in memory (3 GB for 128 rows x 128
    steps of SmolLM2's 49k vocabulary).
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        self.seeds = seeds  # one per row
        self.temperature = temperature
        self.top_p = top_p
        self.gens = None  # made on the first call, on the device of the logits
        self.chosen = []  # per step: (rows,) token ids
        self.logprobs = []  # per step: (rows,) log p_raw(chosen)

    def __call__(self, input_ids, scores):  # scores: (rows, V) raw next-token logits, float32
        import torch

        raw_lp = torch.log_softmax(scores.float(), dim=-1)
        if self.temperature == 0:
            x = scores
        else:
            x = scores.float() / self.temperature
            if self.top_p < 1:
                x = top_p_filter(x, self.top_p)
            if self.gens is None:
                self.gens = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
            noise = torch.empty_like(x)  # (rows, V) Exponential(1); -log of it is Gumbel(0, 1)
            for row, g in enumerate(self.gens):  # a row draws the same numbers whatever its batch neighbours
                noise[row].exponential_(generator=g)
            x = x - noise.clamp_min_(torch.finfo(noise.dtype).tiny).log()
        chosen = x.argmax(dim=-1)
        self.chosen.append(chosen)
        self.logprobs.append(raw_lp.gather(1, chosen[:, None])[:, 0])
        return x


@SAMPLERS.register("hf")
class HFSampler:
    """Draw completions with transformers.

    Args:
        model: model reference for :func:`bon.models.resolve` (``bundled:NAME``, a folder, a hub id).
        temperature: softmax temperature (0 = greedy).
        top_p: nucleus sampling mass in (0, 1].
        max_new_tokens: most tokens per completion (the stop token included).
        overlength: what to do with prompts longer than the context minus max_new_tokens: "skip" or "truncate".
        device: "auto" (all visible GPUs through accelerate's device_map, else CPU), "cpu" or "cuda".
        dtype: torch dtype name, or "auto": float32 on CPU, bfloat16 on CUDA.
        prompts_per_batch: prompts per ``generate`` call; each brings m rows.
        max_model_len: context length; default the model's ``max_position_embeddings``.
    """

    version = 1  # bump when a change here moves the samples: re-keys this backend's samples only (keys.versioned)

    @staticmethod
    def placement(device: str, dtype: str | None) -> tuple[str, str]:
        """(device type, dtype name) the sampler runs with: ``auto`` device is CUDA when torch sees a GPU, ``auto``
        dtype bfloat16 on CUDA and float32 on CPU."""
        import torch

        on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if dtype in (None, "auto"):
            dtype = "bfloat16" if on_gpu else "float32"
        return ("cuda" if on_gpu else "cpu"), dtype

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        """Constructor arguments of this backend from the sampler config node, beyond the shared decoding ones."""
        return {"prompts_per_batch": cfg.prompts_per_batch, "device": cfg.device, "dtype": cfg.dtype,
                "max_model_len": cfg.max_model_len}

    @classmethod
    def store_identity(cls, cfg, policy: str) -> dict:
        """What this backend adds to the sample key (cfg: the sampler config node): the placement it really runs
        with, so a CPU fp32 run and a GPU bf16 run never share samples."""
        device, dtype = cls.placement(cfg.device, cfg.dtype)
        return {"device": device, "dtype": dtype}

    def __init__(self, model: str, temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 128,
                 overlength: str = "skip", device: str = "auto", dtype: str = "auto",
                 prompts_per_batch: int = 8, max_model_len: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        check_params(temperature, top_p, max_new_tokens, overlength)
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if not (isinstance(prompts_per_batch, int) and prompts_per_batch >= 1):
            raise ValueError(f"prompts_per_batch must be an int >= 1, got {prompts_per_batch!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no GPU; use device='auto' or 'cpu'")
        placed, dtype = self.placement(device, dtype)
        on_gpu = placed == "cuda"
        if not (isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype)):
            raise ValueError(f"dtype must be a torch dtype name such as float32 or bfloat16, got {dtype!r}")

        self.temperature, self.top_p, self.max_new_tokens = float(temperature), float(top_p), max_new_tokens
        self.overlength, self.prompts_per_batch = overlength, prompts_per_batch
        self.stats = new_stats()
        self.path = resolve(model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=getattr(torch, dtype), device_map="auto" if device == "auto" and on_gpu else
            {"": "cuda" if on_gpu else "cpu"})
        self.model.eval()

        gen = self.model.generation_config
        eos = {self.tokenizer.eos_token_id} | set(_as_list(gen.eos_token_id))
        self.stop_ids = sorted(i for i in eos if i is not None)
        if not self.stop_ids:
            raise ValueError(f"{self.path}: neither the tokenizer nor generation_config names an EOS token")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        # A clean config: generate() fills unset fields from model.generation_config, and model-card defaults
        # (top_k=50, repetition_penalty, ...) would bend the distribution we mean to sample.
        self.model.generation_config = GenerationConfig(eos_token_id=self.stop_ids, pad_token_id=self.pad_id,
                                                        bos_token_id=gen.bos_token_id)

        context = max_model_len or getattr(self.model.config, "max_position_embeddings", None)
        if not context:
            raise ValueError(f"{self.path}: config has no max_position_embeddings; pass max_model_len")
        self.context = int(context)
        self.limit = prompt_limit(self.context, max_new_tokens)

    def sample(self, prompts: list[Prompt], m: int, seed: int, progress: bool = True) -> list[list[Completion]]:
        """Draw m completions for every prompt.

        Args:
            prompts: prompts with unique, non-empty keys (the per-prompt seed is derived from the key).
            m: completions per prompt.
            seed: run seed.
            progress: show a tqdm bar over prompts.
        Returns:
            One list per prompt, same order as ``prompts``: m completions, or [] for a prompt skipped as overlength.
        """
        prompts = list(prompts)
        check_sample_args(prompts, m, seed)
        if self.model is None:
            raise RuntimeError("this HFSampler was closed; build a new one to sample again")
        todo = []  # (index, token ids)
        for i, p in enumerate(prompts):
            text = render_generation_prompt(self.tokenizer, p.conversation, p.prefill)
            # The chat template already holds any BOS the model wants; add_special_tokens would add a second.
            ids = fit_prompt(self.tokenizer(text, add_special_tokens=False).input_ids, p.key, self.limit,
                             self.overlength, self.stats)
            if ids is not None:
                todo.append((i, ids))
        # Length-sorted batches waste less on padding; per-row seeds make the order irrelevant to the samples.
        todo.sort(key=lambda t: len(t[1]))
        out: list[list[Completion]] = [[] for _ in prompts]
        bar = tqdm(total=len(todo), desc="sampling (hf)", unit="prompt", disable=not progress)
        for b in range(0, len(todo), self.prompts_per_batch):
            batch = todo[b:b + self.prompts_per_batch]
            for (i, _), comps in zip(batch, self._generate(batch, prompts, m, seed)):
                out[i] = comps
            bar.update(len(batch))
        bar.close()
        return out

    def _generate(self, batch, prompts, m, seed) -> list[list[Completion]]:
        import torch

        rows = [(ids, (prompt_seed(seed, prompts[i].key) + j) % 2**63) for i, ids in batch for j in range(m)]
        width = max(len(ids) for ids, _ in rows)
        # Left padding: every row's next token sits in the last column.  (rows, width)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids, _ in rows])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in rows])
        proc = GumbelSampling([s for _, s in rows], self.temperature, self.top_p)
        device = self.model.device
        with torch.inference_mode():
            seqs = self.model.generate(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                                       do_sample=False, num_beams=1, max_new_tokens=self.max_new_tokens,
                                       logits_processor=[proc])
        new = seqs[:, width:].cpu()  # (rows, steps)
        chosen = torch.stack(proc.chosen, dim=1).cpu()  # (rows, steps)
        lps = torch.stack(proc.logprobs, dim=1).double().cpu()  # (rows, steps)
        stops = torch.isin(new, torch.tensor(self.stop_ids))
        comps = []
        for r in range(new.shape[0]):
            hit = stops[r].nonzero()
            n = int(hit[0]) + 1 if len(hit) else new.shape[1]
            if not torch.equal(chosen[r, :n], new[r, :n]):
                # generate() applied a processor after ours; the recorded logprobs would be wrong.
                raise RuntimeError("HF generate did not pick the tokens GumbelSampling chose; a logits processor "
                                   "from the model's generation config interferes")
            toks = new[r, :n - 1].tolist() if len(hit) else new[r, :n].tolist()
            comps.append(Completion(text=self.tokenizer.decode(toks, skip_special_tokens=True), n_tokens=n,
                                    finish_reason="stop" if len(hit) else "length", logprob=float(lps[r, :n].sum())))
        return [comps[k:k + m] for k in range(0, len(comps), m)]

    def close(self) -> None:
        """Free the model (and GPU memory) so another model can load in this process."""
        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]
