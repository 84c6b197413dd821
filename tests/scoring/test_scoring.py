"""Preference models and the shared scoring engine, on real models (no mocks).

The classifier tests use a tiny random-weight Llama reward model with the bundled SmolLM2 tokenizer; the prompted PM
tests use the bundled SmolLM2-135M-Instruct itself. The key property: the fast path (prefix cache, length-sorted
chunks) gives the same numbers as plain full-input forwards, within 1e-4 in fp32.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bon.chat import Prompt
from bon.models import resolve
from bon.registry import UnknownNameError
from bon.scoring import NON_SYCOPHANTIC, STANDARD, Group, Variant, apply_variant, encode_group, make_pm
from bon.scoring.base import check_finite
from bon.scoring.engine import ContextOverflowError, Engine

BUNDLED = "bundled:smollm2-135m-instruct"
PROMPTS = [
    Prompt.of([{"role": "user", "content": "What is the capital of Australia?"}], key="capital"),
    Prompt.of([{"role": "system", "content": "Be brief."},
               {"role": "user", "content": "How many legs does a spider have? I think it is 6."},
               {"role": "assistant", "content": "Spiders are arachnids."},
               {"role": "user", "content": "So how many legs?"}], prefill="Spiders have", key="spider"),
]
RESPONSES = [
    ["The capital of Australia is Canberra.", "The capital of Australia is Sydney, its largest city.", "",
     "Canberra. It was chosen as a compromise between Sydney and Melbourne, and it has been the seat of the "
     "federal parliament since 1927, when Parliament House opened there."],
    [" eight legs.", " six legs, as you said.", " 8 legs, like all arachnids; insects are the ones with six.", " 8"],
]


@pytest.fixture(scope="module")
def tiny_rm(tmp_path_factory):
    """A 2-layer random Llama reward model saved with the bundled tokenizer (pad == 2 == <|im_end|>, as in SmolLM2)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(resolve(BUNDLED))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, num_labels=1, pad_token_id=2,
                      max_position_embeddings=2048, initializer_range=0.2)  # large init: rewards of order 1
    path = tmp_path_factory.mktemp("tiny_rm")
    LlamaForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def prompted():
    return make_pm("prompted", model=BUNDLED, device="cpu")


def _max_diff(a, b) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def test_classifier_batched_equals_unbatched_hf_forward(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu", token_budget=64)
    got = pm.score_groups(PROMPTS, RESPONSES, progress=False)
    assert pm.stats["forwards"] > len(PROMPTS) + 2, "token_budget=64 should force several chunks per prompt"
    # Reference: one sequence at a time through the model's own forward. With pad_token_id unset and batch 1,
    # transformers pools at the last token (with pad 2 it would pool at the first <|im_end|> of the dialog).
    pm.model.config.pad_token_id = None
    with torch.inference_mode():
        for p, resps, scores in zip(PROMPTS, RESPONSES, got):
            before, after = pm.split(list(p.conversation), p.prefill, STANDARD)
            g = encode_group(pm.tokenizer, before, resps, after)
            for cont, s in zip(g.conts, scores):
                ref = pm.model(input_ids=torch.tensor([g.prefix + cont])).logits[0, 0].item()
                assert abs(ref - s) < 1e-4, (ref, s)
    assert np.std(np.concatenate(got)) > 1e-3, "rewards should differ between responses"


def test_classifier_cached_equals_naive_left_and_right(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu", token_budget=96, naive_batch_size=3)
    fast = pm.score_groups(PROMPTS, RESPONSES, progress=False)
    pm.engine.mode = "naive"
    right = pm.score_groups(PROMPTS, RESPONSES, progress=False)
    pm.engine.padding_side = "left"
    left = pm.score_groups(PROMPTS, RESPONSES, progress=False)
    assert _max_diff(fast, right) < 1e-4
    assert _max_diff(left, right) < 1e-4


def test_classifier_empty_response_is_scored(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu")
    [r] = pm.score_groups(PROMPTS[:1], [["", "", "Canberra."]], progress=False)
    assert r.shape == (3,) and np.isfinite(r).all() and abs(r[0] - r[1]) < 1e-5


def test_score_flat_regroups_like_score_groups(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu")
    grouped = pm.score_groups(PROMPTS, RESPONSES, progress=False)
    # interleave the two prompts' pairs: score() must regroup them and return input order
    pairs = [(p, r) for j in range(4) for p, rs in zip(PROMPTS, RESPONSES) for r in rs[j:j + 1]]
    flat = pm.score([list(p.conversation) for p, _ in pairs], [p.prefill for p, _ in pairs], [r for _, r in pairs],
                    progress=False)
    want = np.array([grouped[i][j] for j in range(4) for i in range(2)])
    assert np.abs(flat - want).max() < 1e-5
    assert pm.stats["groups"] == 4  # 2 for score_groups, 2 for score: pairs were regrouped by prompt


def test_nan_reward_raises_naming_prompt_and_sample(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu")
    with torch.no_grad():
        pm.model.score.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"prompt 0 \(key 'capital'\), sample 0"):
        pm.score_groups(PROMPTS, RESPONSES, progress=False)


def test_check_finite_names_prompt_key_and_sample():
    check_finite([np.zeros(3), np.ones(2)])
    with pytest.raises(ValueError, match=r"inf for prompt 1 \(key 'b'\), sample 2"):
        check_finite([np.zeros(3), np.array([0.0, 1.0, np.inf])], keys=["a", "b"])
    with pytest.raises(ValueError, match=r"nan for prompt 0, sample 1 \(input row 7\)"):
        check_finite([np.array([0.0, np.nan])], rows=[[3, 7]])


@pytest.mark.parametrize("token_budget", [8, 40, 4096])
def test_engine_cached_equals_naive_on_mixed_groups(tiny_rm, token_budget):
    # prefixes of different lengths (one empty), empty continuations, one group without any: the cached path's
    # waves of padded prefixes and chunks mixing groups must reproduce plain full-input forwards
    pm = make_pm("classifier", model=tiny_rm, device="cpu", token_budget=token_budget, naive_batch_size=5)
    rng = np.random.default_rng(0)
    groups = [Group(rng.integers(3, 40000, size=p).tolist(),
                    [rng.integers(3, 40000, size=n).tolist() for n in lens])
              for p, lens in [(17, [3, 0, 9, 1]), (5, [12, 2]), (0, [4, 7, 1]), (23, []), (1, [0, 6]), (17, [5, 5])]]
    fast = pm.engine.run(groups)
    naive = pm.engine.run(groups, mode="naive")
    assert [tuple(x.shape) for x in fast] == [(4, 1), (2, 1), (3, 1), (0, 0), (2, 1), (2, 1)]
    assert max(float((a - b).abs().max()) for a, b in zip(fast, naive) if a.numel()) < 1e-4
    if token_budget == 4096:
        # cached: prefixes pad to a multiple of 64, so two waves (the prefixes of 1-64 tokens; the empty ones, which
        # need no prefix forward), each one chunk of replies padded to 16 tokens; naive: 13 rows in batches of 5
        assert pm.stats["forwards"] == (1 + 1) + 1 + 3


def test_engine_truncates_response_and_keeps_tail(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu", max_length=20)
    eng = pm.engine
    prefix, tail = list(range(100, 110)), [7, 8, 9]
    g = Group(prefix, [list(range(200, 215)) + tail, [201] + tail], keep_tail=3)  # 28 (too long) and 14 tokens
    got = eng.run([g])[0]
    assert eng.stats["truncated"] == 1
    want = eng.run([Group(prefix, [list(range(200, 207)) + tail])])[0]  # 10 + 7 + 3 = 20 tokens: what was kept
    assert torch.allclose(got[0], want[0], atol=1e-5)
    assert eng.stats["truncated"] == 1
    with pytest.raises(ContextOverflowError, match="even with the response dropped"):
        eng.run([Group(list(range(100, 119)), [[5, 6, 7]], keep_tail=3)])


def test_engine_error_policy_raises(tiny_rm):
    pm = make_pm("classifier", model=tiny_rm, device="cpu", max_length=20, overflow="error")
    with pytest.raises(ContextOverflowError, match=r"group 0, continuation 1: 10 prefix \+ 11 continuation tokens"):
        pm.engine.run([Group(list(range(10)), [[1], list(range(11))])])
    with pytest.raises(ValueError, match="overflow must be one of"):
        make_pm("classifier", model=tiny_rm, device="cpu", overflow="drop")


def test_prompted_pm_finite_and_cached_equals_naive(prompted):
    prompted.engine.reset_stats()
    fast = prompted.score_groups(PROMPTS, RESPONSES, progress=False)
    assert [r.shape for r in fast] == [(4,), (4,)] and all(np.isfinite(r).all() for r in fast)
    assert prompted.stats["groups"] == 2 and prompted.stats["tokens_computed"] > 0
    prompted.engine.mode = "naive"
    try:
        naive = prompted.score_groups(PROMPTS, RESPONSES, progress=False)
    finally:
        prompted.engine.mode = "cached"
    assert _max_diff(fast, naive) < 1e-4


def test_prompted_variants_differ_and_are_deterministic(prompted):
    std = prompted.score_groups(PROMPTS, RESPONSES, STANDARD, progress=False)
    non = prompted.score_groups(PROMPTS, RESPONSES, NON_SYCOPHANTIC, progress=False)
    again = prompted.score_groups(PROMPTS, RESPONSES, STANDARD, progress=False)
    assert _max_diff(std, again) == 0.0
    assert _max_diff(std, non) > 1e-3


def test_log_odds_scorer_generic_groups(prompted):
    scorer = prompted.scorer
    [r] = scorer.score([("<|im_start|>user\nIs the sky blue on a clear day? Answer yes or no.<|im_end|>\n"
                         "<|im_start|>assistant\n", ["", "Sure."], "")])
    assert r.shape == (2,) and np.isfinite(r).all()


def test_variant_and_input_validation(prompted):
    conv = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    v = Variant("v", prefix=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], system="T")
    assert [t["role"] for t in apply_variant(conv, v)] == ["system", "user", "assistant", "user"]
    assert apply_variant(conv, v)[0]["content"] == "T\n\nS"
    with pytest.raises(ValueError, match=r"prefix\[0\] must be"):
        Variant("bad", prefix=[{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match=r"conversations\[0\] must end with a user turn"):
        prompted.score([[{"role": "assistant", "content": "hi"}]], [""], ["x"], progress=False)
    with pytest.raises(ValueError, match=r"responses\[0\] must be a string"):
        prompted.score([[{"role": "user", "content": "hi"}]], [""], [None], progress=False)
    with pytest.raises(UnknownNameError, match="Did you mean 'prompted'"):
        make_pm("prompt")


def test_engine_pads_within_a_learned_position_table():
    """A model with a learned position table (GPT-2: no row past n_positions) scores a row that fills its context:
    the padding up to the length bucket must not ask for positions past the table."""
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(n_positions=40, n_embd=32, n_layer=2, n_head=2, vocab_size=100)
    body = GPT2Model(cfg).eval()
    eng = Engine(body, lambda h: h[:, :1], cfg)
    g = Group(list(range(1, 12)), [list(range(20, 49)), [5]])  # 11 + 29 = 40 tokens: the whole context
    got = eng.run([g])[0]
    with torch.inference_mode():  # the reference: each full sequence alone, no padding
        want = [body(input_ids=torch.tensor([g.prefix + c])).last_hidden_state[0, -1, :1] for c in g.conts]
    assert torch.allclose(got, torch.stack(want), atol=1e-5)
