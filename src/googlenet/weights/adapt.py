"""Fitting weights from one GoogLeNet onto another: the first convolution adapted to another number of
input channels, the network a bare state_dict describes, and the first tensor that does not fit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from googlenet.models.network import GoogLeNetConfig

FIRST_CONV = "conv1.conv.weight"
CLASSIFIER = ("fc.weight", "fc.bias")


def adapt_input_conv(weight: Tensor, in_chans: int) -> Tensor:
    """The first convolution's weights [out, in, k, k] for `in_chans` input channels, by the rule of timm's
    `adapt_input_conv`: onto one channel, the sum over the channels; onto more, the channels repeated in
    turn and scaled by in / in_chans. Either way an image whose channels are equal (a gray picture) gets the
    same response as before. timm adapts RGB weights only; the same rule takes a one-channel model onto RGB
    images (its channel repeated three times, a third of the weight each)."""
    dtype = weight.dtype
    weight = weight.float()  # summing half-precision weights on the CPU loses digits
    channels = weight.shape[1]
    if in_chans == channels:
        adapted = weight
    elif in_chans == 1:
        adapted = weight.sum(dim=1, keepdim=True)
    else:
        adapted = weight.repeat(1, math.ceil(in_chans / channels), 1, 1)[:, :in_chans] * (channels / in_chans)
    return adapted.to(dtype)


def config_of_state_dict(state_dict: Mapping[str, Tensor], flavour: str | None) -> GoogLeNetConfig:
    """The GoogLeNetConfig a bare state_dict (a .pth) was saved from, read off its tensors: BatchNorm or
    not, the "5x5" branch's kernel (3 in torchvision's network), naive modules, aux heads, classes and
    input channels. What the tensors do not tell (another architecture's file) falls back to `flavour`
    (else torchvision's), and the fit check then names the first tensor that differs."""
    branch3 = state_dict.get("inception3a.branch3.1.conv.weight")
    batch_norm = any(key.endswith(".bn.running_mean") for key in state_dict)
    if branch3 is not None and branch3.dim() == 4:
        inferred = "torchvision" if branch3.shape[-1] == 3 else ("bn" if batch_norm else "paper")
    else:
        inferred = flavour or "torchvision"
    classifier, first = state_dict.get("fc.weight"), state_dict.get(FIRST_CONV)
    return GoogLeNetConfig(
        flavour=inferred,
        num_classes=classifier.shape[0] if classifier is not None and classifier.dim() == 2 else 1000,
        in_chans=first.shape[1] if first is not None and first.dim() == 4 else 3,
        aux_logits="aux1.fc2.weight" in state_dict,
        naive="inception3a.branch2.conv.weight" in state_dict,
    )


def check_fits(weights: Mapping[str, Tensor], expected: Mapping[str, Tensor], source: str | Path, what: str) -> None:
    """ValueError naming the first tensor of `expected` (a model's state_dict, forward order) that
    `weights` lacks or holds in another shape, else the first tensor of `weights` the model has no place
    for. `what` describes the model ("a GoogLeNet of flavour 'bn'")."""
    for key, tensor in expected.items():
        if key.endswith("num_batches_tracked"):
            continue  # BatchNorm fills it itself
        if key not in weights:
            others = ", ".join(list(weights)[:4])
            raise ValueError(f"{source} does not fit {what}: the first mismatching tensor is {key}, which the "
                             f"weights do not hold (they start {others}, ...: another architecture?)")
        found = weights[key]
        if not isinstance(found, torch.Tensor) or found.shape != tensor.shape:
            shape = tuple(found.shape) if isinstance(found, torch.Tensor) else type(found).__name__
            raise ValueError(f"{source} does not fit {what}: the first mismatching tensor is {key}: "
                             f"{shape} in the weights, {tuple(tensor.shape)} in the model")
    for key in weights:
        if key not in expected:
            raise ValueError(f"{source} does not fit {what}: the weights hold {key}, which the model has no "
                             "place for (another architecture, or saved from a wrapper such as DDP's 'module.')")
