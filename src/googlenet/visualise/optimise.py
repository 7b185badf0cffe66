"""Feature visualisation: the image that most excites a channel (or a whole branch or module), found by
gradient ascent on the unit's mean activation (Olah, Mordvintsev and Schubert, "Feature Visualization",
Distill 2017), with the image parameterised in Fourier space with decorrelated colour (`parameterisation`)
and moved a little at every step (`robustness`).

A batch of channels is optimised at once, one image per channel: the model is in eval mode, so the images
do not interact, and a whole branch costs about as many steps as one channel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from googlenet.models.preprocessing import IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD, Preprocessing
from googlenet.visualise.parameterisation import FourierImage
from googlenet.visualise.robustness import Robustness, random_moves
from googlenet.visualise.units import Unit, activations, check_channels, resolve_unit

# lucid's render_vis defaults: Adam at 0.05. Fewer steps than its 512: at 32 px the image settles well before.
STEPS = 128
LEARNING_RATE = 0.05
# The objective is the channel's mean activation after its ReLU, but with this slope below zero: a channel
# silent everywhere on the random start still gets a gradient (Adam scales it up), and once it fires the
# objective is the ReLU'd mean that dataset examples rank by. Optimising the value before the ReLU alone
# raises the mean by making negative positions less negative, which the ReLU then discards.
LEAK = 0.01


def normalisation(model: nn.Module) -> tuple[Tensor, Tensor]:
    """The model's per-channel mean and std ([1, C, 1, 1]), from the preprocessing it carries."""
    preprocessing = model.preprocessing or (Preprocessing() if model.in_chans == 3 else
                                            Preprocessing(mean=IMAGENET_GRAY_MEAN, std=IMAGENET_GRAY_STD))
    return (torch.tensor(preprocessing.mean).view(1, -1, 1, 1), torch.tensor(preprocessing.std).view(1, -1, 1, 1))


def input_side(model: nn.Module) -> int:
    side = model.preprocessing.input_size if model.preprocessing is not None else 224
    return max(side, model.min_input_size)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode for the block, then back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def channel_means(model: nn.Module, unit: Unit | str, images: Tensor) -> Tensor:
    """Each channel's mean activation (after its ReLU) over the positions, [N, channels], for `images` in
    [0, 1] at the model's input size (not normalised): what visualisations maximise and dataset examples rank."""
    unit = resolve_unit(model, unit) if isinstance(unit, str) else unit
    mean, std = normalisation(model)
    parameter = next(model.parameters())
    batch = ((images.float() - mean) / std).to(parameter.device, parameter.dtype)
    with evaluating(model), torch.no_grad():
        return activations(model, unit, batch).float().mean(dim=(2, 3)).cpu()


def visualise_channels(model: nn.Module, unit: Unit | str, channels: Sequence[int | None], *, steps: int = STEPS,
                       seed: int = 0, side: int | None = None, learning_rate: float = LEARNING_RATE,
                       robustness: Robustness = Robustness(), start: Tensor | None = None,
                       progress: Callable[[int, int], None] | None = None) -> Tensor:
    """One optimised image per entry of `channels` (None: the mean over all the unit's channels), as
    [len(channels), C, S, S] in [0, 1] on the CPU, C the model's channels (1: grayscale, 3: RGB).

    The same seed gives the same images. `start` ([N, C, S, S] in [0, 1]) starts from given images
    instead of random ones. `progress` is called with (steps done, steps) after each step. The model
    comes back in the mode, device and dtype it came in; its weights' gradients are not touched.
    """
    unit = resolve_unit(model, unit) if isinstance(unit, str) else unit
    check_channels(unit, [channel for channel in channels if channel is not None])
    side = side or input_side(model)
    generator = torch.Generator().manual_seed(seed)
    image = FourierImage(len(channels), model.in_chans, side, generator=generator, start=start)
    optimiser = torch.optim.Adam(image.parameters(), lr=learning_rate)
    mean, std = normalisation(model)
    parameter = next(model.parameters())
    chosen = torch.tensor([-1 if channel is None else channel for channel in channels])
    with evaluating(model), torch.enable_grad():
        for step in range(steps):
            moved = (random_moves(image(), robustness, generator) - mean) / std
            response = activations(model, unit, moved.to(parameter.device, parameter.dtype), before_relu=True)
            per_channel = F.leaky_relu(response.float(), LEAK).mean(dim=(2, 3)).cpu()  # [N, channels]
            whole = per_channel.mean(dim=1)
            picked = per_channel.gather(1, chosen.clamp_min(0)[:, None])[:, 0]
            objective = torch.where(chosen >= 0, picked, whole).sum()
            optimiser.zero_grad()
            (gradient,) = torch.autograd.grad(-objective, [image.spectrum])
            image.spectrum.grad = gradient
            optimiser.step()
            if progress is not None:
                progress(step + 1, steps)
    with torch.no_grad():
        return image().detach()


def visualise(model: nn.Module, unit: str, channel: int | None = None, **options) -> Tensor:
    """The image [C, S, S] in [0, 1] that most excites `channel` of `unit` ("inception4c.branch3": a
    branch, "inception4c": a module, whose channels are the four branches' concatenated), or the unit as a
    whole when `channel` is None. Options as `visualise_channels` (steps, seed, side, learning_rate,
    robustness)."""
    return visualise_channels(model, unit, [channel], **options)[0]
