"""Model references: the bundled GGUF is converted once, atomically, even when two processes race for it."""
import os
import subprocess
import sys

import pytest

from bon.models import ModelError, resolve

RESOLVE = "from bon.models import resolve; print(resolve('bundled:smollm2-135m-instruct'))"


def test_two_processes_racing_convert_once(tmp_path):
    env = {**os.environ, "BON_MODEL_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", RESOLVE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    paths = {out.strip().splitlines()[-1] for out, _ in outs}
    assert len(paths) == 1
    (final,) = paths
    # one finished folder, no half-written temporaries left beside it
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [os.path.basename(final)]
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.config.model_type == "llama" and not getattr(model.config, "quantization_config", None)


def test_bad_references_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="unknown bundled model 'nope'; available: bundled:smollm2-135m-instruct"):
        resolve("bundled:nope")
    with pytest.raises(ModelError, match="has no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(ModelError, match="neither bundled:NAME, an existing folder, nor a hub id"):
        resolve("./no/such/folder")
    assert resolve("org/model") == "org/model"  # a hub id passes through; loading it needs network
