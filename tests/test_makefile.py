"""The Makefile's set-up, read with `make -n` (what it would run, nothing run): venv support installed where
Python lacks it, the torch index a user chooses, and the costs `make help` states."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def planned(tmp_path: Path, *variables: str) -> str:
    """What `make -n setup` would run, with the virtual environment in tmp_path (so it is always to be made)."""
    result = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), "setup",
                             f"VENV={tmp_path / 'venv'}", *variables],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_python_without_venv_support_gets_python3_venv_installed(tmp_path):
    without_ensurepip = tmp_path / "python3"  # Debian's python3 without the python3-venv package
    without_ensurepip.write_text(f'#!/bin/sh\ncase "$*" in *ensurepip*) exit 1;; esac\nexec {sys.executable} "$@"\n')
    without_ensurepip.chmod(0o755)
    assert "apt-get install -y -qq python3-venv" in planned(tmp_path, f"PYTHON={without_ensurepip}")
    assert "python3-venv" not in planned(tmp_path, f"PYTHON={sys.executable}")  # this one has it


def test_torch_index_chooses_where_torch_comes_from(tmp_path):
    default = planned(tmp_path)
    assert "--index-url" not in default and "torch==" in default
    cpu = planned(tmp_path, "TORCH_INDEX=https://download.pytorch.org/whl/cpu")
    torch_line = next(line for line in cpu.splitlines() if "torch==" in line)
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_line


def test_make_help_states_the_set_ups_disk_and_time_and_the_cpu_build():
    result = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "6.4 GiB of disk" in text and "about 3 min" in text and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in text
    assert "python3-venv" in text
