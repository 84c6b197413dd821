"""Issue 28's acceptance runs: experiment=paper_bon end to end at tiny size on real-family checkpoints.

paper_bon asks for the pairwise LM positivity judge (judge.positivity=lm, judge.feedback=pairwise). The issue's command
leaves its model at the bundled SmolLM2; here the judge is the tiny Llama-3-style model too (judge.model), so the
whole run is on real families: the run's pairwise judge stage (2 M^2 calls per framed prompt) and its check on every
labelled positivity pair in both orders took 105 s + 406 s on SmolLM2 (measured 2026-12-05, 2 shared cores), seconds
here. The bundled judge's own pairwise and scalar positivity are tested in tests/judges/test_checks.py."""
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("policy,sampler", [("llama", "vllm"), ("qwen2", "hf")])
def test_paper_bon_ends_with_results(tiny, tmp_path, policy, sampler):
    args = ["experiment=paper_bon", "policy=hf_model", f"policy.model={tiny / policy}", "pm=classifier",
            f"pm.model={tiny / 'llama-rm'}", f"sampler={sampler}", "m=4", "dataset.max_items=2",
            f"judge.model={tiny / 'llama'}",
            f"store={tmp_path}/store"]
    r = subprocess.run([sys.executable, "-m", "bon.run", *args], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("results: "), r.stdout[-2000:]
    assert "reward" in r.stdout and "m=4" in r.stderr + r.stdout
