"""What can be visualised, by name: an Inception module ("inception4c"), one of its four branches
("inception4c.branch3"), and a channel of either (an index into the module's concatenated output, or into
the branch's own channels), with the module and branch names the network itself uses
(`googlenet.explain.inception_stages`, `branch_label`).

`activations` runs the trunk only as far as the unit's module: optimising a channel of inception3a never
pays for the layers above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from googlenet.explain.attribution import BRANCHES, branch_label, inception_stages
from googlenet.models.layers import ConvBlock


@dataclass(frozen=True)
class Unit:
    """A module or one of its branches; its channels are `channels` wide."""

    module: str  # inception3a ... inception5b
    branch: str | None  # branch1 ... branch4, or None: the whole module
    channels: int
    label: str  # "inception4c 5x5 (branch3)", for sheets and the page

    @property
    def name(self) -> str:
        return self.module if self.branch is None else f"{self.module}.{self.branch}"


def _branch_width(module: nn.Module, branch: str) -> int:
    """A branch's output channels, read from its layers (never by running it: in training mode that would
    move the caller's BatchNorm statistics). A naive module's pool branch passes its input's width on."""
    part = getattr(module, branch)
    convolutions = [layer for layer in part.modules() if isinstance(layer, nn.Conv2d)]
    if convolutions:
        return convolutions[-1].out_channels
    return module.branch1.conv.in_channels


def resolve_unit(model: nn.Module, name: str) -> Unit:
    """The unit called `name` ("inception4c" or "inception4c.branch3"); a ValueError names the choices."""
    stages = dict(inception_stages(model))
    module_name, _, branch = name.partition(".")
    if module_name not in stages:
        raise ValueError(f"unknown module {module_name!r}; choose an Inception module: {', '.join(stages)}")
    module = stages[module_name]
    widths = {name: _branch_width(module, name) for name in BRANCHES}
    if not branch:
        return Unit(module_name, None, sum(widths.values()), module_name)
    if branch not in BRANCHES:
        raise ValueError(f"unknown branch {branch!r} of {module_name}; choose one of {', '.join(BRANCHES)}")
    return Unit(module_name, branch, widths[branch], f"{module_name} {branch_label(module, branch)} ({branch})")


def all_units(model: nn.Module) -> list[Unit]:
    """Every branch of every Inception module, in forward order."""
    return [resolve_unit(model, f"{name}.{branch}") for name, _ in inception_stages(model) for branch in BRANCHES]


def check_channels(unit: Unit, channels: list[int]) -> None:
    bad = [channel for channel in channels if not 0 <= channel < unit.channels]
    if bad:
        raise ValueError(f"channel {bad[0]} is out of range: {unit.name} has {unit.channels} channels "
                         f"(0-{unit.channels - 1})")


def _through_last_block(branch: nn.Module, x: Tensor, before_relu: bool) -> Tensor:
    blocks = list(branch) if isinstance(branch, nn.Sequential) else [branch]
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    if before_relu and isinstance(last, ConvBlock):
        return last.bn(last.conv(x))
    return last(x)


def activations(model: nn.Module, unit: Unit, images: Tensor, *, before_relu: bool = False) -> Tensor:
    """The unit's output [N, channels, h, w] for normalised `images`, running the trunk only up to its module.

    before_relu: each branch's last convolution before its ReLU (the pool branch of a naive module has
    none): the value the ReLU passes on when positive, with a gradient also where it is not, which is what
    an optimisation started from a random image needs (lucid optimises "pre_relu" tensors for this reason).
    """
    x = model.input_transform(images)
    for name, stage in model.stages():
        if name == unit.module:
            branches = BRANCHES if unit.branch is None else (unit.branch,)
            outputs = [_through_last_block(getattr(stage, branch), x, before_relu) for branch in branches]
            return outputs[0] if len(outputs) == 1 else torch.cat(outputs, 1)
        x = stage(x)
    raise ValueError(f"{unit.module} is not a stage of this model")  # resolve_unit found it: a changed model
