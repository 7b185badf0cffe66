"""The package's shape: layers import only downwards, `import googlenet` stays light, files stay short."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "googlenet"

# Lower numbers may be imported by higher ones, never the reverse (docs/architecture.md).
LAYERS = {
    "atomic_files": 0, "distributed": 0, "machine": 0, "lazy": 0,
    "models": 1,
    "data": 2,
    "weights": 3, "timm_registry": 3,
    "evaluation": 4, "explain": 4, "visualise": 4,
    "training": 5,
    "inference": 6,
    "serving": 7,
    "cli": 8,
}
# Modules outside the layering: the package's front door and `python -m googlenet`.
FACADES = {"__init__", "__main__"}
# The upward imports we accept, each for a reason (function-level imports only). None today.
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def _layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "googlenet"
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every googlenet module that `path` imports, anywhere in the file (function bodies included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = "googlenet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("googlenet")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this file's package
                base = package.rstrip(".").split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name == "googlenet":  # from googlenet import x: x is a submodule or a name of the package
                found += [(node.lineno, f"googlenet.{alias.name}") for alias in node.names]
            elif name.startswith("googlenet."):
                found.append((node.lineno, name))
    return found


def _source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _top_level_names() -> dict[str, str]:
    """googlenet.NAME -> the module that defines NAME: what the package's __init__ imports from its
    modules, and its lazy table (_LAZY), read from the source."""
    init = PACKAGE / "__init__.py"
    names: dict[str, str] = {}
    if not init.exists():
        return names
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("googlenet."):
            names.update({alias.asname or alias.name: node.module for alias in node.names})
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(target, "id", None) == "_LAZY" for target in targets):
                names.update(ast.literal_eval(node.value))
            else:  # __version__ and the like: the package's own
                names.update({target.id: "googlenet" for target in targets if isinstance(target, ast.Name)})
    return names


def _resolved(target: str, top_level: dict[str, str]) -> str:
    """`googlenet.NAME` for a top-level name (not a module of the package) becomes the module defining it:
    `from googlenet import train` imports the training layer, however lazily."""
    parts = target.split(".")
    name = parts[1] if len(parts) == 2 else None
    if name and name not in LAYERS and not (PACKAGE / f"{name}.py").exists() and not (PACKAGE / name).is_dir():
        assert name in top_level, f"{target} is neither a module of the package nor one of its names"
        return top_level[name]
    return target


def _violations() -> list[str]:
    problems = []
    top_level = _top_level_names()
    for path in _source_files():
        own = _layer_of("googlenet." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own in FACADES:
            continue
        assert own in LAYERS, f"{path.relative_to(PACKAGE)} is in no layer: add it to LAYERS (and docs/architecture.md)"
        for line, target in _imports(path):
            target = _resolved(target, top_level)
            other = _layer_of(target)
            if other in FACADES:  # `import googlenet`: the package imports the model API only, layer "models"
                other = "models" if other == "__init__" else other
            if other in FACADES or LAYERS.get(other, -1) <= LAYERS[own] or (own, other) in ALLOWED_UPWARD:
                continue
            problems.append(f"{path.relative_to(PACKAGE)}:{line} ({own}) imports {target} ({other})")
    return problems


def test_layers_import_only_downwards():
    assert _violations() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "googlenet"
    (fake / "models").mkdir(parents=True)
    (fake / "models" / "network.py").write_text("def f():\n    from googlenet.training import loop\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert _violations() == ["models/network.py:2 (models) imports googlenet.training (training)"]


def test_a_lazy_top_level_name_counts_as_the_layer_that_defines_it(tmp_path, monkeypatch):
    fake = tmp_path / "googlenet"
    for layer in ("models", "training", "data"):
        (fake / layer).mkdir(parents=True)
    (fake / "__init__.py").write_text("from googlenet.models import googlenet\n"
                                      "_LAZY: dict[str, str] = {'train': 'googlenet.training.trainer'}\n")
    (fake / "data" / "load.py").write_text("from googlenet import googlenet\n")  # models: below data
    (fake / "models" / "network.py").write_text("def f():\n    from googlenet import train\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert _violations() == ["models/network.py:2 (models) imports googlenet.training.trainer (training)"]


HEAVY = ("PIL", "matplotlib", "tensorboard", "safetensors", "onnx", "onnxruntime", "openvino", "fastapi",
         "captum", "googlenet.data", "googlenet.weights", "googlenet.training", "googlenet.evaluation",
         "googlenet.inference", "googlenet.serving")

# Run in a fresh interpreter, since this process has imported everything by now. It leaves by os._exit:
# tearing down an interpreter that imported torch takes another second.
_IMPORT_PROBE = """
import json, os, sys
import torch
before = set(sys.modules)
import googlenet
print(json.dumps(sorted(set(sys.modules) - before)), flush=True)
os._exit(0)
"""


def test_import_googlenet_loads_the_model_api_only():
    result = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    new = json.loads(result.stdout)  # the modules `import googlenet` adds to those torch loads
    assert "googlenet.models.network" in new  # the probe sees what googlenet imports
    loaded = [name for name in new if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)]
    assert loaded == []


def test_everything_else_is_reachable_lazily():
    import googlenet

    lazy = [googlenet.train.__module__, googlenet.optimize.__module__, googlenet.from_pretrained.__module__]
    assert [name.split(".")[1] for name in lazy] == ["training", "inference", "weights"]
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        googlenet.trian  # noqa: B018


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _source_files() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def _lowest_claimed_python() -> tuple[int, int]:
    pyproject = (PACKAGE.parents[1] / "pyproject.toml").read_text()
    found = re.search(r'^requires-python = ">=(\d+)\.(\d+)"', pyproject, re.MULTILINE)
    return int(found[1]), int(found[2])


def test_the_tests_run_on_any_python_the_package_claims():
    # The code relies on 3.11 (asyncio's timeout is the built-in TimeoutError); `make test` runs on any
    # later version too (Debian 13 gives 3.13).
    assert sys.version_info[:2] >= _lowest_claimed_python()


def _run_ci_script(root: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """.ci/run from `root`, with a `make` that only says how it was called and a python3.11 that is no more
    than a name on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("make", 'echo "make $* GOOGLENET_CI_PYTHON=$GOOGLENET_CI_PYTHON"'), ("python3.11", "exit 0")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(root / ".ci" / "run")], env=env, capture_output=True, text=True)


def test_ci_runs_the_lowest_python_the_package_claims(tmp_path):
    # A version CI never runs is not claimed: .ci/run takes the lowest from requires-python (Debian 12 gives
    # 3.11, and the package index serves no interpreters) and names it in GOOGLENET_CI_PYTHON.
    major, minor = _lowest_claimed_python()
    ran = _run_ci_script(PACKAGE.parents[1], tmp_path)
    assert ran.returncode == 0, ran.stderr
    version = f"{major}.{minor}"
    assert ran.stdout.split() == ["make", "test", f"PYTHON=python{version}", f"GOOGLENET_CI_PYTHON={version}"]
    chosen = os.environ.get("GOOGLENET_CI_PYTHON")
    if chosen:  # under .ci/run: the interpreter it asked for is the one running the tests
        assert chosen == f"{major}.{minor}" and sys.version_info[:2] == (major, minor), (
            f"CI runs Python {sys.version_info[:2]}, asked for {chosen}, requires-python admits {major}.{minor}")


def test_ci_says_when_the_lowest_claimed_python_is_missing(tmp_path):
    clone = tmp_path / "clone"
    (clone / ".ci").mkdir(parents=True)
    (clone / ".ci" / "run").write_text((PACKAGE.parents[1] / ".ci" / "run").read_text())
    (clone / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.99"\n')
    ran = _run_ci_script(clone, tmp_path)
    assert ran.returncode == 2 and ran.stdout == ""
    assert ran.stderr.strip() == ".ci/run: python3.99, the lowest Python pyproject.toml claims, is not installed"
