"""Write tiny random-weight checkpoints of real model families, made locally (nothing downloaded).

    python scripts/tiny_models.py DIR

writes DIR/llama (LlamaForCausalLM, Llama-3 chat format), DIR/qwen2 (Qwen2ForCausalLM, ChatML) and DIR/llama-rm
(LlamaForSequenceClassification with one logit and a pad token, shaped like Skywork-Reward-V2-Llama-3.1). Each has
a byte-level BPE tokenizer trained here on the bundled data texts, the family's real special tokens and chat template,
and a generation_config.json. Seeded: the same script writes the same files. A few MB each, ~2 s in all.

Random weights say nothing about quality; they exercise what breaks on real families: chat templates and generation
prompts, BOS handling (the Llama 3 template writes <|begin_of_text|> itself and the tokenizer adds it too), padding,
EOS/stop tokens (the end-of-turn token has a logit bias, so replies end at it often), the classifier head, and
max_position_embeddings.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

BUNDLED = Path(__file__).resolve().parents[1] / "bon" / "data" / "bundled"
VOCAB = 1024
MAX_POS = 2048
HIDDEN = 128  # 2 heads of 64 (a head size every vLLM attention backend takes), 1 KV head (GQA, as both families)
SEED = 0
STOP_BIAS = 0.5  # end-of-turn logit ~ 11 * STOP_BIAS over a near-flat rest: replies stop after ~10 tokens on average

LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if loop.first and message['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                  "<|finetune_right_pad_id|>"]
QWEN2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def corpus() -> list[str]:
    """Every string in the bundled data files: the texts the tests will tokenize."""
    out: list[str] = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for path in sorted(BUNDLED.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                walk(json.loads(line))
    # Real families' vocabularies hold yes/no as single tokens (the prompted PM and LM judge read their log-odds).
    return out + ["Yes yes No no. " * 200]


def train_tokenizer(special: list[str], bos: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer=trainer)
    if bos is not None:  # Llama 3: the tokenizer prepends <|begin_of_text|>, as the real one does
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def hf_tokenizer(family: str):
    from transformers import PreTrainedTokenizerFast

    if family == "llama":
        raw = train_tokenizer(LLAMA3_SPECIAL, "<|begin_of_text|>")
        return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
                                       chat_template=LLAMA3_TEMPLATE, model_max_length=MAX_POS)
    raw = train_tokenizer(QWEN2_SPECIAL, None)
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHATML_TEMPLATE, model_max_length=MAX_POS, padding_side="left")


def _bias_stop(model, stop_id: int) -> None:
    """Give ``stop_id`` a constant logit bias: a residual dimension held constant by every token, read by its row.

    Dimension 0 of every embedding is 1, no layer writes to it (zero rows in o_proj and down_proj), so after the
    final RMSNorm it is a large constant; only the stop token's lm_head row reads it.
    """
    import torch

    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 1.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[0, :] = 0.0
            layer.mlp.down_proj.weight[0, :] = 0.0
        head = model.lm_head.weight
        head[:, 0] = 0.0
        head[stop_id, 0] = STOP_BIAS


def build(family: str, out: Path) -> None:
    import torch
    from transformers import (GenerationConfig, LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification,
                              Qwen2Config, Qwen2ForCausalLM)

    tok = hf_tokenizer("qwen2" if family == "qwen2" else "llama")
    ids = {t: tok.convert_tokens_to_ids(t) for t in tok.all_special_tokens + LLAMA3_SPECIAL + QWEN2_SPECIAL
           if tok.convert_tokens_to_ids(t) is not None and tok.convert_tokens_to_ids(t) != tok.unk_token_id}
    shape = dict(vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=MAX_POS,
                 tie_word_embeddings=False, torch_dtype="float32")
    torch.manual_seed(SEED)
    if family == "qwen2":
        cfg = Qwen2Config(**shape, bos_token_id=None, eos_token_id=ids["<|im_end|>"],
                          pad_token_id=ids["<|endoftext|>"], rope_theta=1000000.0, use_sliding_window=False)
        model = Qwen2ForCausalLM(cfg)
        _bias_stop(model, ids["<|im_end|>"])
        gen = GenerationConfig(bos_token_id=None, eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                               pad_token_id=ids["<|endoftext|>"], do_sample=True, temperature=0.7, top_p=0.8)
    else:
        eos = [ids["<|end_of_text|>"], ids["<|eot_id|>"]]
        common = dict(bos_token_id=ids["<|begin_of_text|>"], rope_theta=500000.0)
        if family == "llama":
            cfg = LlamaConfig(**shape, **common, eos_token_id=eos)
            model = LlamaForCausalLM(cfg)
            _bias_stop(model, ids["<|eot_id|>"])
            gen = GenerationConfig(bos_token_id=ids["<|begin_of_text|>"], eos_token_id=eos, do_sample=True,
                                   temperature=0.6, top_p=0.9)
        else:  # llama-rm: Skywork-Reward-V2-Llama-3.1 shape: one raw logit, a pad token set (right padding)
            tok.pad_token = "<|finetune_right_pad_id|>"
            cfg = LlamaConfig(**shape, **common, eos_token_id=ids["<|eot_id|>"],
                              pad_token_id=ids["<|finetune_right_pad_id|>"], num_labels=1,
                              architectures=["LlamaForSequenceClassification"])
            model = LlamaForSequenceClassification(cfg)
            gen = None
    model = model.to(torch.float32).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    if gen is not None:
        gen.save_pretrained(out)


FAMILIES = ("llama", "qwen2", "llama-rm")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(argv[0])
    for family in FAMILIES:
        build(family, root / family)
        print(root / family)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
