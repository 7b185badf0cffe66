"""The caller's model comes back as it went in: evaluate, predict and explain borrow it in eval mode and
put its mode back, feed it inputs on its own device and in its own dtype, and never move it (as
torchvision's reference `evaluate` and timm's `validate` leave the model where they found it)."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn


def placement(model: Any) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of `model`'s weights: where its inputs must go and what they must be.
    A model without tensors of its own (ONNX Runtime, OpenVINO) takes float32 on the CPU."""
    tensors = [*model.parameters(), *model.buffers()] if isinstance(model, nn.Module) else []
    floating = next((tensor for tensor in tensors if tensor.is_floating_point()), None)
    if floating is None:
        return torch.device("cpu"), torch.float32
    return floating.device, floating.dtype


@contextlib.contextmanager
def in_eval_mode(model: Any) -> Iterator[Any]:
    """`model` in eval mode for the block, then in the mode it was in (even if the block raises)."""
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def on_device(model: Any, device: torch.device | str | None) -> Any:
    """`model` itself when its weights are on `device` (or `device` is None), else a copy there: the
    caller's model is never moved."""
    if device is None:
        return model
    device = torch.device(device)
    where, _ = placement(model)
    if where.type == device.type and (device.index is None or where.index == device.index):
        return model
    if not isinstance(model, nn.Module) or next(iter(model.parameters()), None) is None:
        return model  # nothing of its own to move (ONNX Runtime, OpenVINO run where they were built)
    return copy.deepcopy(model).to(device)
