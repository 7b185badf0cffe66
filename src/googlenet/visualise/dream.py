"""DeepDream (Mordvintsev, Olah and Tyka, "Inceptionism: Going Deeper into Neural Networks", Google Research
blog, 2015, and their deepdream notebook): gradient ascent on a unit's activations, started from a photo
instead of noise, so the network paints what the unit responds to into the picture.

As in the notebook: the objective is the mean of the squared activations of the module (or branch) to
amplify, or one channel's mean; each step moves the pixels along the gradient divided by its mean size,
with the image shifted by a random jitter first; and the work runs over octaves, from a copy shrunk by
`scale` per octave up to the full size, so that the patterns grow at several scales.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from googlenet.visualise.optimise import evaluating, normalisation
from googlenet.visualise.units import activations, check_channels, resolve_unit

STEPS = 10  # per octave, as the notebook's iter_n
STEP_SIZE = 0.02  # in [0, 1] pixel units (the notebook's 1.5 on 0-255 pixels, shifted by the mean)
OCTAVE_SCALE = 1.4
JITTER = 0.05  # the largest random shift per step, as a fraction of the side (the notebook: 32 px of 224)


def _ascend(model: nn.Module, unit, channel: int | None, image: Tensor, steps: int, step_size: float,
            generator: torch.Generator) -> Tensor:
    mean, std = normalisation(model)
    parameter = next(model.parameters())
    side = min(image.shape[-2:])
    for _ in range(steps):
        shift = [int(value) for value in torch.randint(-int(JITTER * side), int(JITTER * side) + 1, (2,),
                                                         generator=generator)]
        moved = torch.roll(image, shift, dims=(-2, -1)).requires_grad_(True)
        response = activations(model, unit, ((moved - mean) / std).to(parameter.device, parameter.dtype)).float()
        objective = response.pow(2).mean() if channel is None else response[:, channel].mean()
        (gradient,) = torch.autograd.grad(objective, [moved])
        gradient = torch.roll(gradient.cpu(), [-value for value in shift], dims=(-2, -1))
        image = (image + step_size * gradient / gradient.abs().mean().clamp_min(1e-8)).clamp(0, 1).detach()
    return image


def deep_dream(model: nn.Module, image: Tensor | str | os.PathLike, unit: str = "inception4c", *,
               channel: int | None = None, octaves: int = 4, steps: int = STEPS, step_size: float = STEP_SIZE,
               octave_scale: float = OCTAVE_SCALE, seed: int = 0) -> Tensor:
    """`image` (a file, or [C, H, W] in [0, 1] in the model's channels) with what `unit` ("inception4c", or
    a branch "inception4c.branch3") responds to amplified; [C, H, W] in [0, 1] at the image's size.

    octaves: how many scales, each `octave_scale` smaller than the next (those smaller than the network's
    smallest input are left out). channel: amplify one channel instead of the whole unit. Deterministic
    for a seed; the model comes back in the mode it came in.
    """
    if not isinstance(image, Tensor):
        from googlenet.data.images import load_image
        from torchvision.transforms.functional import pil_to_tensor

        image = pil_to_tensor(load_image(image, model.in_chans)).float() / 255
    if image.dim() != 3 or image.shape[0] != model.in_chans:
        raise ValueError(f"the image must be [{model.in_chans}, H, W] for this model, got {tuple(image.shape)}")
    if octaves < 1:
        raise ValueError(f"octaves must be at least 1, got {octaves}")
    unit = resolve_unit(model, unit)
    if channel is not None:
        check_channels(unit, [channel])
    generator = torch.Generator().manual_seed(seed)
    original = image.float()[None]
    sizes = [tuple(max(1, round(side / octave_scale**level)) for side in original.shape[-2:]) for level in range(octaves)]
    sizes = [size for size in sizes if min(size) >= model.min_input_size][::-1] or [tuple(original.shape[-2:])]
    detail = torch.zeros_like(F.interpolate(original, size=sizes[0], mode="bilinear", align_corners=False))
    with evaluating(model), torch.enable_grad():
        for size in sizes:
            base = F.interpolate(original, size=size, mode="bilinear", align_corners=False)
            detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)
            dreamed = _ascend(model, unit, channel, (base + detail).clamp(0, 1), steps, step_size, generator)
            detail = dreamed - base
    return dreamed[0]
