"""Reading weights safely: checkpoint files, the state_dict inside them, and loading it into a model
with every mismatch named.

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

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from googlenet.models.network import GoogLeNet

# Shown at most this many keys per kind of problem when a checkpoint does not fit a model (the counts are
# given in full): the first differences say what is wrong; the message stays one line.
_KEYS_SHOWN = 3


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
        message += ". numpy arrays are not loaded: store numpy's RNG state as a list (see googlenet.weights.loading)"
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
    """`model.load_state_dict(state_dict)`, but every mismatch is one ValueError of one line naming `source`,
    how many keys differ in each way, the first of them with the expected and found shapes, and a hint where
    the cause is recognisable. Nothing is loaded when anything does not fit.
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
            f"{key} model {tuple(expected[key].shape)} checkpoint {tuple(state_dict[key].shape)}" for key in mismatched
        ]
        problems.append(f"{len(mismatched)} of other shape" + _listed(shapes))
    if missing:
        problems.append(f"{len(missing)} missing from the checkpoint" + _listed(missing))
    if unexpected:
        problems.append(f"{len(unexpected)} not in the model" + _listed(unexpected))
    if not_tensors:
        problems.append(f"{len(not_tensors)} not tensors" + _listed(not_tensors))
    if problems:
        description = f"{type(model).__name__}"
        if isinstance(model, GoogLeNet):
            config = model.config
            description += (f" (flavour {config.flavour!r}, {config.num_classes} classes, "
                            f"in_chans {config.in_chans}, aux_logits {config.aux_logits})")
        hints = _mismatch_hints(missing, unexpected, mismatched, state_dict, expected)
        raise ValueError(f"{source} does not fit the {description}: " + "; ".join(problems)
                         + "".join(f"; hint: {hint}" for hint in hints))
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise ValueError(f"{source} does not fit the model: {' '.join(str(error).split())}") from None


def _listed(entries: list[str]) -> str:
    more = f", and {len(entries) - _KEYS_SHOWN} more" if len(entries) > _KEYS_SHOWN else ""
    return " (" + ", ".join(entries[:_KEYS_SHOWN]) + more + ")"


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
