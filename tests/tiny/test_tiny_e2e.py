"""Issue 28's acceptance runs: experiment=paper_bon end to end at tiny size on real-family checkpoints.

paper_bon asks for the pairwise LM positivity judge (judge.positivity=lm, judge.feedback=pairwise); its judge model
is the bundled SmolLM2 by default, so no override beyond the issue's command is needed."""
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("policy,sampler", [("llama", "vllm"), ("qwen2", "hf")])
def test_paper_bon_ends_with_results(tiny, tmp_path, policy, sampler):
    args = ["experiment=paper_bon", "policy=hf_model", f"policy.model={tiny / policy}", "pm=classifier",
            f"pm.model={tiny / 'llama-rm'}", f"sampler={sampler}", "m=4", "dataset.max_items=2",
            f"store={tmp_path}/store"]
    r = subprocess.run([sys.executable, "-m", "bon.run", *args], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("results: "), r.stdout[-2000:]
    assert "reward" in r.stdout and "m=4" in r.stderr + r.stdout
