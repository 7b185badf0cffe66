import json
import os
import subprocess
import sys

import pytest
import torch

# Cache compiled bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE, set on some CI
# machines): otherwise every xdist worker and every command-line process a test starts compiles the
# package and the rewritten test modules again, seconds each time.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Under pytest-xdist (`-n auto`, the quick tier's default) every worker is its own process: give each its
# share of the cores, so that N workers of N threads each do not fight over the same cores. The variable
# also reaches the command-line processes that tests start.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
    os.environ["OMP_NUM_THREADS"] = _threads
    torch.set_num_threads(int(_threads))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


# One fresh interpreter for every test of what `import googlenet` does (each costs seconds of imports):
# what it loaded, whether the four verbs are functions, where the lazily reachable names come from.
_IMPORT_PROBE = """
import inspect, json, sys
import torch
before = set(sys.modules)
import googlenet
after = set(sys.modules)
model_api = [googlenet.googlenet, googlenet.GoogLeNet, googlenet.InceptionModule, googlenet.GoogLeNetLoss,
             googlenet.paper_table]
verbs = {name: inspect.isfunction(getattr(googlenet, name)) for name in ("train", "evaluate", "predict", "export")}
lazy = [googlenet.train.__module__, googlenet.optimize.__module__, googlenet.from_pretrained.__module__]
unresolved = [name for name in googlenet.__all__ if not hasattr(googlenet, name)]
print(json.dumps({"new": sorted(after - before), "verbs": verbs, "lazy": lazy, "all": googlenet.__all__,
                  "unresolved": unresolved}))
"""


@pytest.fixture(scope="session")
def fresh_import():
    result = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
