"""Model directories: save, load and check them; torchvision's ImageNet weights turned into one.

A model directory is the Hugging Face Hub layout, so `huggingface_hub` can push and pull it, and it
works fully offline as a plain local folder:

    model.safetensors   the state_dict (safetensors: tensors only, nothing to execute)
    config.json         {"architecture": "googlenet", "format_version": 1,
                         "model": GoogLeNetConfig fields, "class_names": [...] | null,
                         "preprocessing": Preprocessing fields | null}

Checkpoint files are read through `googlenet.weights.loading` (weights-only).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from googlenet.atomic_files import atomic_directory, write_bytes, write_text
from googlenet.models.table import FLAVOURS
from googlenet.models.metadata import ModelMetadata, attach_metadata, metadata_of
from googlenet.models.network import GoogLeNet, GoogLeNetConfig, uninitialised_googlenet
from googlenet.models.preprocessing import Preprocessing
from googlenet.models.pretrained import GoogLeNet_Weights
from googlenet.weights import hf_hub
from googlenet.weights.loading import load_checkpoint_file, load_state_dict_checked, state_dict_from_checkpoint

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
RUN_MODEL_DIR = "model"  # a training run's model directory, inside the run directory
ARCHITECTURE = "googlenet"
FORMAT_VERSION = 1

# The type each GoogLeNetConfig field must have in config.json; every field is required, so a
# config.json never silently falls back to a default that changes the network.
_MODEL_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "flavour": (str,),
    "num_classes": (int,),
    "in_chans": (int,),
    "aux_logits": (bool,),
    "dropout": (int, float, type(None)),
    "aux_dropout": (int, float, type(None)),
    "naive": (bool,),
    "transform_input": (bool,),
}
_PREPROCESSING_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "input_size": (int,),
    "resize_size": (int,),
    "mean": (list, tuple),  # a JSON list; a tuple in a Preprocessing being saved
    "std": (list, tuple),
    "interpolation": (str,),
    "channel_order": (str,),
}


def save_pretrained(
    model: GoogLeNet,
    directory: str | Path,
    *,
    class_names: list[str] | None = None,
    preprocessing: Preprocessing | None = None,
    push_to_hub: bool = False,
    repo_id: str | None = None,
    **push_options: Any,
) -> Path:
    """Write `model` as a model directory (model.safetensors + config.json) and return its path.

    `class_names` and `preprocessing` override the model's own metadata record (`model.metadata`);
    the model is not changed. The directory appears whole or not at all: it is written beside the
    target and swapped in (other files already in it are carried over), so a failure half-way leaves
    the previous version as it was. A non-empty directory that is not a model directory is refused.

    `push_to_hub=True` then uploads it to the Hugging Face Hub repository `repo_id` ("user/repo",
    created if need be; `push_options`: `revision`, `private`, `token`, `commit_message`).
    """
    if push_to_hub and repo_id is None:
        raise ValueError("push_to_hub=True needs repo_id='user/repo', the Hub repository to push to")
    if push_options and not push_to_hub:
        raise TypeError(f"save_pretrained got {sorted(push_options)}, which apply only with push_to_hub=True")
    if not isinstance(model, GoogLeNet):
        raise TypeError(f"save_pretrained takes a googlenet.GoogLeNet, got {type(model).__name__}")
    directory = Path(directory)
    own = metadata_of(model)
    metadata = ModelMetadata(own.class_names if class_names is None else tuple(class_names),
                             own.preprocessing if preprocessing is None else preprocessing)
    document = {"architecture": ARCHITECTURE, "format_version": FORMAT_VERSION, "model": model.config.to_dict(),
                **metadata.to_dict()}
    # The same check as on loading: never write a directory that from_pretrained would refuse.
    _parse_config(document, directory / CONFIG_NAME)
    _check_replaceable(directory)

    state_dict = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    with atomic_directory(directory) as staging:
        _carry_over(directory, staging)
        # Bytes written by atomic_files, not save_file, which creates the file readable by its owner only.
        write_bytes(staging / WEIGHTS_NAME, save(state_dict, metadata={"format": "pt"}))  # "pt": the Hub's convention
        write_text(staging / CONFIG_NAME, json.dumps(document, indent=2) + "\n")
    if push_to_hub:
        push_to_hub_directory(directory, repo_id, **push_options)
    return directory


def push_to_hub_directory(directory: str | Path, repo_id: str, **push_options: Any) -> str:
    """Upload a model directory to Hugging Face Hub repository `repo_id`; returns the commit's URL.
    `push_options`: `revision`, `private`, `token`, `commit_message`."""
    directory = locate_model(directory).model_dir
    read_config(directory / CONFIG_NAME)  # never push what from_pretrained would refuse
    if not (directory / WEIGHTS_NAME).is_file():
        raise ValueError(f"{directory} has no {WEIGHTS_NAME}: not a model directory to push")
    return hf_hub.push_model_directory(directory, repo_id, files=(CONFIG_NAME, WEIGHTS_NAME), **push_options)


def push_to_hub(model: GoogLeNet, repo_id: str, *, class_names: list[str] | None = None,
                preprocessing: Preprocessing | None = None, **push_options: Any) -> str:
    """Save `model` as a model directory (in a temporary folder) and upload it to Hugging Face Hub repository
    `repo_id` ("user/repo"); returns the commit's URL. `push_options` as for `push_to_hub_directory`."""
    with tempfile.TemporaryDirectory() as folder:
        directory = save_pretrained(model, Path(folder) / "model", class_names=class_names,
                                    preprocessing=preprocessing)
        return push_to_hub_directory(directory, repo_id, **push_options)


def _check_replaceable(directory: Path) -> None:
    """Refuse to swap out anything but a model directory, an empty directory or nothing."""
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a model directory: choose another path")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / CONFIG_NAME).is_file():
        raise ValueError(f"{directory} holds other files and is not a model directory (no {CONFIG_NAME}): "
                         "refusing to replace it; choose a new or empty directory")


def _carry_over(directory: Path, staging: Path) -> None:
    """Copy what else the old directory holds (a README, exports) into the new one."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name in (CONFIG_NAME, WEIGHTS_NAME):
            continue
        if entry.is_dir():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)


@dataclass(frozen=True)
class ModelLocation:
    """What a MODEL argument names: the model directory, and the training run it belongs to (if any)."""

    model_dir: Path  # config.json (with "architecture") + model.safetensors
    run_dir: Path | None = None  # the run directory whose model/ this is


_GIVE = "give a model directory or a training run directory"


def locate_model(path: str | Path) -> ModelLocation:
    """The one rule for "model directory or run directory", used by every command and loader that takes
    either. A model directory's config.json is a model config (it has "architecture"); a run directory's
    config.json is the run's TrainConfig (no "architecture"), and its model is `model/` inside, written after
    the first epoch. Missing or damaged weights are left for the loader to name."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: {_GIVE}")
    if not path.is_dir():
        raise ValueError(f"{path} is a file: {_GIVE}")
    kind = _directory_kind(path)
    if kind == "run":
        if _directory_kind(path / RUN_MODEL_DIR) != "model":
            raise ValueError(f"{path} is a training run directory without a model yet: a run writes "
                             f"{RUN_MODEL_DIR}/ after its first epoch")
        return ModelLocation(path / RUN_MODEL_DIR, path)
    if kind == "model":
        in_run = path.name == RUN_MODEL_DIR and _directory_kind(path.parent) == "run"
        return ModelLocation(path, path.parent if in_run else None)
    raise ValueError(f"{path} is neither a model directory ({CONFIG_NAME} + {WEIGHTS_NAME}) nor a training run "
                     f"directory with a {RUN_MODEL_DIR}/ inside: {_GIVE}")


def _directory_kind(path: Path) -> str | None:
    """"model", "run", or None. Weights without a config.json, or a config.json that cannot be read, count
    as a model directory, so that loading it names the file and what is wrong with it."""
    if not (path / CONFIG_NAME).is_file():
        return "model" if (path / WEIGHTS_NAME).is_file() else None
    try:
        document = json.loads((path / CONFIG_NAME).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "model"
    return "run" if isinstance(document, dict) and "architecture" not in document else "model"


def from_pretrained(
    directory: str | Path, *, revision: str | None = None, map_location: str | torch.device = "cpu"
) -> GoogLeNet:
    """Build the model a model directory describes (through its `GoogLeNetConfig`), load its weights,
    attach its class names and preprocessing, and return it in eval mode. A training run directory
    loads its `model/` (`locate_model`). A Hugging Face Hub repository id ("user/repo", at `revision`) that
    is not a local directory is downloaded into the Hugging Face cache first (needs `huggingface_hub`).
    """
    directory = resolve_model_directory(directory, revision)
    config_path = directory / CONFIG_NAME
    config, metadata = read_model_config(config_path)
    model = uninitialised_googlenet(config)  # every weight comes from the file: the load below is strict
    weights_path = directory / WEIGHTS_NAME
    load_state_dict_checked(model, load_checkpoint_file(weights_path), weights_path)
    attach_metadata(model, metadata)
    return model.to(map_location).eval()


def resolve_model_directory(name: str | Path, revision: str | None = None) -> Path:
    """The local model directory `name` stands for: an existing directory (a local one always wins), or a
    Hub repository id's copy in the Hugging Face cache."""
    if Path(name).exists():
        if revision is not None:
            raise ValueError(f"{name} is a local directory: revision={revision!r} applies to Hub repositories only")
        return locate_model(name).model_dir
    if hf_hub.is_repo_id(name):
        return hf_hub.download_model_directory(str(name), revision, files=(CONFIG_NAME, WEIGHTS_NAME))
    return locate_model(name).model_dir  # names what is missing


def read_model_config(path: str | Path) -> tuple[GoogLeNetConfig, ModelMetadata]:
    """Read and check a model directory's config.json: (network config, metadata record)."""
    config, class_names, preprocessing = read_config(path)
    return config, ModelMetadata(None if class_names is None else tuple(class_names), preprocessing)


def read_config(path: str | Path) -> tuple[GoogLeNetConfig, list[str] | None, Preprocessing | None]:
    """Read and check a model directory's config.json: (network config, class names, preprocessing)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist: a model directory needs {CONFIG_NAME} beside {WEIGHTS_NAME}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    return _parse_config(document, path)


def _parse_config(document: Any, path: Path) -> tuple[GoogLeNetConfig, list[str] | None, Preprocessing | None]:
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(document).__name__}")
    if document.get("architecture") != ARCHITECTURE:
        raise ValueError(
            f"{path}: field 'architecture' must be {ARCHITECTURE!r}, got {document.get('architecture')!r}"
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ValueError(
            f"{path}: field 'format_version' must be {FORMAT_VERSION}, got {version!r}"
            + (" (written by a newer version of googlenet)" if newer else "")
        )
    for name in ("model", "class_names", "preprocessing"):
        if name not in document:
            raise ValueError(f"{path}: missing field {name!r}")

    fields = _checked_fields(document["model"], _MODEL_FIELD_TYPES, path, "model")
    if fields["flavour"] not in FLAVOURS:
        raise ValueError(f"{path}: field 'model.flavour' is {fields['flavour']!r}; choose one of: {', '.join(FLAVOURS)}")
    try:
        config = GoogLeNetConfig(**fields)  # checks the values (counts, rates)
    except ValueError as error:
        raise ValueError(f"{path}: field 'model': {error}") from None

    class_names = document["class_names"]
    if class_names is not None:
        if not isinstance(class_names, list) or not all(isinstance(name, str) for name in class_names):
            raise ValueError(f"{path}: field 'class_names' must be a list of strings or null")
        if len(class_names) != config.num_classes:
            raise ValueError(
                f"{path}: field 'class_names' has {len(class_names)} names but model.num_classes is {config.num_classes}"
            )

    preprocessing = None
    if document["preprocessing"] is not None:
        values = _checked_fields(document["preprocessing"], _PREPROCESSING_FIELD_TYPES, path, "preprocessing",
                                 allow_unknown=True)
        for name in ("mean", "std"):
            if len(values[name]) != config.in_chans or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values[name]
            ):
                raise ValueError(
                    f"{path}: field 'preprocessing.{name}' must be {config.in_chans} numbers (one per input "
                    f"channel, model.in_chans={config.in_chans}), got {values[name]!r}"
                )
        try:
            preprocessing = Preprocessing.from_dict(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: field 'preprocessing': {error}") from None
    return config, class_names, preprocessing


def _checked_fields(
    values: Any, types: dict[str, tuple[type, ...]], path: Path, section: str, allow_unknown: bool = False
) -> dict[str, Any]:
    """`values` as a dict, with every field of `types` present and of its type (bool is not an int)."""
    if not isinstance(values, dict):
        raise ValueError(f"{path}: field {section!r} must be a JSON object, got {type(values).__name__}")
    missing = [name for name in types if name not in values]
    if missing:
        raise ValueError(f"{path}: field {section!r} is missing {', '.join(repr(name) for name in missing)}")
    unknown = sorted(set(values) - set(types))
    if unknown and not allow_unknown:
        raise ValueError(f"{path}: field {section!r} has unknown fields {unknown}; known: {list(types)}")
    for name, allowed in types.items():
        value = values[name]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in allowed)
            raise ValueError(f"{path}: field '{section}.{name}' must be {expected}, got {value!r}")
    return dict(values)


def import_torchvision(
    checkpoint: str | Path, directory: str | Path, *, aux_logits: bool = False, transform_input: bool = True
) -> Path:
    """Turn a torchvision googlenet checkpoint into a model directory of the `torchvision` flavour.

    Made for torchvision's ImageNet file (googlenet-1378be20.pth, 69.778% top-1), and works for any
    torchvision googlenet state_dict. Those ImageNet weights expect inputs on a [-1, 1] scale but are
    documented with ImageNet mean/std; torchvision's `googlenet(weights=...)` silently adds the
    conversion (`transform_input=True`, pytorch/vision#4136). Here it is written into config.json as
    `transform_input: true`, and the preprocessing recorded is torchvision's for these weights, so the
    directory reproduces `torchvision.models.googlenet(weights="IMAGENET1K_V1")`. Pass
    `transform_input=False` for a torchvision googlenet you trained yourself without it.

    The released file holds aux heads that were never trained (torchvision warns so); they are
    dropped unless `aux_logits=True`. A 1000-class checkpoint gets the ImageNet class names.
    """
    checkpoint = Path(checkpoint)
    state_dict = state_dict_from_checkpoint(load_checkpoint_file(checkpoint), checkpoint)
    if "fc.weight" not in state_dict:
        raise ValueError(f"{checkpoint}: not a GoogLeNet state_dict (no 'fc.weight'); keys: {sorted(state_dict)[:5]}...")
    if not aux_logits:
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith(("aux1.", "aux2."))}
    num_classes = state_dict["fc.weight"].shape[0]
    config = GoogLeNetConfig("torchvision", num_classes=num_classes, aux_logits=aux_logits,
                             transform_input=transform_input)
    model = uninitialised_googlenet(config)  # every weight comes from the checkpoint: the load below is strict
    load_state_dict_checked(model, state_dict, checkpoint)

    imagenet = GoogLeNet_Weights.IMAGENET1K_V1  # what these weights expect: their preprocessing, class names
    categories = imagenet.meta["categories"]
    attach_metadata(model, class_names=list(categories) if num_classes == len(categories) else None,
                    preprocessing=imagenet.preprocessing)
    return save_pretrained(model, directory)
