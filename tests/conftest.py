import os
import sys
import warnings

import pytest

from allowed_skips import ALLOWED_SKIPS, CI_VARIABLE, is_allowed, skip_reason

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


@pytest.fixture
def torchvision_release_cached(tmp_path, monkeypatch):
    """$TORCH_HOME in tmp_path, holding torchvision's ImageNet file name with random weights at a real scale
    (torchvision's layout, aux heads included), taken for the release (the published SHA-256 prefix is
    patched to the file's); downloading fails the test."""

    import torch
    import torchvision

    from helpers import give_real_scale

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("no download when cached"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        release = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    give_real_scale(release)
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    cached.parent.mkdir(parents=True)
    torch.save(release.state_dict(), cached)
    from helpers import trust_as_release

    trust_as_release(monkeypatch, cached)
    return cached



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


# --- in CI (GOOGLENET_CI=1, set by `make test`), a skip not listed in tests/allowed_skips.py fails the run ---

_unlisted_skips: list[str] = []


def pytest_runtest_logreport(report):
    """Every test's reports reach the controlling process (xdist forwards the workers'), which collects the
    skips that are not allowed."""
    if report.skipped and os.environ.get(CI_VARIABLE) == "1":
        reason = skip_reason(report)
        if not is_allowed(reason, ALLOWED_SKIPS):
            _unlisted_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session):
    if _unlisted_skips and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _unlisted_skips:
        terminalreporter.section(f"skips not allowed in CI ({CI_VARIABLE}=1; tests/allowed_skips.py)", red=True)
        for line in _unlisted_skips:
            terminalreporter.write_line(line)
