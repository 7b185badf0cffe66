"""A wheel built from the repository installs into a clean venv and runs there, without a network.

The clean venv sees none of this repository: it gets the wheel alone, and reuses the project venv's
already-installed dependencies (torch and the rest) through a .pth line instead of downloading them.
"""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a source tree needs to build the wheel; copied so that the build leaves nothing in the repository.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "src")


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result


def source_copy(target: Path) -> Path:
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=ignore)
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.slow
def test_a_wheel_installs_into_a_clean_venv_and_runs(tmp_path):
    source = source_copy(tmp_path / "source")
    # --no-build-isolation: build with this venv's setuptools instead of downloading one.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w",
        tmp_path / "wheels", source)
    wheel = next((tmp_path / "wheels").glob("googlenet-*.whl"))

    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "googlenet"
    expected = {f"googlenet/{path.relative_to(package)}" for path in package.rglob("*")
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    assert expected <= shipped, f"files left out of the wheel: {sorted(expected - shipped)}"
    assert any(name.endswith("entry_points.txt") for name in shipped)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    venv_site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # The dependencies, reused: the project venv's site-packages, after the clean venv's own. Its .pth
    # files (this repository's editable install among them) are not read from there.
    (venv_site / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel)

    where = run(python, "-c", "import googlenet; print(googlenet.__file__)", cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(venv_site), f"googlenet imported from {where}, not from the wheel"
    # The wheel's declared dependencies are met by what it sees (pip run from here, acting on that venv).
    run(sys.executable, "-m", "pip", "--python", python, "check")

    version = run(venv / "bin" / "googlenet", "--version", cwd=tmp_path).stdout
    import googlenet

    assert version.startswith(f"googlenet {googlenet.__version__} (torch ")
    summary = run(venv / "bin" / "googlenet", "summary", "--flavour", "bn", "--input-size", "64", cwd=tmp_path).stdout
    assert "inception5b" in summary and "7,005,832 parameters" in summary
