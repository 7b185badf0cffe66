"""What a name given for a model or weights stands for: the one resolver every entry point calls.

    runs/fashion-mnist           a path is a path: a model directory, or a training run directory (its model/)
    hf-hub:user/repo[@revision]  a Hugging Face Hub repository, in the Hugging Face cache (timm's spelling)

A name is never guessed: a missing path shaped like `user/repo` is a missing path, answered at once and
without the network ("does not exist", with the nearest existing name beside it). torchvision's ImageNet
weights have their own name where weights are asked for (`googlenet.weights.imagenet.SOURCE_NAME`).

The same rules tell a writer what it would write into (`check_model_destination`): a model directory is
written only into a model directory, an empty directory or a new path, never into a training run.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from googlenet.weights import hf_hub
from googlenet.weights.hf_hub import HUB_PREFIX

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
RUN_MODEL_DIR = "model"  # a training run's model directory, inside the run directory
EVALUATION_NAME = "evaluation.json"  # in a run's model/: the record of its weights (epoch, split, top-1)
CHECKPOINT_SUFFIXES = (".pt", ".pth")
_GIVE = "give a model directory or a training run directory"
_SIBLINGS_READ = 10_000  # a directory of more entries is not searched for a near name


@dataclass(frozen=True)
class ModelLocation:
    """What a MODEL argument names: the model directory, and the training run it belongs to (if any)."""

    model_dir: Path  # config.json (with "architecture") + model.safetensors
    run_dir: Path | None = None  # the run directory whose model/ this is
    hub_name: str | None = None  # "hf-hub:user/repo" when model_dir is that repository's copy in the Hub's cache


def hub_repo_id(name: str | os.PathLike) -> str | None:
    """"user/repo@revision" for a name spelled "hf-hub:user/repo@revision", else None (a path)."""
    if not isinstance(name, str) or not name.startswith(HUB_PREFIX):
        return None
    repo = name[len(HUB_PREFIX):]
    if not repo:
        raise ValueError(f"{name!r} names no repository: write {HUB_PREFIX}user/repo")
    return repo


def locate_model(name: str | os.PathLike, revision: str | None = None) -> ModelLocation:
    """The model `name` stands for (see the module docstring), with its run where it has one. A Hub
    repository is read at `revision` (a branch, tag or commit; or "hf-hub:user/repo@revision"). Every
    failure is one line naming what was found there; missing or damaged weights are left for the loader."""
    repo = hub_repo_id(name)
    if repo is not None:
        return ModelLocation(_hub_directory(repo, revision), hub_name=str(name))
    if revision is not None:
        raise ValueError(f"{name} is a local path: revision={revision!r} applies to {HUB_PREFIX}user/repo names only")
    path = existing_path(name)
    if not path.is_dir():
        raise ValueError(f"{path} is a file: {_GIVE}")
    kind = directory_kind(path)
    if kind == "run":
        if directory_kind(path / RUN_MODEL_DIR) != "model":
            raise ValueError(f"{path} is a training run directory without a model yet: a run writes "
                             f"{RUN_MODEL_DIR}/ after its first epoch")
        return ModelLocation(path / RUN_MODEL_DIR, path)
    if kind == "model":
        in_run = path.name == RUN_MODEL_DIR and directory_kind(path.parent) == "run"
        return ModelLocation(path, path.parent if in_run else None)
    if kind == "empty":
        raise ValueError(f"{path} is an empty directory: {_GIVE}")
    raise ValueError(f"{path} is neither a model directory ({CONFIG_NAME} + {WEIGHTS_NAME}) nor a training run "
                     f"directory with a {RUN_MODEL_DIR}/ inside: {_GIVE}")


def resolve_model_directory(name: str | os.PathLike, revision: str | None = None) -> Path:
    """The local model directory `name` stands for (`locate_model`)."""
    return locate_model(name, revision).model_dir


def locate_run(name: str | os.PathLike) -> Path:
    """The training run directory `name` names: the run directory itself, or a checkpoint file inside it
    (what `--resume` takes). One line naming what was found instead."""
    path = existing_path(name, "give a training run directory")
    if path.is_file():
        if path.suffix not in CHECKPOINT_SUFFIXES:
            raise ValueError(f"{path} is a file: give a training run directory (or a checkpoint file in one)")
        path = path.parent
    kind = directory_kind(path)
    if kind == "run":
        return path
    if kind == "empty":
        raise ValueError(f"{path} is an empty directory: give a training run directory")
    if kind == "model":
        inside = " (the run is the directory above it)" if directory_kind(path.parent) == "run" else ""
        raise ValueError(f"{path} is a model directory, not a training run directory{inside}")
    raise ValueError(f"{path} is not a training run directory (no {CONFIG_NAME} of a run, no checkpoint)")


def check_model_destination(directory: str | os.PathLike) -> None:
    """Refuse to write a model directory anywhere but into a model directory, an empty directory or a new
    path: never over a file, a training run (whose model lives in its model/) or a folder of other files."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a model directory: choose another path")
    kind = directory_kind(directory) if directory.is_dir() else "empty"
    if kind == "run":
        raise ValueError(f"{directory} is a training run directory: its model lives in "
                         f"{directory / RUN_MODEL_DIR}/; write there, or to a new or empty directory")
    if kind is None:
        raise ValueError(f"{directory} holds other files and is not a model directory (no {CONFIG_NAME}): "
                         "refusing to replace it; choose a new or empty directory")


def directory_kind(path: Path) -> str | None:
    """"model", "run", "empty", or None (something else). A run directory holds checkpoints or a config.json
    without "architecture" (the run's TrainConfig). Weights without a config.json, or a config.json that
    cannot be read, count as a model directory, so that loading it names the file and what is wrong."""
    try:
        names = [entry.name for entry in os.scandir(path)]
    except OSError:
        return None
    if not names:
        return "empty"
    if any(name.startswith("checkpoint_") and name.endswith(CHECKPOINT_SUFFIXES) for name in names):
        return "run"
    if CONFIG_NAME not in names:
        return "model" if WEIGHTS_NAME in names else None
    try:
        document = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "model"
    return "run" if isinstance(document, dict) and "architecture" not in document else "model"


def existing_path(name: str | os.PathLike, give: str = _GIVE) -> Path:
    """`name` as a Path; a FileNotFoundError of one line when nothing is there, naming the nearest existing
    name (the deepest folder that exists, and the entry in it that reads most like the next part)."""
    path = Path(name)
    if path.exists():
        return path
    raise FileNotFoundError(f"{path} does not exist{_nearest_hint(path)}: {give}")


def _nearest_hint(path: Path) -> str:
    parts = path.parts
    for depth in range(len(parts) - 1, -1, -1):
        folder = Path(*parts[:depth]) if depth else Path(".")
        if folder.is_dir():
            break
    else:
        return ""
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for _, entry in zip(range(_SIBLINGS_READ), entries)]
    except OSError:
        names = []
    near = difflib.get_close_matches(parts[depth], names, n=1, cutoff=0.8)  # a typo, not any name sharing letters
    if near:
        return f" (did you mean {Path(*parts[:depth], near[0])}?)"
    if depth == 0 and len(parts) == 2 and not path.is_absolute():
        return f" (a Hugging Face Hub repository is written {HUB_PREFIX}{path.as_posix()})"
    return ""


def _hub_directory(repo: str, revision: str | None) -> Path:
    repo_id, _, named_revision = repo.partition("@")
    if named_revision and revision is not None and named_revision != revision:
        raise ValueError(f"{HUB_PREFIX}{repo} names revision {named_revision!r}, and revision={revision!r} was given")
    return hf_hub.download_model_directory(repo_id, named_revision or revision, files=(CONFIG_NAME, WEIGHTS_NAME))
