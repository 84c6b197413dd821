"""GPU throughput of the two model stages, against the card's own limits, with random weights and no network.

One short script for an H100/H200 with PyTorch and transformers (no vllm, no downloads, no weights):

1. The card's limits, measured here: peak dense bf16 matmul TFLOP/s (square ``torch.mm``, best of several) and
   device-to-device copy bandwidth (``Tensor.copy_``, read + write bytes).
2. Policy: a random-weight ``LlamaForCausalLM`` shaped like Llama-3.2-1B, saved once to a temp folder and sampled by
   bon's ``HFSampler`` (Gumbel-max, per-row seeds) and by bare ``model.generate(do_sample=True)`` on the same
   prompts. Generated tokens/s; the fraction of the matmul roofline (2 x params FLOPs per generated token, plus the
   prefill) and of the copy bandwidth (weights read once per decode step, plus the KV cache read) each reaches.
3. PM: a random-weight ``Qwen3ForSequenceClassification`` shaped like Qwen3-0.6B, bf16, scored by bon's
   ``ClassifierPM`` (prefix reuse + length buckets), and by its naive mode (full inputs, fixed unsorted batches).
   PM tokens/s; roofline fractions as above.

The tokenizer is built in code (a word-level vocabulary ``w0 .. wV-1`` plus chat-role words and a chat template),
so prompts of an exact token length are just space-joined words. Every figure is absolute (this card, this
software); the roofline fractions are ratios to limits measured in the same run.

    python scripts/bench_gpu.py                           # on the GPU machine, about 3-5 min
    python scripts/bench_gpu.py --quick --device cpu      # tiny shapes on CPU: checks that it runs
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bon, without installing it

import torch  # noqa: E402

ROLES = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "</s>", "<pad>", "[UNK]")
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")

# (name, config kwargs). Llama-3.2-1B and Qwen3-0.6B as published in their config.json files.
LLAMA_1B = dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=4096,
                rope_theta=500000.0, tie_word_embeddings=True, rms_norm_eps=1e-5)
QWEN3_06B = dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                 num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=4096,
                 rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6, num_labels=1)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            head_dim=16, max_position_embeddings=1024)

# workload: (prompts, samples per prompt, prompt tokens, new tokens) for the policy; (prompts, M, prefix, response)
# tokens for the PM
FULL = dict(policy=(32, 8, 256, 128), pm=(64, 16, 384, 128), mm=8192, copy_mib=2048, repeats=3)
QUICK = dict(policy=(2, 2, 16, 8), pm=(2, 4, 24, 8), mm=256, copy_mib=32, repeats=2)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def best_time(fn, dev, repeats: int) -> float:
    """Best wall seconds of fn() over repeats (after one warm-up call)."""
    fn()
    sync(dev)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(dev)
        best = min(best, time.perf_counter() - t)
    return best


def peak_matmul(dev, dtype, n: int, repeats: int) -> float:
    """Dense matmul FLOP/s of an (n, n) @ (n, n) product, best of repeats x 5 back-to-back products."""
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)

    def run():
        for _ in range(5):
            torch.mm(a, b)

    return 5 * 2 * n ** 3 / best_time(run, dev, repeats)


def copy_bandwidth(dev, mib: int, repeats: int) -> float:
    """Bytes/s of a device-to-device copy, counting the read and the write."""
    x = torch.empty(mib * 2 ** 20, dtype=torch.uint8, device=dev)
    y = torch.empty_like(x)
    return 2 * x.numel() / best_time(lambda: y.copy_(x), dev, repeats)


def build_tokenizer(vocab: int, folder: Path):
    """A word-level tokenizer with ``vocab`` ids: role words first, then ``w<i>``; saved to ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast

    words = list(ROLES) + [f"w{i}" for i in range(vocab - len(ROLES))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="[UNK]")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def words(rng: torch.Generator, n: int, vocab: int) -> str:
    """n random vocabulary words: exactly n tokens."""
    ids = torch.randint(len(ROLES), vocab, (n,), generator=rng).tolist()
    return " ".join(f"w{i - len(ROLES)}" for i in ids)


def build_model(kind: str, cfg: dict, folder: Path, dev, dtype):
    """A random-weight model of the given shape, built on the device, saved to ``folder``; (model, n_params)."""
    import transformers

    cls_cfg, cls = {"policy": ("LlamaConfig", "LlamaForCausalLM"),
                    "pm": ("Qwen3Config", "Qwen3ForSequenceClassification")}[kind]
    if kind == "pm" and not hasattr(transformers, "Qwen3Config"):  # transformers < 4.51: same shape, no q/k norm
        cls_cfg, cls = "Qwen2Config", "Qwen2ForSequenceClassification"
    config = getattr(transformers, cls_cfg)(**cfg, pad_token_id=ROLES.index("<pad>"), eos_token_id=ROLES.index("</s>"),
                                            bos_token_id=None)
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(dev):
            model = getattr(transformers, cls)(config).eval()
    finally:
        torch.set_default_dtype(old)
    model.save_pretrained(folder)
    n_params = sum(p.numel() for p in model.parameters())
    return model, n_params, cls


def kv_bytes_per_token(cfg: dict, dtype) -> int:
    return 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * cfg["head_dim"] * torch.finfo(dtype).bits // 8


def policy_bench(w, dev, dtype, cfg, folder, limits, log):
    """Generated tokens/s of bon's HFSampler and of bare generate(do_sample=True), with roofline fractions."""
    n_prompts, m, plen, new = w["policy"]
    model, n_params, cls = build_model("policy", cfg, folder, dev, dtype)
    tok = build_tokenizer(cfg["vocab_size"], folder)
    rng = torch.Generator().manual_seed(1)
    texts = [words(rng, plen, cfg["vocab_size"]) for _ in range(n_prompts)]
    rows = n_prompts * m
    res = {"model": cls, "params": n_params, "prompts": n_prompts, "samples_per_prompt": m, "prompt_tokens": plen,
           "max_new_tokens": new}

    # bare: one generate call over all rows, the model's own sampler, no EOS stop (random weights rarely emit it)
    conv = [[{"role": "user", "content": t}] for t in texts]
    rendered = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conv]
    enc = tok(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    ids = enc["input_ids"].repeat_interleave(m, 0).to(dev)
    mask = enc["attention_mask"].repeat_interleave(m, 0).to(dev)

    def bare():
        with torch.inference_mode():
            return model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_p=1.0,
                                  top_k=0, max_new_tokens=new, min_new_tokens=new, pad_token_id=tok.pad_token_id)

    t_bare = best_time(bare, dev, w["repeats"])
    res["bare_tok_s"] = rows * new / t_bare
    log(f"policy bare generate: {rows} rows x {new} tokens in {t_bare:.2f}s = {res['bare_tok_s']:.0f} tok/s")
    del model
    if dev.type == "cuda":
        torch.cuda.empty_cache()

    try:  # bon's sampler: reloads the saved folder the way a user's run would
        from bon.chat import Prompt
        from bon.sampling.hf import HFSampler

        sampler = HFSampler(str(folder), temperature=1.0, top_p=1.0, max_new_tokens=new, device=dev.type,
                            dtype=str(dtype).replace("torch.", ""), prompts_per_batch=n_prompts)
        prompts = [Prompt.of(c, "", f"p{i}") for i, c in enumerate(conv)]
        out = {}

        def ours():
            out["c"] = sampler.sample(prompts, m=m, seed=0, progress=False)

        t_ours = best_time(ours, dev, w["repeats"])
        tokens = sum(c.n_tokens for cs in out["c"] for c in cs)
        res["ours_tok_s"] = tokens / t_ours
        res["ours_over_bare"] = res["ours_tok_s"] / res["bare_tok_s"]
        log(f"policy HFSampler: {tokens} tokens in {t_ours:.2f}s = {res['ours_tok_s']:.0f} tok/s "
            f"({res['ours_over_bare']:.2f} of bare)")
        sampler.close()
    except Exception as e:  # report, keep going: the limits and the PM figures still count
        res["ours_error"] = f"{type(e).__name__}: {e}"[:300]
        log(f"policy HFSampler failed: {res['ours_error']}")

    # Roofline of decode: per step every weight is read once (bf16) and each row reads its KV cache; FLOPs are
    # 2 x params per token (matmuls; the embedding gather is not a matmul, the tied lm_head is).
    wbytes = n_params * torch.finfo(dtype).bits // 8
    steps_per_s = res["bare_tok_s"] / rows
    kv = kv_bytes_per_token(cfg, dtype) * rows * (plen + new / 2)  # mean cache length over the decode
    flops_per_tok = 2 * (n_params - cfg["vocab_size"] * cfg["hidden_size"] * (0 if cfg.get("tie_word_embeddings")
                                                                              else 1))
    for name in ("bare", "ours"):
        if f"{name}_tok_s" in res:
            tps = res[f"{name}_tok_s"]
            res[f"{name}_matmul_frac"] = tps * flops_per_tok / limits["matmul_flops"]
            res[f"{name}_bw_frac"] = (tps / rows) * (wbytes + kv) / limits["copy_bytes_s"]
    res["decode_steps_per_s_bare"] = steps_per_s
    return res


def pm_bench(w, dev, dtype, cfg, folder, limits, log):
    """PM tokens/s of bon's ClassifierPM, cached (prefix reuse + buckets) and naive, with roofline fractions."""
    from bon.chat import Prompt
    from bon.scoring import make_pm

    n_prompts, m, plen, rlen = w["pm"]
    model, n_params, cls = build_model("pm", cfg, folder, dev, dtype)
    del model
    build_tokenizer(cfg["vocab_size"], folder)
    rng = torch.Generator().manual_seed(2)
    prompts = [Prompt.of([{"role": "user", "content": words(rng, plen, cfg["vocab_size"])}], "", f"q{i}")
               for i in range(n_prompts)]
    # responses of varied length, as sampled ones are: uniform in [rlen / 4, rlen]
    lens = torch.randint(max(1, rlen // 4), rlen + 1, (n_prompts, m), generator=rng).tolist()
    responses = [[words(rng, n, cfg["vocab_size"]) for n in row] for row in lens]
    pm = make_pm("classifier", model=str(folder), device=dev.type, dtype=str(dtype).replace("torch.", ""),
                 naive_batch_size=16)
    # matmul FLOPs per token: 2 x the non-embedding weights (the head runs on pooled rows only; attention's
    # score and value products, which grow with length, are left out: the fractions are lower bounds)
    flops_per_tok = 2 * (n_params - cfg["vocab_size"] * cfg["hidden_size"])
    res = {"model": cls, "params": n_params, "prompts": n_prompts, "M": m, "prefix_words": plen,
           "response_words_max": rlen}
    for mode in ("cached", "naive"):
        pm.engine.mode = mode

        def run():
            pm.engine.reset_stats()
            pm.score_groups(prompts, responses, progress=False)

        t = best_time(run, dev, w["repeats"])
        st = pm.stats
        real = st["tokens_real"]  # tokens the model ran (a cached prefix once), padding excluded
        res[f"{mode}_s"] = t
        res[f"{mode}_tok_s"] = real / t
        res[f"{mode}_seq_s"] = n_prompts * m / t
        res[f"{mode}_padding"] = st["padding_share"]
        res[f"{mode}_forwards"] = st["forwards"]
        res[f"{mode}_matmul_frac"] = st["tokens_computed"] * flops_per_tok / t / limits["matmul_flops"]
        res[f"{mode}_bw_frac"] = st["forwards"] * n_params * torch.finfo(dtype).bits // 8 / t / limits["copy_bytes_s"]
        log(f"PM {mode}: {n_prompts * m} sequences in {t:.3f}s, {res[f'{mode}_tok_s']:.0f} real tok/s, "
            f"padding {st['padding_share']:.1%}, matmul fraction {res[f'{mode}_matmul_frac']:.2f}")
    res["cached_over_naive_seq"] = res["cached_seq_s"] / res["naive_seq_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny shapes and workloads (for a CPU check)")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--dtype", default=None, help="bfloat16 (default on cuda) or float32 (default on cpu)")
    ap.add_argument("--out", default=None, help="also write the JSON result to this file")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here; run with --quick --device cpu to check the script on CPU")
    dtype = getattr(torch, args.dtype or ("bfloat16" if dev.type == "cuda" else "float32"))
    w = QUICK if args.quick else FULL
    pol_cfg, pm_cfg = dict(LLAMA_1B), dict(QWEN3_06B)
    if args.quick:
        pol_cfg.update(TINY, vocab_size=512)
        pm_cfg.update(TINY, vocab_size=512)
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    log(f"{card}, torch {torch.__version__}, dtype {dtype}")
    limits = {"matmul_flops": peak_matmul(dev, dtype, w["mm"], w["repeats"]),
              "copy_bytes_s": copy_bandwidth(dev, w["copy_mib"], w["repeats"])}
    log(f"peak matmul {limits['matmul_flops'] / 1e12:.3g} TFLOP/s ({dtype}), "
        f"copy {limits['copy_bytes_s'] / 1e9:.3g} GB/s")
    import transformers

    out = {"card": card, "torch": torch.__version__, "transformers": transformers.__version__,
           "dtype": str(dtype), "quick": args.quick, "python": platform.python_version(),
           "peak_matmul_tflops": limits["matmul_flops"] / 1e12, "copy_gb_s": limits["copy_bytes_s"] / 1e9}
    with tempfile.TemporaryDirectory(prefix="bon_gpu_") as tmp:
        out["policy"] = policy_bench(w, dev, dtype, pol_cfg, Path(tmp) / "policy", limits, log)
        try:  # bon's engine needs a recent transformers (DynamicLayer): report a failure, keep the other figures
            out["pm"] = pm_bench(w, dev, dtype, pm_cfg, Path(tmp) / "pm", limits, log)
        except Exception as e:
            out["pm"] = {"error": f"{type(e).__name__}: {e}"[:300]}
            log(f"PM bench failed: {out['pm']['error']}")
    out["seconds"] = time.perf_counter() - t0
    log("done")
    line = json.dumps(out, sort_keys=True, default=float)
    if args.out:
        Path(args.out).write_text(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
