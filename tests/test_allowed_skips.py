"""In CI (GOOGLENET_CI=1, as `make test` sets it) a test that skips for a reason not in
tests/allowed_skips.py fails the run; elsewhere a skip is only reported."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from allowed_skips import is_allowed, skip_reason

TESTS = Path(__file__).resolve().parent


def test_a_skip_is_allowed_only_when_its_reason_starts_with_a_listed_one():
    allowed = {"needs a GPU": "CI has none"}
    assert is_allowed("needs a GPU (CUDA)", allowed)
    assert not is_allowed("openvino is not installed", allowed)
    assert not is_allowed("needs a GPU", {})

    class Report:
        longrepr = ("tests/test_x.py", 3, "Skipped: openvino is not installed")

    assert skip_reason(Report()) == "openvino is not installed"


@pytest.mark.slow
def test_an_unlisted_skip_fails_the_run_only_in_ci(tmp_path):
    for name in ("conftest.py", "allowed_skips.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "test_demo.py").write_text("import pytest\n\ndef test_runs():\n    pass\n\n"
                                           "def test_skips():\n    pytest.skip('openvino is not installed')\n")
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", str(tmp_path)]
    environment = {key: value for key, value in os.environ.items() if key != "GOOGLENET_CI"}
    developer = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
    ci = subprocess.run(command, cwd=tmp_path, env={**environment, "GOOGLENET_CI": "1"}, capture_output=True, text=True)
    assert developer.returncode == 0, developer.stdout
    assert ci.returncode == 1, ci.stdout
    assert "test_demo.py::test_skips: openvino is not installed" in ci.stdout
