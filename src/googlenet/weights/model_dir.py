"""Model directories: save, load and check them.

A model directory is the Hugging Face Hub layout, so `huggingface_hub` can push and pull it, and it
works fully offline as a plain local folder:

    model.safetensors   the state_dict (safetensors: tensors only, nothing to execute)
    README.md           the model card (googlenet.weights.model_card), with the Hub's metadata block
    config.json         {"architecture": "googlenet_<flavour>" (timm's name), "format_version": 1,
                         "model": GoogLeNetConfig fields, "class_names": [...] | null,
                         "preprocessing": Preprocessing fields | null, and timm's fields:
                         "num_classes", "num_features", "model_args", "pretrained_cfg", ...}

                        evaluation.json, exports (model.onnx + model.onnx.json, ...): optional; they
                        describe the weights, so a save of other weights leaves them out

Which directory a name stands for is `googlenet.weights.sources`'s answer; checkpoint files are read
through `googlenet.weights.loading` (weights-only).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save

from googlenet.atomic_files import atomic_directory, write_bytes, write_text
from googlenet.models.table import FLAVOURS
from googlenet.models.metadata import ModelMetadata, attach_metadata, metadata_of, timm_architecture, timm_config_fields
from googlenet.models.network import GoogLeNet, GoogLeNetConfig, uninitialised_googlenet
from googlenet.models.preprocessing import Preprocessing
from googlenet.weights import hf_hub
from googlenet.weights.export import EXPORT_FORMATS, sidecar_path
from googlenet.weights.loading import load_checkpoint_file, load_state_dict_checked
from googlenet.weights.model_card import write_model_card
from googlenet.weights.sources import (CONFIG_NAME, EVALUATION_NAME, WEIGHTS_NAME, check_model_destination,
                                       locate_model, resolve_model_directory)

ARCHITECTURE = "googlenet"  # what older directories hold; now timm's registered name (timm_architecture)
ARCHITECTURES = (ARCHITECTURE, *(timm_architecture(flavour) for flavour in FLAVOURS))
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
    the model is not changed. The directory appears whole or not at all (`write_model_directory`). Only a
    model directory, an empty directory or a new path is written into: a training run directory is refused
    (its model lives in its model/), and so is any other non-empty directory.

    `push_to_hub=True` then uploads it to the Hugging Face Hub repository `repo_id` ("user/repo",
    created if need be; `push_options`: `revision`, `private`, `token`, `commit_message`).
    """
    if push_to_hub and repo_id is None:
        raise ValueError("push_to_hub=True needs repo_id='user/repo', the Hub repository to push to")
    if push_options and not push_to_hub:
        raise TypeError(f"save_pretrained got {sorted(push_options)}, which apply only with push_to_hub=True")
    if not isinstance(model, GoogLeNet):
        raise TypeError(f"save_pretrained takes a googlenet.GoogLeNet, got {type(model).__name__}")
    own = metadata_of(model)
    metadata = ModelMetadata(own.class_names if class_names is None else tuple(class_names),
                             own.preprocessing if preprocessing is None else preprocessing)
    directory = write_model_directory(model, directory, metadata)
    if push_to_hub:
        push_to_hub_directory(directory, repo_id, **push_options)
    return directory


def write_model_directory(model: GoogLeNet, directory: str | Path, metadata: ModelMetadata | None = None, *,
                          extra_files: Mapping[str, str] | None = None, run_dir: Path | None = None) -> Path:
    """The one writer of model directories (`save_pretrained`, a training run's model/): the weights, the
    config, `extra_files` (name -> text) and the model card (README.md; `run_dir`: the training run whose
    config it reads), swapped in whole. What else the old directory holds (a README)
    is carried over, except what describes the old weights: exports and their descriptions
    (`googlenet export`), and a run's evaluation.json. A failure half-way leaves the old directory as it was."""
    directory = Path(directory)
    document = config_document(model, metadata_of(model) if metadata is None else metadata)
    _parse_config(document, directory / CONFIG_NAME)  # never write a directory that from_pretrained would refuse
    check_model_destination(directory)

    state_dict = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    with atomic_directory(directory) as staging:
        _carry_over(directory, staging)
        # Bytes written by atomic_files, not save_file, which creates the file readable by its owner only.
        write_bytes(staging / WEIGHTS_NAME, save(state_dict, metadata={"format": "pt"}))  # "pt": the Hub's convention
        write_text(staging / CONFIG_NAME, json.dumps(document, indent=2) + "\n")
        for name, text in (extra_files or {}).items():
            write_text(staging / name, text)
        write_model_card(staging, run_dir=run_dir)
    return directory


def config_document(model: GoogLeNet, metadata: ModelMetadata) -> dict[str, Any]:
    """config.json of a model directory holding `model` with `metadata`."""
    # timm's fields too (its registered name as "architecture"): timm.create_model("hf-hub:user/repo") reads them.
    return {**timm_config_fields(model, metadata), "format_version": FORMAT_VERSION, "model": model.config.to_dict(),
            **metadata.to_dict()}


def push_to_hub_directory(directory: str | Path, repo_id: str, **push_options: Any) -> str:
    """Upload a model directory to Hugging Face Hub repository `repo_id`; returns the commit's URL.
    `push_options`: `revision`, `private`, `token`, `commit_message`."""
    location = locate_model(directory)
    directory = location.model_dir
    read_config(directory / CONFIG_NAME)  # never push what from_pretrained would refuse
    if not (directory / WEIGHTS_NAME).is_file():
        raise ValueError(f"{directory} has no {WEIGHTS_NAME}: not a model directory to push")
    write_model_card(directory, run_dir=location.run_dir, repo_id=repo_id)  # the card names the repository
    return hf_hub.push_model_directory(directory, repo_id, files=(CONFIG_NAME, WEIGHTS_NAME), **push_options)


def push_to_hub(model: GoogLeNet, repo_id: str, *, class_names: list[str] | None = None,
                preprocessing: Preprocessing | None = None, **push_options: Any) -> str:
    """Save `model` as a model directory (in a temporary folder) and upload it to Hugging Face Hub repository
    `repo_id` ("user/repo"); returns the commit's URL. `push_options` as for `push_to_hub_directory`."""
    with tempfile.TemporaryDirectory() as folder:
        directory = save_pretrained(model, Path(folder) / "model", class_names=class_names,
                                    preprocessing=preprocessing)
        return push_to_hub_directory(directory, repo_id, **push_options)


def _carry_over(directory: Path, staging: Path) -> None:
    """Copy what else the old directory holds (a README) into the new one, leaving out what describes the
    old weights: one rule for every writer, since an export of other weights would be a wrong answer."""
    if not directory.is_dir():
        return
    stale = _describing_old_weights(directory)
    for entry in directory.iterdir():
        if entry.name in (CONFIG_NAME, WEIGHTS_NAME) or entry.name in stale:
            continue
        if entry.is_dir():
            shutil.copytree(entry, staging / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, staging / entry.name, follow_symlinks=False)


def _describing_old_weights(directory: Path) -> set[str]:
    """The exports in `directory` (the default names, and any file with an export's description beside it),
    their descriptions, and a run's evaluation.json of the old weights."""
    stale = {EVALUATION_NAME}
    for entry in directory.iterdir():
        description = sidecar_path(entry)
        if entry.name in EXPORT_FORMATS.values() or _is_export_description(description):
            stale |= {entry.name, description.name}
    return stale


def _is_export_description(path: Path) -> bool:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and document.get("format") in EXPORT_FORMATS


def from_pretrained(
    directory: str | Path, *, revision: str | None = None, map_location: str | torch.device = "cpu"
) -> GoogLeNet:
    """Build the model a model directory describes (through its `GoogLeNetConfig`), load its weights,
    attach its class names and preprocessing, and return it in eval mode. A training run directory
    loads its `model/`; "hf-hub:user/repo" (at `revision`) is that Hugging Face Hub repository, downloaded
    into the Hugging Face cache first (needs `huggingface_hub`). A path is only ever a path
    (`googlenet.weights.sources`).
    """
    directory = resolve_model_directory(directory, revision)
    config_path = directory / CONFIG_NAME
    config, metadata = read_model_config(config_path)
    model = uninitialised_googlenet(config)  # every weight comes from the file: the load below is strict
    weights_path = directory / WEIGHTS_NAME
    load_state_dict_checked(model, load_checkpoint_file(weights_path), weights_path)
    attach_metadata(model, metadata)
    return model.to(map_location).eval()


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
    architecture = document.get("architecture")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"{path}: field 'architecture' must be one of {list(ARCHITECTURES)}, got {architecture!r}")
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
    if architecture not in (ARCHITECTURE, timm_architecture(config.flavour)):
        raise ValueError(f"{path}: field 'architecture' is {architecture!r} but model.flavour is {config.flavour!r}")

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
