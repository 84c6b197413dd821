"""The transformers sampler on real models, no mocks: its seeds, batching, prefill and overlength handling on the
tiny Llama-3-style model (tests/conftest.py: a real Llama config, tokenizer and chat template, random weights), which
test the sampler, not the model; the logprob check teacher-forces the bundled SmolLM2, whose sampled texts
re-tokenize to the sampled tokens (a random-weight model's often do not)."""
import logging

import pytest
import torch

from sampling_contract import MAX_NEW, PROMPTS, check_m_completions_with_and_without_prefill

from bon.chat import Prompt, render_generation_prompt
from bon.sampling import SAMPLERS, prompt_seed
from bon.sampling.hf import HFSampler


@pytest.fixture(scope="module")
def model(tiny) -> str:
    return str(tiny / "llama")


@pytest.fixture(scope="module")
def sampler(model):
    return HFSampler(model, max_new_tokens=MAX_NEW, prompts_per_batch=3)


def exact(comps):
    """What must match exactly between runs; logprobs are compared separately, with a float tolerance."""
    return [[(c.text, c.n_tokens, c.finish_reason) for c in cs] for cs in comps]


def assert_logprobs_close(a, b, tol=1e-3):
    for ca, cb in zip(a, b):
        for x, y in zip(ca, cb):
            assert x.logprob == pytest.approx(y.logprob, abs=tol)


def test_registered():
    assert SAMPLERS.get("hf") is HFSampler


def test_each_backend_takes_its_own_config_keys():
    """config_kwargs: what a backend's constructor takes from the sampler node, every key a real parameter of it."""
    import inspect

    from omegaconf import OmegaConf

    from bon.config import SamplerConfig

    s = OmegaConf.merge(OmegaConf.structured(SamplerConfig), {"prompts_per_batch": 3, "dtype": "float32",
                                                              "tensor_parallel_size": 2})
    assert HFSampler.config_kwargs(s) == {"prompts_per_batch": 3, "device": "auto", "dtype": "float32",
                                          "max_model_len": None}
    assert SAMPLERS.get("vllm").config_kwargs(s)["tensor_parallel_size"] == 2
    for name in SAMPLERS.names():
        cls = SAMPLERS.get(name)
        assert set(cls.config_kwargs(s)) <= set(inspect.signature(cls.__init__).parameters), name


def test_prompt_seed_is_stable():
    # Pinned: a change here silently changes every sample of every run.
    assert prompt_seed(0, "a") == 6047110347290564629
    assert prompt_seed(1, "a") != prompt_seed(0, "a") != prompt_seed(0, "b")
    assert 0 <= prompt_seed(2**70, "x" * 1000) < 2**63


def test_m_completions_with_and_without_prefill(sampler):
    check_m_completions_with_and_without_prefill(sampler)


def test_logprob_is_under_raw_distribution(bundled_model):
    """Teacher-force each sample and sum log_softmax(raw logits): must equal Completion.logprob (T=0.7 != 1)."""
    s = HFSampler(bundled_model, temperature=0.7, max_new_tokens=MAX_NEW)
    got = s.sample(PROMPTS[:2], m=3, seed=3, progress=False)
    tok, model = s.tokenizer, s.model
    checked = 0
    for p, cs in zip(PROMPTS, got):
        prompt_ids = tok(render_generation_prompt(tok, p.conversation, p.prefill), add_special_tokens=False).input_ids
        for c in cs:
            stop = [s.stop_ids[0]] if c.finish_reason == "stop" else []
            ids = tok(c.text, add_special_tokens=False).input_ids + stop
            if len(ids) != c.n_tokens:
                continue  # text did not re-tokenize to the sampled tokens; cannot teacher-force this one
            with torch.no_grad():
                logits = model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1:-1]  # (n, V)
            lp = torch.log_softmax(logits.double(), -1).gather(1, torch.tensor(ids)[:, None]).sum().item()
            assert c.logprob == pytest.approx(lp, abs=2e-3)
            checked += 1
    assert checked >= 3


def test_same_seed_same_samples_other_seed_differs(sampler):
    a = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    b = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    c = sampler.sample(PROMPTS, m=3, seed=1, progress=False)
    assert exact(a) == exact(b)
    assert_logprobs_close(a, b, tol=0)
    assert exact(a) != exact(c)


def test_samples_do_not_depend_on_batch_order_or_m(sampler):
    """Per-prompt seeds: a prompt alone, in a batch of 3, or last in reversed order gives the same samples.

    Exact token equality is the real check (any RNG coupling between rows would break it); logprobs are compared
    with a tolerance because padding changes the logits in the last float bits.
    """
    batched = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    alone = [sampler.sample([p], m=3, seed=0, progress=False)[0] for p in PROMPTS]
    reversed_ = sampler.sample(PROMPTS[::-1], m=3, seed=0, progress=False)[::-1]
    fewer = sampler.sample(PROMPTS, m=2, seed=0, progress=False)
    assert exact(alone) == exact(batched) == exact(reversed_)
    assert exact(fewer) == [cs[:2] for cs in exact(batched)]  # sample j does not depend on m
    assert_logprobs_close(alone, batched)


def test_overlength_skip_and_truncate(model, caplog):
    long = Prompt.of([{"role": "user", "content": "Count with me: " + " ".join(map(str, range(60)))}], key="long")
    short = PROMPTS[2]
    kw = dict(max_new_tokens=MAX_NEW, max_model_len=64)  # room for 48 prompt tokens; `long` has ~200
    skip = HFSampler(model, overlength="skip", **kw)
    with caplog.at_level(logging.WARNING, logger="bon"):
        got = skip.sample([long, short], m=2, seed=0, progress=False)
    assert got[0] == [] and len(got[1]) == 2
    assert skip.stats == {"skipped_overlength": 1, "truncated_overlength": 0}
    assert "long" in caplog.text and "skipped" in caplog.text

    trunc = HFSampler(model, overlength="truncate", **kw)
    got = trunc.sample([long, short], m=2, seed=0, progress=False)
    assert [len(cs) for cs in got] == [2, 2]
    assert trunc.stats == {"skipped_overlength": 0, "truncated_overlength": 1}


def test_bad_arguments_raise_clear_errors(sampler, model):
    with pytest.raises(ValueError, match="m .* must be an int >= 1"):
        sampler.sample(PROMPTS, m=0, seed=0)
    with pytest.raises(ValueError, match="unique"):
        sampler.sample([PROMPTS[0], PROMPTS[0]], m=1, seed=0)
    with pytest.raises(ValueError, match="non-empty key"):
        sampler.sample([Prompt.of([{"role": "user", "content": "x"}])], m=1, seed=0)
    with pytest.raises(ValueError, match="overlength must be one of"):
        HFSampler(model, overlength="drop")
    with pytest.raises(ValueError, match="top_p must be in"):
        HFSampler(model, top_p=0)
