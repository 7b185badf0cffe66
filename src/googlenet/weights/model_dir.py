"""Weights in and out: model directories, safe checkpoint loading, torchvision's ImageNet weights.

A model directory is the Hugging Face Hub layout, so `huggingface_hub` can push and pull it, and it
works fully offline as a plain local folder:

    model.safetensors   the state_dict (safetensors: tensors only, nothing to execute)
    config.json         {"architecture": "googlenet", "format_version": 1,
                         "model": GoogLeNetConfig fields, "class_names": [...] | null,
                         "preprocessing": Preprocessing fields | null}

Nothing here unpickles arbitrary objects: weights are read from safetensors, and any `.pth`/`.pt`
file goes through `load_checkpoint_file`, which uses `torch.load(weights_only=True)`. Such a file
may hold tensors, dicts, lists, tuples, strings, numbers, booleans and None, and nothing else; in
particular no numpy arrays. So a training checkpoint stores RNG states as:

    torch.get_rng_state()                      as is (a uint8 tensor)
    random.getstate()                          as is (a tuple of ints and None)
    numpy.random.get_state()                   as (name, keys.tolist(), pos, has_gauss, cached_gaussian);
                                               numpy.random.set_state accepts that tuple back
    numpy Generator's bit_generator.state      as is (a dict of ints and strings)
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from googlenet.models.table import FLAVOURS
from googlenet.models.network import GoogLeNet, GoogLeNetConfig
from googlenet.data.transforms import Preprocessing

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
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

# Shown at most this many keys per kind of problem when a checkpoint does not fit a model.
_KEYS_SHOWN = 12


def save_pretrained(
    model: GoogLeNet,
    directory: str | Path,
    *,
    class_names: list[str] | None = None,
    preprocessing: Preprocessing | None = None,
) -> Path:
    """Write `model` as a model directory (model.safetensors + config.json) and return its path.

    `class_names` and `preprocessing` override the model's own `class_names` / `preprocessing`.
    """
    if not isinstance(model, GoogLeNet):
        raise TypeError(f"save_pretrained takes a googlenet.GoogLeNet, got {type(model).__name__}")
    directory = Path(directory)
    class_names = model.class_names if class_names is None else class_names
    preprocessing = model.preprocessing if preprocessing is None else preprocessing
    document = {
        "architecture": ARCHITECTURE,
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "class_names": None if class_names is None else list(class_names),
        "preprocessing": None if preprocessing is None else preprocessing.to_dict(),
    }
    # The same check as on loading: never write a directory that from_pretrained would refuse.
    _parse_config(document, directory / CONFIG_NAME)

    directory.mkdir(parents=True, exist_ok=True)
    state_dict = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    # Bytes written with open(), not save_file, which creates the file readable by its owner only.
    (directory / WEIGHTS_NAME).write_bytes(save(state_dict, metadata={"format": "pt"}))  # "pt": the Hub's convention
    (directory / CONFIG_NAME).write_text(json.dumps(document, indent=2) + "\n")
    return directory


def from_pretrained(directory: str | Path, *, map_location: str | torch.device = "cpu") -> GoogLeNet:
    """Build the model a model directory describes, load its weights, and return it in eval mode.

    The returned model carries the directory's `class_names` and `preprocessing`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a model directory (no such directory)")
    config_path = directory / CONFIG_NAME
    config, class_names, preprocessing = read_config(config_path)
    try:
        model = GoogLeNet(**config.to_dict(), init_weights=False)
    except ValueError as error:
        raise ValueError(f"{config_path}: field 'model': {error}") from None
    weights_path = directory / WEIGHTS_NAME
    load_state_dict_checked(model, load_checkpoint_file(weights_path), weights_path)
    model.class_names = class_names
    model.preprocessing = preprocessing
    return model.to(map_location).eval()


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
    config = GoogLeNetConfig(**fields)  # value checks (counts, rates) are GoogLeNet's, in from_pretrained

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


def load_checkpoint_file(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The one way this project reads a weights or checkpoint file: `.safetensors`, or `.pth`/`.pt`
    through `torch.load(weights_only=True)`, which refuses any pickled object that is not plain data
    (see the module docstring for what a checkpoint may hold). Every failure is a ValueError naming
    the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes): an interrupted download or save?")
    if path.suffix == ".safetensors":
        try:
            return load_file(path, device=str(torch.device(map_location)))
        except (SafetensorError, OSError) as error:
            raise ValueError(f"{path} is not a readable safetensors file (truncated or corrupt?): {error}") from None
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(_refusal_message(path, str(error))) from None
    except Exception as error:  # noqa: BLE001 - torch.load reports a damaged file with many exception types
        detail = f"{type(error).__name__}: {error}".rstrip(": ")
        raise ValueError(f"{path} is not a readable PyTorch checkpoint (truncated or corrupt?): {detail}") from None
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"{path}: expected a dict (a state_dict or a training checkpoint), got {type(checkpoint).__name__}"
        )
    return checkpoint


def _refusal_message(path: Path, torch_message: str) -> str:
    # torch's message goes on to suggest weights_only=False; this project never offers that.
    culprit = re.search(r"GLOBAL ([\w.]+)", torch_message)
    if culprit is None:
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", torch_message, re.DOTALL)
        reason = " ".join((detail.group(1) if detail else torch_message.splitlines()[0]).split())
        return f"{path} is not a readable PyTorch checkpoint (truncated or corrupt?): {reason}"
    message = (
        f"refused to load {path}: it holds pickled Python objects other than tensors and plain data, "
        f"which could run code when loaded; only weights-only checkpoints are read (it asks for {culprit.group(1)})"
    )
    if "numpy" in culprit.group(1):
        message += ". numpy arrays are not loaded: store numpy's RNG state as a list (see googlenet.weights.model_dir)"
    return message


def state_dict_from_checkpoint(checkpoint: Mapping[str, Any], source: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict inside `checkpoint`: the checkpoint itself, or its "model" or "state_dict" entry
    (how torchvision's reference scripts and most trainers save one)."""
    if checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        return dict(checkpoint)
    for key in ("model", "state_dict"):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(value, torch.Tensor) for value in inner.values()):
            return dict(inner)
    raise ValueError(
        f"{source}: no state_dict found: expected a dict of tensors, or one under 'model' or 'state_dict'; "
        f"top-level keys are {sorted(map(str, checkpoint))[:_KEYS_SHOWN]}"
    )


def load_state_dict_checked(model: torch.nn.Module, state_dict: Mapping[str, Any], source: str | Path) -> None:
    """`model.load_state_dict(state_dict)`, but every mismatch is one ValueError naming `source`, the
    keys, and the expected and found shapes, with a hint where the cause is recognisable. Nothing is
    loaded when anything does not fit.
    """
    expected = model.state_dict()
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    # BatchNorm fills a missing num_batches_tracked itself (checkpoints from before it existed).
    missing = [key for key in expected if key not in state_dict and not key.endswith("num_batches_tracked")]
    unexpected = [key for key in state_dict if key not in expected]
    mismatched = [
        key for key, value in state_dict.items()
        if key in expected and isinstance(value, torch.Tensor) and value.shape != expected[key].shape
    ]
    problems = []
    if mismatched:
        shapes = [
            f"{key}: model {tuple(expected[key].shape)}, checkpoint {tuple(state_dict[key].shape)}" for key in mismatched
        ]
        problems.append(f"shape mismatch ({len(mismatched)}):" + _listed(shapes))
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}):" + _listed(missing))
    if unexpected:
        problems.append(f"not in the model ({len(unexpected)}):" + _listed(unexpected))
    if not_tensors:
        problems.append(f"not tensors ({len(not_tensors)}):" + _listed(not_tensors))
    if problems:
        description = f"{type(model).__name__}"
        if isinstance(model, GoogLeNet):
            config = model.config
            description += (f" (flavour {config.flavour!r}, {config.num_classes} classes, "
                            f"in_chans {config.in_chans}, aux_logits {config.aux_logits})")
        hints = _mismatch_hints(missing, unexpected, mismatched, state_dict, expected)
        raise ValueError(
            f"{source} does not fit the {description}:\n  " + "\n  ".join(problems)
            + "".join(f"\n  hint: {hint}" for hint in hints)
        )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise ValueError(f"{source} does not fit the model: {error}") from None


def _listed(lines: list[str]) -> str:
    shown = "".join(f"\n    {line}" for line in lines[:_KEYS_SHOWN])
    return shown + (f"\n    ... and {len(lines) - _KEYS_SHOWN} more" if len(lines) > _KEYS_SHOWN else "")


def _mismatch_hints(
    missing: list[str], unexpected: list[str], mismatched: list[str],
    state_dict: Mapping[str, Any], expected: Mapping[str, torch.Tensor],
) -> list[str]:
    def is_aux(key: str) -> bool:
        return key.startswith(("aux1.", "aux2."))

    hints = []
    if missing and all(map(is_aux, missing)):
        hints.append("the checkpoint has no auxiliary heads: build the model with aux_logits=False "
                     "(in config.json: model.aux_logits false)")
    if unexpected and all(map(is_aux, unexpected)):
        hints.append("the checkpoint has auxiliary heads the model lacks: build it with aux_logits=True, "
                     "or drop the aux1.*/aux2.* entries")
    if unexpected and all(key.startswith("module.") for key in unexpected):
        hints.append("the keys start with 'module.': saved from a DistributedDataParallel wrapper; "
                     "save model.module instead")
    # The "5x5" branch's second convolution tells the flavours apart (pytorch/vision#906).
    branch3_kernels = {
        state_dict[key].shape[-1] for key in mismatched if ".branch3.1." in key and state_dict[key].dim() == 4
    }
    if 3 in branch3_kernels:
        hints.append("the checkpoint's '5x5' branch is 3x3, as in torchvision's GoogLeNet (pytorch/vision#906): "
                     "use flavour 'torchvision' (or `googlenet import-torchvision`)")
    elif 5 in branch3_kernels:
        hints.append("the checkpoint's '5x5' branch is a true 5x5: use flavour 'bn' or 'paper'")
    if "fc.weight" in mismatched:
        hints.append(f"the classifier has {state_dict['fc.weight'].shape[0]} outputs in the checkpoint and "
                     f"{expected['fc.weight'].shape[0]} in the model: set num_classes accordingly, or load the rest "
                     f"and call reset_classifier to fine-tune")
    return hints


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
    from torchvision.models import GoogLeNet_Weights

    checkpoint = Path(checkpoint)
    state_dict = state_dict_from_checkpoint(load_checkpoint_file(checkpoint), checkpoint)
    if "fc.weight" not in state_dict:
        raise ValueError(f"{checkpoint}: not a GoogLeNet state_dict (no 'fc.weight'); keys: {sorted(state_dict)[:5]}...")
    if not aux_logits:
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith(("aux1.", "aux2."))}
    num_classes = state_dict["fc.weight"].shape[0]
    model = GoogLeNet("torchvision", num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input,
                      init_weights=False)
    load_state_dict_checked(model, state_dict, checkpoint)

    imagenet = GoogLeNet_Weights.IMAGENET1K_V1
    transforms = imagenet.transforms()
    model.preprocessing = Preprocessing(
        input_size=transforms.crop_size[0],
        resize_size=transforms.resize_size[0],
        mean=tuple(transforms.mean),
        std=tuple(transforms.std),
        interpolation=transforms.interpolation.value,
        channel_order="RGB",
    )
    categories = imagenet.meta["categories"]
    model.class_names = list(categories) if num_classes == len(categories) else None
    return save_pretrained(model, directory)
