"""bon/cli.py through ``python -m bon.run``: open mappings need no ``+``, unknown keys get "did you mean", a list
given without brackets gets the bracketed form, and Ctrl-C prints the full resume command. Each CLI call here stops
at composition or validation (or at a patched pipeline), so no model loads."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bon.cli import open_mappings, resume_command

ROOT = Path(__file__).resolve().parents[1]


def bon_run(tmp_path, *args, code=None):
    argv = [sys.executable, "-m", "bon.run"] if code is None else [sys.executable, "-c", code]
    return subprocess.run([*argv, *args, f"store={tmp_path}/store"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300, env={**os.environ, "HYDRA_FULL_ERROR": ""})


def test_open_mappings_become_add_or_override_and_the_rest_is_left_alone():
    argv = ["variants.standard.bias.agree=1", "dataset.where.category=[Law,Health]", "+variants.x.bias.length=2",
            "~variants.standard.bias", "dataset.max_items=3", "variants=paper", "-m"]
    assert open_mappings(argv) == ["++variants.standard.bias.agree=1", "++dataset.where.category=[Law,Health]",
                                   *argv[2:]]


@pytest.mark.parametrize("experiment", ["demo", "planted"])
def test_a_bias_needs_no_plus_with_or_without_one_already(tmp_path, experiment):
    """`variants.standard.bias.agre=1` composes on both (demo has no bias, planted has agree: 10) and reaches
    validation, which names the misspelt feature: the override got through composition."""
    r = bon_run(tmp_path, f"experiment={experiment}", "variants.standard.bias.agre=1")
    assert r.returncode == 2 and "variants.standard.bias: unknown feature 'agre'" in r.stderr, r.stderr
    assert "not in struct" not in r.stderr and "+variants" not in r.stderr


def test_unknown_key_gets_did_you_mean(tmp_path):
    r = bon_run(tmp_path, "dataset.max_item=3")
    assert r.returncode == 2 and "Did you mean 'dataset.max_items'?" in r.stderr, r.stderr
    r = bon_run(tmp_path, "sampler.temprature=0.7")
    assert "Did you mean 'sampler.temperature'?" in r.stderr, r.stderr
    r = bon_run(tmp_path, "sampler.zzzz=0.7")
    assert r.returncode == 2 and "Did you mean" not in r.stderr  # nothing close: no guess


def test_a_list_without_brackets_gets_the_bracketed_form(tmp_path):
    r = bon_run(tmp_path, "dataset=sycophancy_eval", "dataset.paths=x.jsonl")
    assert r.returncode == 2 and "str is not a ListConfig" in r.stderr
    assert "dataset.paths is a list: write it in brackets, 'dataset.paths=[x.jsonl]'" in r.stderr, r.stderr


def test_resume_command_keeps_every_override_and_the_run_folder():
    cmd = resume_command(["experiment=demo", "dataset.paths=[a b.jsonl]"],
                         ["hydra.searchpath=[file:///x]", "hydra.mode=RUN", "hydra.run.dir=old"], "runs/d/t")
    assert cmd == ("python -m bon.run experiment=demo 'dataset.paths=[a b.jsonl]' 'hydra.searchpath=[file:///x]' "
                   "hydra.run.dir=runs/d/t")


def test_ctrl_c_prints_the_full_resume_command(tmp_path):
    """Ctrl-C in the pipeline (a KeyboardInterrupt raised where the first stage would run): the printed command
    names the run folder, so rerunning it resumes there."""
    code = ("import sys, bon.pipeline\n"
            "def run(*a, **k): raise KeyboardInterrupt\n"
            "bon.pipeline.run = run\n"
            "from bon.run import main\n"
            "sys.argv[0] = 'bon.run'\n"
            "main()\n")
    r = bon_run(tmp_path, "experiment=demo", "m=4", "hydra.run.dir=runs/here", code=code)
    assert r.returncode == 130, r.stderr
    line = r.stderr.strip().splitlines()[-1].strip()
    assert line.startswith("python -m bon.run experiment=demo m=4 store=") and line.endswith(f"hydra.run.dir={tmp_path}/runs/here")


def test_the_sigterm_message_is_the_full_command_too(tmp_path):
    from bon.runtime import resume_message

    msg = resume_message("/s", ["bon.run", "experiment=demo", "hydra.run.dir=old"], run_dir=tmp_path / "run")
    assert msg.splitlines()[-1].strip().endswith(f"-m bon.run experiment=demo hydra.run.dir={tmp_path}/run")
    assert resume_message("/s", ["bon.run", "m=2"]).splitlines()[-1].strip().endswith("-m bon.run m=2")
