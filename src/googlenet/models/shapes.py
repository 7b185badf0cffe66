"""Sizes read off the network itself: forward passes on the meta device (shapes only, no memory and no
arithmetic), so that nothing here repeats torch's convolution and pooling size rules.

The passes run on a twin of the trunk built without BatchNorm: BatchNorm never changes a shape, and on
the meta device it is a Python kernel that costs ~10 ms a call, 57 calls a pass.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import replace

import torch
from torch import nn

from googlenet.models.table import IMAGE_CHANNELS, get_flavour
from googlenet.models.trunk import build_trunk

# The search for the smallest input stops here: no flavour needs more than a few dozen pixels.
LARGEST_SIDE_SEARCHED = 1024


@functools.lru_cache(maxsize=None)
def _geometry_trunk(flavour: str, naive: bool) -> nn.Sequential:
    spec = replace(get_flavour(flavour), batch_norm=False)
    with torch.device("meta"):
        trunk, _ = build_trunk(spec, IMAGE_CHANNELS, naive)
    return nn.Sequential(OrderedDict(trunk)).eval()


def stage_shapes(flavour: str, height: int, width: int | None = None, *, naive: bool = False) -> dict[str, tuple[int, int, int]]:
    """(channels, height, width) after each stage (conv1 ... inception5b) for a height x width input,
    from one forward pass on the meta device. A ValueError names the stage left without an output."""
    width = height if width is None else width
    x = torch.empty(1, IMAGE_CHANNELS, height, width, device="meta")
    shapes: dict[str, tuple[int, int, int]] = {}
    with torch.no_grad():
        for name, module in _geometry_trunk(flavour, naive).named_children():
            try:
                x = module(x)
            except RuntimeError as error:
                reason = str(error).splitlines()[0]
                raise ValueError(f"a {height}x{width} input leaves {name} of the {flavour!r} flavour without an "
                                 f"output ({reason})") from None
            shapes[name] = (x.shape[1], x.shape[2], x.shape[3])
    return shapes


def _fits(flavour: str, naive: bool, side: int) -> bool:
    try:
        stage_shapes(flavour, side, naive=naive)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def smallest_input_side(flavour: str, naive: bool = False) -> int:
    """The smallest square input side for which every stage has an output.

    A binary search over meta passes: every convolution and pool maps a larger input to an output at
    least as large, so once a side fits, every larger one does."""
    if not _fits(flavour, naive, LARGEST_SIDE_SEARCHED):
        raise RuntimeError(f"no input size up to {LARGEST_SIDE_SEARCHED} fits the {flavour!r} flavour")
    too_small, fits = 0, LARGEST_SIDE_SEARCHED
    while fits - too_small > 1:
        middle = (too_small + fits) // 2
        if _fits(flavour, naive, middle):
            fits = middle
        else:
            too_small = middle
    return fits
