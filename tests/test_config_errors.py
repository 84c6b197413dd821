"""Config errors are found before any model loads: one line per problem, exit status 2, never a traceback.

In-process tests check each message (compose + validate, no subprocess); CLI tests check the contract a user sees
from ``python -m bon.run``: stderr lines all start with ``error:``, exit 2, and nothing was written: no stage store,
no model cache, no stub run folder.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bon.config import ConfigError, validate
from runs import cfg_of

ROOT = Path(__file__).resolve().parents[1]


def problems(*overrides) -> list[str]:
    with pytest.raises(ConfigError) as e:
        validate(cfg_of(*overrides))
    return [ln.strip() for ln in str(e.value).splitlines()[1:]]


@pytest.mark.parametrize("overrides, message", [
    (["ns=[1,2,16]"], "ns: every N must be an integer in 1..m=8, got 16"),
    (["ns=[0,1]"], "ns: every N must be an integer in 1..m=8, got 0"),
    (["m=0"], "m must be a positive integer"),
    (["ns=[]"], "ns: the best-of-N grid is empty"),
    (["pm.name=clasifier"], "pm.name: unknown pm 'clasifier'. Did you mean 'classifier'"),
    (["metrics=[reward,answer_sycophncy]"], "metrics: unknown metric 'answer_sycophncy'"),
    (["judge.name=nope"], "judge.name: unknown judge 'nope'"),
    (["+variants.sys={prefix: [{role: system, content: Be honest.}]}"],
     "variants.sys.prefix[0] must be {role: user|assistant, content: str}"),
    (["+variants.bad={prefix: [{role: robot, content: hi}]}"], "variants.bad.prefix[0] must be"),
    (["policy.model=bundled:smollm3"], "policy.model: unknown bundled model 'bundled:smollm3'; available: "
                                       "bundled:smollm2-135m-instruct"),
    (["pm.model=/no/such/model"], "pm.model: model folder /no/such/model does not exist"),
    (["policy=hf_model"], "policy.model: required value is not set; add policy.model="),
    (["pm=classifier"], "pm.model: required value is not set"),
    (["dataset=sycophancy_eval"], "dataset.paths: required value is not set; dataset=sycophancy_eval needs"),
    (["store=/etc/hostname/store"], "store: cannot write /etc/hostname/store: /etc/hostname is not a folder"),
    (["run_dir=/etc/hostname/run"], "run_dir: cannot write /etc/hostname/run: /etc/hostname is not a folder"),
    (["min_items_ci=0"], "min_items_ci must be an integer >= 1 (fewest items for a CI), got 0"),
])
def test_each_bad_setting_is_named(overrides, message):
    assert any(message in p for p in problems("experiment=demo", *overrides)), problems("experiment=demo", *overrides)


def test_a_system_turn_in_a_prefix_points_at_the_system_field():
    [p] = problems("+variants.sys={prefix: [{role: system, content: Be honest.}]}")
    assert "a system prompt goes in the variant's `system:` field" in p
    validate(cfg_of("+variants.sys={system: Be honest.}"))  # the right way passes


def test_sycophancy_eval_without_paths_does_not_fall_back_to_the_bundled_set(tmp_path):
    # It used to: the schema's default [] silently won over the group's ???.
    assert problems("dataset=sycophancy_eval") == [
        "dataset.paths: required value is not set; dataset=sycophancy_eval needs the data files: add "
        "dataset.paths=[DIR] (the datasets/ folder of github.com/meg-tong/sycophancy-eval), or use dataset=bundled"]
    (tmp_path / "answer.jsonl").write_text("")
    cfg = cfg_of("dataset=sycophancy_eval", f"dataset.paths=[{tmp_path}]")
    validate(cfg)
    assert list(cfg.dataset.paths) == [str(tmp_path)]
    assert list(cfg_of().dataset.paths) == []  # dataset=bundled: the bundled set, on purpose


def test_several_problems_are_reported_together_one_line_each():
    got = problems("ns=[1,16]", "metrics=[nope]", "policy.model=bundled:nope", "chunk_prompts=0")
    assert len(got) == 4 and [re.split("[: ]", p)[0] for p in got] == ["ns", "metrics", "policy.model", "chunk_prompts"]


def test_wandb_online_needs_a_key_up_front(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    [p] = problems("wandb.mode=online")
    assert p.startswith("wandb.mode=online needs a W&B API key") and "wandb.mode=offline" in p
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "0" * 40 + "\n")
    validate(cfg_of("wandb.mode=online"))  # a `wandb login` entry is enough
    (tmp_path / "netrc").unlink()
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    validate(cfg_of("wandb.mode=online"))


def test_ns_follows_m_unless_given():
    for exp in sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")):
        assert cfg_of(f"experiment={exp}").ns is None, f"experiment/{exp}.yaml pins ns; set m instead"
    assert validate(cfg_of("experiment=demo")) == [1, 2, 4, 8]
    assert validate(cfg_of("experiment=demo", "m=4")) == [1, 2, 4]
    assert validate(cfg_of("experiment=demo", "m=16")) == [1, 2, 4, 8, 16]
    assert validate(cfg_of("experiment=demo", "m=6")) == [1, 2, 4, 6]
    assert validate(cfg_of("experiment=paper_bon")) == [1, 2, 4, 8, 16, 32]
    assert validate(cfg_of("experiment=demo", "m=16", "ns=[1,16]")) == [1, 16]


# ------------------------------------------------------------------------------------------------ the CLI
def bon_run(tmp_path, *args, env=None):
    """python -m bon.run with its own store, model cache and run folder under tmp_path."""
    env = {**os.environ, "BON_MODEL_CACHE": str(tmp_path / "models"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bon.run", *args, f"store={tmp_path}/store",
                           f"hydra.run.dir={tmp_path}/runs/r", f"hydra.sweep.dir={tmp_path}/multirun/s"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def assert_failed_early(r, tmp_path, *messages):
    """Exit 2, only `error:` lines (one per problem), and nothing loaded or written."""
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert lines and all(ln.startswith("error: ") for ln in lines), r.stderr
    for m in messages:
        assert any(m in ln for ln in lines), (m, lines)
    assert "sampling with backend" not in r.stdout  # the first stage never started
    assert not (tmp_path / "store").exists() and not (tmp_path / "models").exists()  # no model was converted
    assert not (tmp_path / "runs").exists() and not (tmp_path / "multirun").exists()  # no stub run folder
    return lines


def test_cli_config_errors_one_line_each_exit_2(tmp_path):
    lines = assert_failed_early(
        bon_run(tmp_path, "experiment=demo", "ns=[1,16]", "metrics=[reward,nope]",
                "+variants.sys={prefix: [{role: system, content: hi}]}", "policy.model=bundled:nope"),
        tmp_path, "ns: every N", "metrics: unknown metric 'nope'", "variants.sys.prefix[0]",
        "policy.model: unknown bundled model")
    assert len(lines) == 4


@pytest.mark.parametrize("args, message", [
    (["policy=hf_model"], "policy.model: required value is not set"),  # was a MissingMandatoryValue traceback
    (["dataset=sycophancy_eval"], "dataset.paths: required value is not set"),  # was a silent bundled run
    (["variants=mine"], "Could not find 'variants/mine'. Available: paper, standard_only"),  # Hydra's own
    (["-m", "hydra/launcher=nope", "seed=0,1"], "Could not find 'hydra/launcher/nope'"),
    (["m=many"], "Value 'many' of type 'str' could not be converted to Integer (full_key: m)"),
    (["-m", "seed=0,1", "m=0"], "m must be a positive integer"),  # a multirun leaves no sweep folder behind
])
def test_cli_early_errors(tmp_path, args, message):
    flags = [a for a in args if a.startswith("-")]  # before the overrides, as argparse wants them
    assert_failed_early(bon_run(tmp_path, *flags, "experiment=demo", *[a for a in args if a not in flags]),
                        tmp_path, message)


def test_cli_wandb_online_without_a_key(tmp_path):
    env = {"WANDB_API_KEY": "", "NETRC": str(tmp_path / "no-netrc")}
    assert_failed_early(bon_run(tmp_path, "experiment=demo", "wandb.mode=online", env=env), tmp_path,
                        "wandb.mode=online needs a W&B API key")


def test_cli_unwritable_run_folder(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    r = subprocess.run([sys.executable, "-m", "bon.run", "experiment=demo", f"store={tmp_path}/store",
                        f"hydra.run.dir={tmp_path}/file/run"], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "BON_MODEL_CACHE": str(tmp_path / "models")}, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert re.fullmatch(r"error: cannot write the run folder: .*file/run.*\n", r.stderr), r.stderr
    assert not (tmp_path / "store").exists()


# ------------------------------------------------------------------------------------------------ devices
@pytest.mark.parametrize("overrides, n_gpus, message", [
    (["sampler.device=cuda"], 0, "sampler.device=cuda: no such device; this machine has no CUDA GPU"),
    (["sampler=vllm", "sampler.device=cuda"], 0, "sampler.device=cuda: no such device"),  # was silently ignored
    (["pm.device=cuda"], 0, "pm.device=cuda: no such device; this machine has no CUDA GPU"),
    (["judge.device=cuda:0"], 0, "judge.device=cuda:0: no such device"),
    (["pm.device=cuda:3"], 2, "pm.device=cuda:3: no such device; this machine has 2 CUDA GPU(s): use auto, cpu, "
                              "cuda or cuda:0..cuda:1"),
    (["sampler.device=cuda:1"], 2, "sampler.device=cuda:1: must be auto, cpu, cuda"),  # the HF sampler takes no index
    (["sampler=vllm", "sampler.device=cpu"], 1, "sampler.device=cpu: the vLLM sampler runs on the GPU here"),
    (["pm.device=gpu"], 1, "pm.device=gpu: must be auto, cpu, cuda or cuda:N, got 'gpu'"),
])
def test_a_device_the_machine_lacks_is_named(overrides, n_gpus, message):
    from bon.devices import device_errors

    cfg = cfg_of("experiment=demo", *overrides)
    errs = device_errors(cfg, cfg.sampler.backend, n_gpus=n_gpus)
    assert len(errs) == 1 and message in errs[0], errs


def test_devices_that_exist_pass():
    from bon.devices import device_errors

    cfg = cfg_of("experiment=demo", "sampler=hf", "sampler.device=cuda", "pm.device=cuda:1", "judge.device=cpu")
    assert device_errors(cfg, "hf", n_gpus=2) == []
    assert device_errors(cfg_of("experiment=demo"), "auto", n_gpus=0) == []  # auto and cpu are always there


def test_cli_cuda_on_a_cpu_machine_is_a_config_error(tmp_path):
    """Was a 60-line traceback, exit 1, and a stub run folder (vLLM: the key was silently ignored). GPUs, if any,
    are hidden from the run, so this machine has none."""
    lines = assert_failed_early(bon_run(tmp_path, "experiment=demo", "sampler.device=cuda", "pm.device=cuda:3",
                                        env={"CUDA_VISIBLE_DEVICES": ""}),
                                tmp_path, "sampler.device=cuda: no such device", "pm.device=cuda:3: no such device")
    assert len(lines) == 2
