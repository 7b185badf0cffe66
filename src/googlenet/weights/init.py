"""Starting a training run from weights instead of random ones (`googlenet train --init`).

`load_initial_weights(source, num_classes=..., in_chans=...)` takes a model directory, a training run
directory (its `model/`), a Hugging Face Hub repository ("hf-hub:user/repo", `googlenet.weights.sources`),
"torchvision-imagenet" (torchvision's ImageNet GoogLeNet, downloaded once into
the torch hub cache: `googlenet.weights.imagenet`) or a local .pth/.safetensors state_dict, and returns a
model for the new data: the flavour and the trunk from the weights, a new classifier and new aux heads
for `num_classes`, the first convolution adapted to `in_chans` (`googlenet.weights.adapt`), and the
preprocessing the weights were trained with, adapted to the channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from googlenet.models.preprocessing import Preprocessing
from googlenet.models.network import GoogLeNet, GoogLeNetConfig
from googlenet.weights import imagenet
from googlenet.weights.adapt import CLASSIFIER, FIRST_CONV, adapt_input_conv, check_fits, config_of_state_dict
from googlenet.weights.loading import load_checkpoint_file, state_dict_from_checkpoint
from googlenet.models.metadata import ModelMetadata, attach_metadata
from googlenet.weights.model_dir import read_model_config
from googlenet.weights.sources import (CONFIG_NAME, WEIGHTS_NAME, ModelLocation, existing_path, hub_repo_id,
                                       locate_model)

WEIGHT_FILE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
_CHOICES = (f"give a model or run directory, a weights file ({', '.join(WEIGHT_FILE_SUFFIXES)}), hf-hub:user/repo or "
            f"{imagenet.SOURCE_NAME!r}")


@dataclass
class InitialWeights:
    """A model ready to train on the new data, and what it came from."""

    model: GoogLeNet  # training mode, metadata attached (preprocessing; class names if given)
    preprocessing: Preprocessing | None  # what the weights were trained with, for the new channels; None: unknown
    source: str  # the weights read: a directory, a file, or "torchvision-imagenet (<cached file>)"
    description: str  # one line for the run's log: source, flavour, what was re-made or adapted


@dataclass
class SourceWeights:
    """Weights read for --init (`read_initial_weights`), before they are fitted to the new data."""

    state_dict: dict[str, Tensor]
    config: GoogLeNetConfig  # the network the weights were saved from
    metadata: ModelMetadata
    label: str
    summary: str
    trained_aux: bool  # aux heads worth keeping (torchvision's ImageNet ones were never trained)

    def preprocessing_for(self, in_chans: int) -> Preprocessing | None:
        """The preprocessing these weights take on images of `in_chans` channels (None: they do not say)."""
        return _preprocessing_for(self, in_chans)


def read_initial_weights(source: str | Path, flavour: str | None = None) -> SourceWeights:
    """The weights `source` names (see the module docstring), read once: a run asks them for the
    normalisation of its data before it knows the data's channels, then builds its model from them."""
    weights = _read(source, flavour)
    if flavour is not None and flavour != weights.config.flavour:
        raise ValueError(f"the initial weights ({weights.label}) are a GoogLeNet of flavour {weights.config.flavour!r}, "
                         f"but flavour {flavour!r} was asked for: leave the flavour out, it comes from the weights")
    return weights


def load_initial_weights(
    source: str | Path | SourceWeights,
    *,
    num_classes: int,
    in_chans: int,
    flavour: str | None = None,
    aux_logits: bool = True,
    class_names: Sequence[str] | None = None,
) -> InitialWeights:
    """The model to start a run from `source` (see the module docstring). `flavour`, if given, must be the
    weights' own; `aux_logits` builds aux heads (from the weights' trained ones, with new classifiers, else
    new); `class_names` equal to the weights' own keep their classifier (a run continued on the same
    classes), otherwise the classifiers are new. `source` may be weights already read (`read_initial_weights`).
    A ValueError names what does not fit."""
    weights = source if isinstance(source, SourceWeights) else read_initial_weights(source, flavour)
    with torch.device("meta"):  # the network the weights describe, shapes only
        described = GoogLeNet(weights.config, init_weights=False).state_dict()
    check_fits(weights.state_dict, described, weights.label, f"a GoogLeNet of flavour {weights.config.flavour!r} "
               f"({weights.config.num_classes} classes, {weights.config.in_chans} input channels)")

    keep_head = (class_names is not None and weights.metadata.class_names == tuple(class_names)
                 and num_classes == weights.config.num_classes)
    config = replace(weights.config, num_classes=num_classes, in_chans=in_chans, aux_logits=aux_logits,
                     transform_input=weights.config.transform_input and in_chans == 3)
    model = GoogLeNet(config)  # what the weights do not cover keeps the flavour's initialisation
    state = model.state_dict()
    state.update(_carried(weights, config, keep_head))
    model.load_state_dict(state)

    preprocessing = _preprocessing_for(weights, in_chans)
    names = list(class_names) if class_names is not None and len(class_names) == num_classes else None
    attach_metadata(model, class_names=names, preprocessing=preprocessing)
    return InitialWeights(model.train(), preprocessing, weights.label,
                          _describe(weights, config, keep_head, preprocessing))


def _carried(weights: SourceWeights, config: GoogLeNetConfig, keep_head: bool) -> dict[str, Tensor]:
    """The source tensors the new model takes over, the first convolution adapted."""
    def is_aux(key: str) -> bool:
        return key.startswith(("aux1.", "aux2."))

    def is_aux_classifier(key: str) -> bool:
        return key.startswith(("aux1.fc2.", "aux2.fc2."))

    carried = {}
    for key, tensor in weights.state_dict.items():
        if key in CLASSIFIER and not keep_head:
            continue
        if is_aux(key) and (not config.aux_logits or not weights.trained_aux or
                            (is_aux_classifier(key) and not keep_head)):
            continue
        carried[key] = adapt_input_conv(tensor, config.in_chans) if key == FIRST_CONV else tensor
    return carried


def _read(source: str | Path, flavour: str | None) -> SourceWeights:
    if str(source) == imagenet.SOURCE_NAME:
        path = imagenet.imagenet_checkpoint()
        return _imagenet_weights(path, f"{imagenet.SOURCE_NAME} ({path})")
    path = Path(source) if hub_repo_id(source) is not None else existing_path(source, _CHOICES)
    if path.is_file():
        if path.suffix not in WEIGHT_FILE_SUFFIXES:
            raise ValueError(f"{path} is a file but not a weights file: {_CHOICES}")
        state_dict = state_dict_from_checkpoint(load_checkpoint_file(path), path)
        if imagenet.is_imagenet_file(path):
            return _imagenet_weights(path, str(path), state_dict)
        config = config_of_state_dict(state_dict, flavour)
        return SourceWeights(state_dict, config, ModelMetadata(), str(path), f"the state_dict in {path}",
                              trained_aux=True)
    return _directory_weights(locate_model(source), str(source))  # every other answer is the resolver's


def _imagenet_weights(path: Path, label: str, state_dict: dict[str, Tensor] | None = None) -> SourceWeights:
    if state_dict is None:
        state_dict = state_dict_from_checkpoint(load_checkpoint_file(path), path)
    trunk = {key: value for key, value in state_dict.items() if not key.startswith(("aux1.", "aux2."))}
    return SourceWeights(trunk, imagenet.CONFIG, ModelMetadata(None, imagenet.PREPROCESSING), label,
                          f"torchvision's ImageNet GoogLeNet ({imagenet.TOP1}% top-1)", trained_aux=False)


def _directory_weights(location: ModelLocation, name: str) -> SourceWeights:
    directory = location.model_dir
    config, metadata = read_model_config(directory / CONFIG_NAME)
    state_dict = load_checkpoint_file(directory / WEIGHTS_NAME)
    kind = "the model of run" if location.run_dir is not None and Path(name) == location.run_dir else "model directory"
    return SourceWeights(state_dict, config, metadata, str(directory), f"{kind} {name}", trained_aux=True)


def _preprocessing_for(weights: SourceWeights, in_chans: int) -> Preprocessing | None:
    """The weights' preprocessing for `in_chans` channels (None when the weights do not say)."""
    preprocessing = weights.metadata.preprocessing
    if preprocessing is None:
        return None
    order = "L" if in_chans == 1 else "RGB"
    if weights.config.transform_input and in_chans != 3:
        # transform_input turns ImageNet-normalised RGB into (x - 0.5) / 0.5, the scale these weights take; it
        # needs RGB, so for other channel counts that scale is the normalisation itself (exactly the same input).
        return replace(preprocessing, mean=(0.5,) * in_chans, std=(0.5,) * in_chans, channel_order=order)
    if preprocessing.in_chans == in_chans:
        return preprocessing

    def per_channel(values: tuple[float, ...]) -> tuple[float, ...]:
        if in_chans == 1:
            return (round(sum(values) / len(values), 4),)  # timm's choice for gray: the channels' average
        return tuple(values[index % len(values)] for index in range(in_chans))

    return replace(preprocessing, mean=per_channel(preprocessing.mean), std=per_channel(preprocessing.std),
                   channel_order=order)


def _describe(weights: SourceWeights, config: GoogLeNetConfig, keep_head: bool,
              preprocessing: Preprocessing | None) -> str:
    parts = [f"initial weights: {weights.summary}, flavour {config.flavour!r}"]
    if keep_head:
        parts.append("classifiers kept (the same classes)")
    else:
        parts.append(f"new classifier{'s (main and aux)' if config.aux_logits else ''} for {config.num_classes} classes")
    if config.aux_logits and not (weights.trained_aux and weights.config.aux_logits):
        parts.append("new aux heads (the weights have no trained ones)")
    if weights.config.in_chans != config.in_chans:
        parts.append(f"first convolution adapted from {weights.config.in_chans} to {config.in_chans} input "
                     "channels (timm's adapt_input_conv rule)")
    if preprocessing is not None:
        parts.append(f"preprocessing from the weights: {preprocessing.input_size} px, mean "
                     f"{list(preprocessing.mean)}, std {list(preprocessing.std)}")
    return "; ".join(parts)
