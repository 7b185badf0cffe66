"""Small random moves of the image at every optimisation step: the optimised image must excite the channel
however it is shifted, scaled or turned a little, which removes the adversarial high-frequency patterns that
excite it only at one exact alignment (Olah et al., "Feature Visualization", Distill 2017, "Transformation
robustness"; lucid's `standard_transforms`: pad 12, jitter 8, scale 0.9-1.1, rotate -10..10 degrees, jitter 4,
at 128 px).

Here the moves are one affine map per image (a shift, a scale and a turn, drawn from `generator`), sized
relative to the image, at half lucid's proportions (its 12 pixels of jitter at 128 px are about a tenth of
the side): at 32 px, a tenth of the side, 10% scaling and 10 degrees left some channels of a small
Fashion-MNIST model less excited by their visualisation than by the best validation image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Robustness:
    jitter: float = 0.05  # the largest shift, as a fraction of the side (each direction)
    scale: float = 0.05  # scale factors drawn from 1 - scale ... 1 + scale
    degrees: float = 5.0  # turns drawn from -degrees ... degrees


NONE = Robustness(0.0, 0.0, 0.0)


def _uniform(count: int, half_width: float, generator: torch.Generator | None) -> Tensor:
    return (torch.rand(count, generator=generator) * 2 - 1) * half_width


def random_moves(images: Tensor, robustness: Robustness, generator: torch.Generator | None) -> Tensor:
    """`images` [N, C, S, S] in [0, 1], each shifted, scaled and turned at random; what moves in from
    outside is mid-grey (lucid pads with 0.5)."""
    count = images.shape[0]
    if robustness == NONE:
        return images
    turn = _uniform(count, math.radians(robustness.degrees), generator)
    zoom = 1 + _uniform(count, robustness.scale, generator)
    shift = torch.stack([_uniform(count, 2 * robustness.jitter, generator) for _ in range(2)], 1)  # [-1, 1] grid units
    cos, sin = torch.cos(turn) / zoom, torch.sin(turn) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + 0.5
