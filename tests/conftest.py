import os
import sys

import pytest

# Cache compiled bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE, set on some CI
# machines): otherwise every xdist worker and every command-line process a test starts compiles the
# package and the rewritten test modules again, seconds each time.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Under pytest-xdist (`-n auto`, the quick tier's default) every worker is its own process: give each its
# share of the cores, so that N workers of N threads each do not fight over the same cores. The variable
# also reaches the command-line processes that tests start. torch is not imported here: it reads the
# variable when a test module imports it, and the process that only hands out tests (xdist's controller)
# would otherwise spend seconds importing torch before it starts the workers.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _workers > 1:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _workers))


@pytest.fixture(autouse=True)
def _deterministic():
    import torch

    torch.manual_seed(0)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """An xdist worker leaves at once once it has reported everything (its `workerfinished` went out in
    pytest_sessionfinish): the controller waits for every worker process to end, and tearing down an
    interpreter that loaded torch, torchvision, ONNX Runtime and the server took 3-5 s of the quick tier's
    wall time. A worker's exit status carries nothing; its results are already with the controller."""
    if hasattr(config, "workerinput"):  # set by xdist in its workers only (not in a pytest they start)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
