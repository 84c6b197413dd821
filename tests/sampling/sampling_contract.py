"""What every sampler backend must do, shared by tests/sampling/test_sampling_hf.py and test_sampling_vllm.py."""
import math

from bon.chat import Prompt
from bon.sampling import Completion

MAX_NEW = 16
PREFILLED = Prompt.of([{"role": "user", "content": "Which is the capital of France? (A) Paris (B) Rome"}],
                      prefill="The answer is (", key="prefilled")
PROMPTS = [
    PREFILLED,
    Prompt.of([{"role": "user", "content": "Write a haiku about rain."}], key="haiku"),
    Prompt.of([{"role": "user", "content": "Say hi."}], key="hi"),
]


def check_m_completions_with_and_without_prefill(sampler):
    got = sampler.sample(PROMPTS, m=3, seed=0, progress=False)
    assert len(got) == len(PROMPTS) and all(len(cs) == 3 for cs in got)
    for cs in got:
        for c in cs:
            assert isinstance(c, Completion) and isinstance(c.text, str)
            assert 1 <= c.n_tokens <= MAX_NEW
            assert c.finish_reason in ("stop", "length")
            if c.finish_reason == "length":
                assert c.n_tokens == MAX_NEW
            assert math.isfinite(c.logprob) and c.logprob <= 0
    for c in got[0]:  # the prefill "The answer is (" is continued, not restarted
        assert not c.text.lstrip().lower().startswith("the answer is"), c.text
    assert len({c.text for cs in got for c in cs}) > 3, "temperature 1 should give varied samples"
