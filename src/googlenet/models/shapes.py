"""Sizes read off the network itself: forward passes of an empty batch (zero images: every operator
checks and computes its output's size, none does any arithmetic), so that nothing here repeats torch's
convolution and pooling size rules.

The passes run on a CPU twin of the trunk built without BatchNorm (BatchNorm never changes a shape), not
on the meta device: running operators on the meta device first imports some 500 modules (sympy, the
decompositions), about 2 s that every command running a model would pay for its input-size check. The
twin is only built on the meta device and then allocated uninitialised on the CPU
(`googlenet.models.allocation`): its weights are never read, and the caller's random stream is not touched.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import replace

import torch
from torch import nn
from torch.fx._symbolic_trace import is_fx_symbolic_tracing  # torch has no public name for it yet

from googlenet.models.allocation import allocate_uninitialised
from googlenet.models.table import IMAGE_CHANNELS, get_flavour
from googlenet.models.trunk import build_trunk

# The search for the smallest input stops here: no flavour needs more than a few dozen pixels.
LARGEST_SIDE_SEARCHED = 1024


def _geometry_trunk(flavour: str, naive: bool) -> nn.Sequential:
    """Not cached: ~25 MB of (uninitialised) weights, rebuilt in a few ms when needed again."""
    spec = replace(get_flavour(flavour), batch_norm=False)
    with torch.device("meta"):
        trunk, _ = build_trunk(spec, IMAGE_CHANNELS, naive)
    return allocate_uninitialised(nn.Sequential(OrderedDict(trunk)), "cpu").eval()


def stage_shapes(flavour: str, height: int, width: int | None = None, *, naive: bool = False,
                 trunk: nn.Sequential | None = None) -> dict[str, tuple[int, int, int]]:
    """(channels, height, width) after each stage (conv1 ... inception5b) for a height x width input,
    from one forward pass of an empty batch. A ValueError names the stage left without an output."""
    width = height if width is None else width
    trunk = _geometry_trunk(flavour, naive) if trunk is None else trunk
    x = torch.empty(0, IMAGE_CHANNELS, height, width)
    shapes: dict[str, tuple[int, int, int]] = {}
    with torch.no_grad():
        for name, module in trunk.named_children():
            try:
                x = module(x)
            except RuntimeError as error:
                reason = str(error).splitlines()[0]
                raise ValueError(f"a {height}x{width} input leaves {name} of the {flavour!r} flavour without an "
                                 f"output ({reason})") from None
            shapes[name] = (x.shape[1], x.shape[2], x.shape[3])
    return shapes


def _fits(flavour: str, naive: bool, side: int, trunk: nn.Sequential) -> bool:
    try:
        stage_shapes(flavour, side, naive=naive, trunk=trunk)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def smallest_input_side(flavour: str, naive: bool = False) -> int:
    """The smallest square input side for which every stage has an output.

    A binary search over empty-batch passes: every convolution and pool maps a larger input to an output
    at least as large, so once a side fits, every larger one does."""
    trunk = _geometry_trunk(flavour, naive)
    if not _fits(flavour, naive, LARGEST_SIDE_SEARCHED, trunk):
        raise RuntimeError(f"no input size up to {LARGEST_SIDE_SEARCHED} fits the {flavour!r} flavour")
    too_small, fits = 0, LARGEST_SIDE_SEARCHED
    while fits - too_small > 1:
        middle = (too_small + fits) // 2
        if _fits(flavour, naive, middle, trunk):
            fits = middle
        else:
            too_small = middle
    return fits


def is_being_traced() -> bool:
    """Whether the caller runs under torch.jit.trace, torch.compile/export or torch.fx's symbolic tracing:
    the input's shape is fixed (or symbolic) there, and a Python check on it would stop an fx trace."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or is_fx_symbolic_tracing()


def check_input_batch(x: torch.Tensor, in_chans: int, min_side: int, flavour: str) -> None:
    """A ValueError naming the shape unless `x` is a batch [N, in_chans, H, W] with H, W >= min_side."""
    if x.dim() != 4:
        raise ValueError(f"GoogLeNet expects a 4-d batch [N, C, H, W], got shape {tuple(x.shape)}")
    if x.shape[1] != in_chans:
        raise ValueError(
            f"input has {x.shape[1]} channels but the model was built with in_chans={in_chans} "
            f"(input shape {tuple(x.shape)}); build it with in_chans={x.shape[1]} or convert the images"
        )
    if x.shape[2] < min_side or x.shape[3] < min_side:
        raise ValueError(f"input {x.shape[2]}x{x.shape[3]} is smaller than the minimum {min_side}x{min_side} "
                         f"for the {flavour!r} flavour")
