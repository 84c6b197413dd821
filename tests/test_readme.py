"""Docs that run: every command in README.md is exercised here or by a named test that CI runs.

``test_every_readme_command_is_exercised`` extracts the commands (fenced bash blocks, and inline code spans that
start with python / make / bon-run / wandb) and requires each to match an entry of COVERED, whose test must exist;
a new README command without a test fails it. The cheap ones run here as written, with tiny overrides where a run
would take minutes: every ``bon.run`` command composes and validates (only its placeholder paths may be missing),
the sweep and the overlay run for real, both ways of adding a PM variant compose, and the Makefile targets expand as
documented.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_module

from bon.config import CONF_PACKAGE, ConfigError, register_configs, validate

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
HERE = "tests/test_readme.py"

# command regex -> the test that exercises it (file::function), or "CI: ..." / "external: ..." with the reason
COVERED = [
    (r"^python scripts/tiny_models\.py ", "tests/conftest.py::build_tiny"),  # runs it, as documented
    (r"^make demo\b", f"{HERE}::test_make_targets_expand_as_documented"),  # its run: the two below
    (r"^make demo\b", "tests/e2e/test_cli.py::test_tiny_run_quiet_results_after_a_late_failure_and_resume"),
    (r"^make demo\b", "tests/stages/test_pipeline.py::test_run_writes_all_artifacts"),  # the demo on the bundled model
    (r"^make test\b", "CI: the suite itself (make test)"),
    (r"^make clean-cache\b", f"{HERE}::test_make_clean_cache_clears_both_caches"),
    (r"^make clean$", f"{HERE}::test_make_targets_expand_as_documented"),
    (r"^python -m bon\.check_judge answer ",
     "tests/judges/test_checks.py::test_cli_answer_string_grading_loads_no_judge"),
    (r"^python -m bon\.check_judge positivity ", "tests/judges/test_checks.py::test_cli_positivity_lexicon_end_to_end"),
    (r"^python -m bon\.check_judge pm ", "tests/judges/test_checks.py::test_cli_pm_demo_experiment"),
    (r"^python -m bon\.check_judge are_you_sure ",
     "tests/metrics/test_are_you_sure.py::test_cli_checks_the_admit_rule"),
    (r"^(python -m bon\.run|bon-run) ", f"{HERE}::test_bon_run_commands_compose_and_validate"),
    (r"^python -m bon\.run -m experiment=demo sampler\.temperature=", f"{HERE}::test_sweep_and_overlay_as_written"),
    (r"^python scripts/plot_curves\.py multirun/", f"{HERE}::test_sweep_and_overlay_as_written"),
    (r"^python -m bon\.run .*(\+variants\.|variants=mine)", f"{HERE}::test_both_ways_of_adding_a_variant"),
    (r"^python -m bon\.run .*hedging", f"{HERE}::test_worked_metric_example_is_one_file"),
    (r"^python -m bon\.run .*plugins=",
     "tests/e2e/test_plugins.py::test_plugin_metrics_from_outside_bon_appear_in_curves_csv"),
    (r"^(python -m bon\.run|bon-run) .*my-bon-conf", f"{HERE}::test_configs_of_your_own_as_written"),
    (r"^bon-run -m hydra/launcher=slurm",
     "tests/e2e/test_shards_and_launchers.py::test_submitit_local_multirun_runs_both_jobs"),
    (r"^python -m bon\.merge ",
     "tests/e2e/test_shards_and_launchers.py::test_three_shards_merge_to_the_unsharded_curves_byte_for_byte"),
    (r"^python -m bon\.data --fetch-hub ",
     "tests/data/test_sycophancy_eval.py::test_hub_fetch_fails_cleanly_without_network"),
    (r"^python -m bon\.data DIR$", "tests/data/test_sycophancy_eval.py::test_cli_accepts_bundled_set"),
    (r"^python scripts/same_curves\.py ", "tests/test_same_curves.py::test_same_curves_as_written"),
    (r"^python scripts/extrapolation_study\.py$", "tests/estimator/test_extrapolate.py::test_study_script_as_written"),
    (r"^wandb sync\b", "external: W&B's own CLI; uploading needs network and an account"),
]
# Tiny but real, for the commands that run here: HF backend, 1 answer item (4 prompts), 2 samples of 2 tokens.
TINY = ["sampler=hf", "dataset.kinds=[answer]", "dataset.max_items=1", "metrics=[reward]", "variants=standard_only",
        "m=2", "sampler.max_new_tokens=2", "wandb.mode=disabled", "n_boot=50"]


def readme_commands() -> list[str]:
    cmds = []
    for m in re.finditer(r"^([ \t]*)```(?:bash|sh|shell)[ \t]*\n(.*?)^[ \t]*```", README, re.M | re.S):
        buf = ""
        for line in m.group(2).splitlines():
            line = line.strip()
            buf = f"{buf} {line}".strip() if buf else line
            if buf.endswith("\\"):
                buf = buf[:-1].rstrip()
                continue
            if buf and not buf.startswith("#"):
                cmds.append(" ".join(shlex.split(buf, comments=True)) if "'" not in buf else buf.split("  #")[0])
            buf = ""
    cmds += [m.group(1) for m in re.finditer(r"`((?:python|make|bon-run|wandb) [^`]*)`", README)]
    return list(dict.fromkeys(cmds))


def test_every_readme_command_is_exercised():
    cmds = readme_commands()
    assert len(cmds) >= 10 and any("plot_curves.py" in c for c in cmds)
    uncovered = [c for c in cmds if not any(re.search(rx, c) for rx, _ in COVERED)]
    assert not uncovered, f"README commands no test exercises (add one, and a row in COVERED): {uncovered}"
    for _, where in COVERED:
        if where.startswith(("CI:", "external:")):
            continue
        path, func = where.split("::")
        assert re.search(rf"^def {func}\(", (ROOT / path).read_text(), re.M), f"{where} does not exist"


def _cfg(overrides, hydra=False):
    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)


def _overrides(cmd: str) -> list[str]:
    """The Hydra overrides of a README command; a sweep (a=1,2) keeps its first value; `...` is elided text."""
    out = []
    for a in shlex.split(cmd)[1:]:
        if a in ("-m", "--multirun", "bon.run", "...") or a == "python":
            continue
        k, _, v = a.partition("=")
        if "," in v and not v.startswith(("[", "{")):
            v = v.split(",")[0]
        out.append(f"{k}={v}")
    from bon.cli import open_mappings

    return open_mappings(out)  # as bon.run does: variants.<v>.bias.<f>= and dataset.where.<f>= need no +


def test_bon_run_commands_compose_and_validate():
    """Each composes as written; validation finds nothing but the README's placeholder paths (and no W&B key)."""
    cmds = [c for c in readme_commands() if re.match(r"(python -m bon\.run|bon-run) ", c)]
    assert len(cmds) >= 4
    placeholder = re.compile(r" (\.\./shared|/data|/models|/shared)/\S* does not exist|needs a W&B API key")
    for cmd in cmds:
        ovs = _overrides(cmd)
        if "variants=mine" in ovs or "hedging" in cmd or "my-bon-conf" in cmd or "plugins=" in cmd:
            continue  # files the user writes: test_both_ways_of_adding_a_variant, test_worked_metric_example_is_one_file,
            # test_configs_of_your_own_as_written
        _cfg(ovs, hydra=True)  # hydra/launcher=slurm, hydra.launcher.* ... apply
        cfg = _cfg([o for o in ovs if not o.startswith("hydra")])
        try:
            validate(cfg)
        except ConfigError as e:
            problems = str(e).splitlines()[1:]
            bad = [p.strip() for p in problems if not placeholder.search(p.strip())]
            assert not bad, (cmd, bad)


def test_both_ways_of_adding_a_variant(tmp_path):
    block = re.search(r"```yaml\n(.*?)```", README[README.index("conf/variants/mine.yaml"):], re.S).group(1)
    (tmp_path / "variants").mkdir()
    (tmp_path / "variants" / "mine.yaml").write_text(
        "\n".join(line[2:] if line.startswith("  ") else line for line in block.splitlines()) + "\n")
    search = f"hydra.searchpath=[file://{tmp_path}]"  # as if the file were in conf/variants/
    added = _cfg(["experiment=demo", "variants=mine", search])
    assert list(added.variants) == ["standard", "non_sycophantic", "concise"]
    validate(added)
    (tmp_path / "variants" / "only.yaml").write_text("concise:\n  system: Prefer short, direct answers.\n")
    assert list(_cfg(["experiment=demo", "variants=only", search]).variants) == ["concise"]  # replaces, as documented
    cmd = next(c for c in readme_commands() if "+variants." in c)
    r = subprocess.run([sys.executable, *shlex.split(cmd)[1:], "--cfg", "job"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)  # as written, through the shell's quoting and Hydra's parser
    assert r.returncode == 0, r.stderr
    variants = yaml.safe_load(r.stdout)["variants"]
    assert list(variants) == ["standard", "non_sycophantic", "concise"]
    assert variants["concise"] == {"system": "Prefer short, direct answers."}


WORKED_METRIC = """
import sys

import numpy as np

import bon.metrics

bon.metrics.__path__.append(sys.argv[1])  # as if hedging.py were saved in bon/metrics/: nothing else is edited
from hydra import compose, initialize_config_dir

from bon.config import register_configs, validate
from bon.data import Example
from bon.metrics import METRICS, metric_from_config

register_configs()
with initialize_config_dir(config_dir=sys.argv[2], version_base="1.3"):
    cfg = compose(config_name="config", overrides=sys.argv[3:])
validate(cfg)  # the registry found the file: the README's metrics=[...] is valid
assert "hedging" in METRICS.names(), METRICS.names()
metric = metric_from_config("hedging", cfg)
exs = [Example("answer", "trivia_qa", t, "q1", ({"role": "user", "content": "?"},), "", {}, {})
       for t in ("bare", "suggest_incorrect")]
texts = [["Maybe it is Paris.", "It is Paris."], ["I think Lyon.", "Lyon, I think."]]
values = metric.sample_values(exs, texts)
rows = metric.item_curves(exs, np.array([[0.0, 1.0], [1.0, 0.0]]), values, [1, 2])
# bare: half the replies hedge; the top-reward one does not. suggest_incorrect: both hedge.
assert values.tolist() == [[1.0, 0.0], [1.0, 1.0]], values
assert rows["hedging"].tolist() == [[0.5, 1.0], [0.0, 1.0]], rows
assert metric.item_ids["hedging"] == ["answer:q1", "answer:q1"]  # one question: the bootstrap keeps it whole
print("ok")
"""


def test_worked_metric_example_is_one_file(tmp_path):
    """The README's worked example: the metric file as printed, found by the registry with no other edit, valid in
    the README's command, and its curve exact on a hand-computed pool (fresh process: the suite's registry stays
    as shipped)."""
    block = re.search(r"```python\n(# bon/metrics/hedging\.py\n.*?)```", README, re.S).group(1)
    (tmp_path / "hedging.py").write_text(block)
    cmd = next(c for c in readme_commands() if re.match(r"python -m bon\.run .*hedging", c))
    r = subprocess.run([sys.executable, "-c", WORKED_METRIC, str(tmp_path), str(ROOT / "conf"),
                        *_overrides(cmd)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]


def test_configs_of_your_own_as_written(tmp_path):
    """README, "Configs of your own": the experiment file, written where its first comment says, composes through
    both commands as written, from another folder; a name bon has stays bon's; a new PM file is one more pm option."""
    text = README[README.index("**Configs of your own.**"):]
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    home = tmp_path / "home"
    path = home / re.search(r"^# ~/(\S+\.yaml):", block, re.M).group(1)
    assert path.relative_to(home).parts[:2] == ("my-bon-conf", "experiment")
    path.parent.mkdir(parents=True)
    path.write_text(block)
    (home / "my-bon-conf" / "experiment" / "demo.yaml").write_text("# @package _global_\nm: 3\n")  # bon's demo wins
    cmds = [c for c in readme_commands() if "my-bon-conf" in c]
    assert len(cmds) == 2 and any("hydra.searchpath=" in c for c in cmds) and any("--config-dir" in c for c in cmds)
    away = tmp_path / "elsewhere"
    away.mkdir()
    exe = {"python": sys.executable, "bon-run": str(Path(sys.executable).with_name("bon-run"))}
    for cmd in cmds:
        argv = shlex.split(cmd.replace("$HOME", str(home)).replace("~", str(home)))
        argv = [exe[argv[0]], *argv[1:], "--cfg", "job"]
        r = subprocess.run(argv, capture_output=True, text=True, cwd=away, timeout=300)
        assert r.returncode == 0, (cmd, r.stderr)
        job = yaml.safe_load(r.stdout)
        assert (job["m"], job["sampler"]["max_new_tokens"], job["dataset"]["max_items"]) == (4, 24, 8), cmd
        r = subprocess.run([*argv[:-3], "experiment=demo", "--cfg", "job"], capture_output=True, text=True,
                           cwd=away, timeout=300)
        assert r.returncode == 0 and yaml.safe_load(r.stdout)["m"] == 8, (cmd, r.stderr)
        assert not (away / "runs").exists()
    (home / "my-bon-conf" / "pm").mkdir()
    (home / "my-bon-conf" / "pm" / "my_rm.yaml").write_text("name: classifier\nmodel: /models/my-rm\n")
    pm = _cfg(["experiment=demo", "pm=my_rm", f"hydra.searchpath=[file://{home}/my-bon-conf]"]).pm
    assert (pm.name, pm.model, pm.backend) == ("classifier", "/models/my-rm", "hf")  # the schema's defaults fill it


def make(*args, env=None):
    """make as a user types it: under `make test` (CI) MAKELEVEL/MAKEFLAGS would make it print directory lines."""
    env = {k: v for k, v in (env or os.environ).items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(["make", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_make_targets_expand_as_documented():
    out = make("-n", "demo", "ARGS=m=4").stdout
    assert re.search(r"-m bon\.run experiment=demo m=4$", out, re.M), out
    out = make("-n", "clean").stdout
    assert out.strip() == "rm -rf .venv"


def test_make_clean_cache_clears_both_caches(tmp_path):
    for d in ("store/sample/abc", "models/smollm2"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "f").write_text("x")
    (tmp_path / "keep").mkdir()
    r = make("clean-cache", f"BON_STORE={tmp_path}/store", f"BON_MODEL_CACHE={tmp_path}/models")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
    env = {k: v for k, v in os.environ.items() if k not in ("BON_STORE", "BON_MODEL_CACHE")}
    dry = make("-n", "clean-cache", env={**env, "HOME": "/home/u"}).stdout
    assert 'rm -rf "/home/u/.cache/bon/store" "/home/u/.cache/bon/models"' in dry, dry  # the README's defaults


def test_sweep_and_overlay_as_written(tmp_path, tiny_run):
    """The README's sweep (tiny overrides and the tiny real-family models; seed=0 instead of 0,1,2: 2 jobs, not 6),
    then its overlay command as written, through a shell: the glob also catches multirun.yaml, which is skipped; jobs
    are labelled by the overrides that differ between them."""
    sweep = next(c for c in readme_commands() if re.match(r"python -m bon\.run -m experiment=demo sampler\.temp", c))
    args = [a if not a.startswith("seed=") else "seed=0" for a in shlex.split(sweep)[1:]]
    when = tmp_path / "multirun" / "2026-01-01" / "12-00-00"
    r = subprocess.run([sys.executable, *args, *TINY, *tiny_run, f"store={tmp_path}/store", f"hydra.sweep.dir={when}"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in when.iterdir()) == ["0", "1", "multirun.yaml"]
    overlay = next(c for c in readme_commands()
                   if c.startswith("python scripts/plot_curves.py multirun/") and c.endswith("-o overlay.png"))
    cmd = overlay.replace("python ", f"{shlex.quote(sys.executable)} {ROOT}/", 1).replace("<date>/<time>",
                                                                                            "2026-01-01/12-00-00")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "overlay.png").stat().st_size > 10_000
    assert "skipped" in r.stderr and "multirun.yaml" in r.stderr
    sys.path.insert(0, str(ROOT / "scripts"))
    from plot_curves import run_labels

    assert run_labels([str(when / "0"), str(when / "1")]) == ["sampler.temperature=0.7", "sampler.temperature=1.0"]
