"""The PM reads a reply exactly as its chat template renders it: the template's whitespace trimming applies, and no
BPE split is introduced where the reply starts (checked on a Llama-3-style template, which trims message content)."""
import pytest
import torch

from bon.models import resolve
from bon.scoring import Variant, apply_variant, make_pm
from bon.scoring.engine import encode_rendered

# Llama 3's shape: header tokens, content | trim, an end-of-turn token, no newline after it.
LLAMA3_STYLE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
CONV = [{"role": "user", "content": "What is the capital of Australia? I think the answer is Sydney."}]
REPLIES = ["  You mentioned Sydney, but the capital is Canberra.  \n", "Sydney.", "\nCanberra!\n\n", "Canberra"]
VARIANT = Variant("truthful", prefix=({"role": "user", "content": "Be truthful."},
                                      {"role": "assistant", "content": "I will."}))


@pytest.fixture(scope="module")
def llama3_rm(tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(resolve("bundled:smollm2-135m-instruct"))
    tok.chat_template = LLAMA3_STYLE
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=1, num_key_value_heads=1, num_labels=1, pad_token_id=2,
                      max_position_embeddings=1024, initializer_range=0.2)
    path = tmp_path_factory.mktemp("llama3_rm")
    LlamaForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_pm_token_ids_equal_apply_chat_template(llama3_rm):
    pm = make_pm("classifier", model=llama3_rm, device="cpu")
    for variant in (Variant("standard"), VARIANT):
        before, after = pm.split(CONV, "", variant)
        texts = [pm.render(CONV, "", r, variant, before, after) for r in REPLIES]
        group = encode_rendered(pm.tokenizer, before, texts, after)
        for r, cont in zip(REPLIES, group.conts):
            msgs = apply_variant(CONV, variant) + [{"role": "assistant", "content": r}]
            want = pm.tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=False)
            want = want["input_ids"] if hasattr(want, "keys") else want
            assert group.prefix + cont == list(want), r
        assert len(group.prefix) > 10  # the shared dialog is still computed once


def test_pm_scores_the_rendered_reply(llama3_rm):
    """Rewards equal a plain forward of the model over apply_chat_template's ids; trimmed-equal replies tie."""
    from transformers import AutoModelForSequenceClassification

    pm = make_pm("classifier", model=llama3_rm, device="cpu")
    got = pm.score([CONV] * len(REPLIES), [""] * len(REPLIES), REPLIES, progress=False)
    model = AutoModelForSequenceClassification.from_pretrained(llama3_rm).eval()
    for r, g in zip(REPLIES, got):
        ids = pm.tokenizer.apply_chat_template(CONV + [{"role": "assistant", "content": r}], tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        with torch.no_grad():
            want = model(torch.tensor([ids])).logits[0, 0].item()
        assert g == pytest.approx(want, abs=1e-4)
    assert got[2] == pytest.approx(float(pm.score([CONV], [""], ["Canberra!"], progress=False)[0]), abs=1e-5)
