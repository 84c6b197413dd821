"""Running the main job from a test: a composed config (``cfg_of``), the CLI in a subprocess (``bon_run``), and the
tiny-but-real overrides (``TINY``) that tests/stages/test_pipeline.py and test_pipeline_tiny.py share.
tests/ is on sys.path for every test (its conftest.py sits there), so ``from runs import ...`` works alone."""
import os
import subprocess
import sys

from hydra import compose, initialize_config_module

from bon.config import CONF_PACKAGE, register_configs

# Tiny but real: 2 items per kind, 4 samples of <= 12 tokens, the hf backend (vLLM has its own tests).
TINY = ["experiment=demo", "m=4", "ns=[1,2,4]", "dataset.max_items=2", "sampler=hf", "sampler.max_new_tokens=12",
        "wandb.mode=disabled", "n_boot=200", "chunk_prompts=4", "progress=false"]


def cfg_of(*overrides):
    """The config ``python -m bon.run <overrides>`` would compose (not validated)."""
    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def bon_run(*args, **kw):
    """``python -m bon.run <args>`` in a subprocess, output captured (keywords: cwd, timeout)."""
    return subprocess.run([sys.executable, "-m", "bon.run", *args], capture_output=True, text=True, cwd=kw.get("cwd"),
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=kw.get("timeout", 900))
