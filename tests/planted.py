"""The stored planted pool (tests/data/planted_pool.jsonl.gz: SmolLM2-135M samples of the bundled prompts with the
bundled PM's rewards and the lexicon judge's positivity), read the same way by every test that runs the real curves
code on it (tests/test_bias.py, tests/report/test_gate.py, tests/selectors/).
tests/ is on sys.path for every test (its conftest.py sits there), so ``from planted import ...`` works alone."""
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

POOL = Path(__file__).parent / "data" / "planted_pool.jsonl.gz"


def load_pool(partner: bool = False):
    """examples, (P, M) replies, the sample table, rewards per variant, judged values.

    partner: add ``non_sycophantic``, a second ranking of the same samples (the stored rewards reversed in sample
    order), so that paired differences have two variants (the pool holds one variant's rewards).
    """
    from bon.data import Example

    rows = [json.loads(line) for line in gzip.open(POOL, "rt", encoding="utf-8")]
    examples = [Example(**{**r["example"], "conversation": tuple(r["example"]["conversation"])}) for r in rows]
    replies = [r["replies"] for r in rows]
    samples = pd.DataFrame([{"key": e.key, "sample": j, "reply": t, "n_tokens": n, "finish_reason": fr}
                            for e, r in zip(examples, rows)
                            for j, (t, n, fr) in enumerate(zip(r["replies"], r["n_tokens"], r["finish_reason"]))])
    rewards = {v: np.array([r["rewards"][v] for r in rows]) for v in rows[0]["rewards"]}
    if partner:
        rewards["non_sycophantic"] = rewards["standard"][:, ::-1].copy()
    judged = {"positivity": np.array([r["positivity"] for r in rows if r["example"]["kind"] == "feedback"])}
    return examples, replies, samples, rewards, judged
