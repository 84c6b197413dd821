"""HF sampler, HF classifier and prompted PM on tiny random Llama-3 / Qwen2 / Llama-RM checkpoints (real config
classes, real chat formats; see scripts/tiny_models.py), and batch invariance of every HF scorer's rewards."""
import numpy as np
import pytest
import torch

from bon.chat import Prompt, render_generation_prompt
from bon.scoring import make_pm
from bon.sampling.hf import HFSampler

CONV = [{"role": "user", "content": "Please comment briefly on the following argument: cities need bike lanes."}]
RESPONSES = ["Good.", "", "I think the argument is strong, though it skips the cost of upkeep. " * 3,
             "Weak: no evidence.", "It is persuasive because safety draws more riders, and riders cut traffic."]
OTHER = [{"role": "user", "content": "Which is the capital of France?"}]
HEADER = {"llama": "<|start_header_id|>assistant<|end_header_id|>\n\n", "qwen2": "<|im_start|>assistant\n"}
STOP = {"llama": "<|eot_id|>", "qwen2": "<|im_end|>"}


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_chat_template_generation_prompt_and_single_bos(tiny, family):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny / family)
    text = render_generation_prompt(tok, CONV)
    assert text.endswith(HEADER[family])
    ids = tok(text, add_special_tokens=False).input_ids
    if family == "llama":  # the template writes BOS; the tokenizer would add a second with add_special_tokens
        assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
        assert tok(text).input_ids[:2] == [tok.bos_token_id] * 2  # the trap the samplers avoid
    else:
        assert tok.bos_token_id is None and tok.pad_token == "<|endoftext|>"


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_hf_sampler_stops_at_end_of_turn(tiny, family):
    s = HFSampler(str(tiny / family), max_new_tokens=24, device="cpu")
    assert s.tokenizer.convert_tokens_to_ids(STOP[family]) in s.stop_ids
    prompts = [Prompt.of(CONV, key="a"), Prompt.of(OTHER, prefill="The answer is", key="b")]
    got = s.sample(prompts, m=6, seed=0, progress=False)
    comps = [c for cs in got for c in cs]
    stopped = [c for c in comps if c.finish_reason == "stop"]
    assert stopped, [c.finish_reason for c in comps]  # the end-of-turn token is biased: replies end at it
    for c in comps:
        assert c.finish_reason == "stop" or c.n_tokens == 24
    for c in comps:
        assert STOP[family] not in c.text and 1 <= c.n_tokens <= 24
    alone = s.sample(prompts[1:], m=6, seed=0, progress=False)  # another batch, same samples
    assert [c.text for c in alone[0]] == [c.text for c in got[1]]


def _invariance(pm, conv, responses, tol=1e-5):
    """Score each response alone, all together, in reverse order, and together with another prompt's group."""
    together = pm.score([conv] * len(responses), [""] * len(responses), responses, progress=False)
    alone = np.array([pm.score([conv], [""], [r], progress=False)[0] for r in responses])
    rev = pm.score([conv] * len(responses), [""] * len(responses), responses[::-1], progress=False)[::-1]
    mixed = pm.score([OTHER] * 2 + [conv] * len(responses), [""] * (2 + len(responses)),
                     ["x", "A much longer reply " * 8] + responses, progress=False)[2:]
    for name, other in (("alone", alone), ("reversed", rev), ("mixed", mixed)):
        np.testing.assert_allclose(other, together, atol=tol, rtol=0, err_msg=name)
    assert np.ptp(together) > 0  # the rewards differ between responses (a constant would pass trivially)
    return together


@pytest.mark.parametrize("budget", [16384, 64])
def test_hf_classifier_batch_invariant(tiny, budget):
    pm = make_pm("classifier", model=str(tiny / "llama-rm"), device="cpu", dtype="float32", token_budget=budget)
    assert pm.model.score.weight.dtype.is_floating_point and str(pm.model.score.weight.dtype) == "torch.float32"
    got = _invariance(pm, CONV, RESPONSES)
    ref = make_pm("classifier", model=str(tiny / "llama-rm"), device="cpu", dtype="float32", token_budget=16384)
    np.testing.assert_allclose(ref.score([CONV] * 5, [""] * 5, RESPONSES, progress=False), got, atol=1e-5, rtol=0)


def test_prompted_pm_tiny_llama_batch_invariant(tiny):
    pm = make_pm("prompted", model=str(tiny / "llama"), device="cpu", dtype="float32", token_budget=96)
    _invariance(pm, CONV, RESPONSES)


def test_bundled_prompted_pm_batch_invariant_at_real_lengths():
    """The bundled PM on a real feedback prompt of the demo's data (its wrapped prefix is ~190 tokens) and replies of
    1-70 tokens: alone, together, reversed, mixed, and under two token budgets (other chunks, other padding).

    With one intra-op thread (as every xdist worker runs) the scores are bit-identical; with two, the GEMM's thread
    partition depends on the row count and moved one score by 1.3e-5 here (BENCHMARKS.md, batch invariance)."""
    import json
    from pathlib import Path

    import bon.data

    row = json.loads((Path(bon.data.__file__).parent / "bundled" / "feedback.jsonl").read_text().splitlines()[0])
    conv = [{"role": "user", "content": row["prompt"][0]["content"]}]
    rng = np.random.default_rng(0)
    words = "the argument is clear but it ignores cost and evidence on safety riders traffic strong weak".split()
    replies = [" ".join(rng.choice(words, size=n)).capitalize() + "." for n in (1, 5, 9, 14, 22, 40, 63)]
    small = make_pm("prompted", device="cpu", dtype="float32", token_budget=128)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = _invariance(small, conv, replies, tol=0.0)  # bit-identical
        small.engine.token_budget = small.engine.kv_budget = 1 << 16  # the same model, one chunk per length bucket
        np.testing.assert_array_equal(small.score([conv] * len(replies), [""] * len(replies), replies,
                                                  progress=False), got)
    finally:
        torch.set_num_threads(threads)
