"""Defaults chosen from the data, each recorded with its reason in `DataSplits.decisions`.

The train preset follows the images' size: random-area crops (the paper's) cut away most of a 32x32
picture, so small images get the small preset (shifts of a few pixels), large ones the paper's crops with
the area bounded so that a crop keeps most of a small object. Horizontal flips are off unless asked for or
the data set is known to be mirror-safe: a mirrored digit or character is another symbol or none. The input
size follows the images when it is not given. A data set smaller than a few batches is refused, not trained
for one silent step an epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from googlenet.models.preprocessing import (
    IMAGENET_GRAY_MEAN,
    IMAGENET_GRAY_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocessing,
)
from googlenet.data.splits import LoadOptions
from googlenet.data.transforms import TRAIN_PRESET_SUMMARIES, eval_preset, train_preset_by_name

SMALL_IMAGE_SIDE = 64  # images whose median shorter side is at most this get the small preset
SMALL_INPUT_MIN = 32  # the smallest input chosen (GoogLeNet's trunk needs 31 px)
LARGE_INPUT_SIZE = 224  # Table 1's input, for images of 256 px and more
MIN_BATCHES_PER_EPOCH = 4
# Runs shorter than this many steps train without augmentation under train_preset="auto". Measured on a
# folder of 1,500 small RGB images, 6 epochs of 23 steps: shifts cost 7 points of validation accuracy
# (73.0% against 80.4% without). On Fashion-MNIST, googlenet train's default run (5 epochs of 210 steps of
# 256) with shifts underfit (89.8% train, 90.67% validation top-1, seed 0) and reached 91.63% and 91.42%
# without them (seeds 0 and 1, peak rate 0.1, docs/results.md); 7 epochs of 421 steps (2,947) train with
# them. The boundary between is a round number, not a measured optimum.
SHORT_RUN_STEPS = 1500


@dataclass
class PreprocessingChoice:
    """What the loaders build the splits with, and why."""

    in_chans: int
    preprocessing: Preprocessing
    train_transform: Callable
    eval_transform: Callable
    decisions: list[str] = field(default_factory=list)


def median_side(sides: Sequence[int]) -> int:
    """The median of the images' shorter sides (the upper one of an even count: a real image's side)."""
    return sorted(sides)[len(sides) // 2]


def describe_sides(sides: Sequence[int]) -> str:
    low, high = min(sides), max(sides)
    if low == high:
        return f"images are {low} px on their shorter side"
    return f"images are {low} to {high} px on their shorter side (median {median_side(sides)})"


def choose_preprocessing(
    sides: Sequence[int],
    in_chans: int,
    mean: Sequence[float],
    std: Sequence[float],
    options: LoadOptions,
    *,
    mirror_safe: bool | None = None,
    mirror_reason: str = "",
    train_count: int | None = None,
) -> PreprocessingChoice:
    """The preset, input size and flips for training images whose shorter sides are `sides`.

    mirror_safe: whether a mirrored image of this data set still shows its class (None: not known, as for
    any image folder); mirror_reason says why, for the decision's text. train_count: the number of
    training images, which with options.epochs and options.batch_size gives the run's length in steps.
    """
    sizes = describe_sides(sides)
    median = median_side(sides)
    decisions = []
    if options.normalization is not None:
        mean, std, why = options.normalization(in_chans)
        if len(mean) != in_chans or len(std) != in_chans or min(std) <= 0:
            raise ValueError(f"normalization for {in_chans} channel(s) gave mean {tuple(mean)}, std {tuple(std)}")
        decisions.append(f"normalised with mean {_rounded(mean)}, std {_rounded(std)}: {why}")
    preset = options.train_preset
    if preset == "auto":
        preset = "small" if median <= SMALL_IMAGE_SIDE else "bounded"
        why = ("shifts of up to 4 px; random-area crops would cut away most of an image this small"
               if preset == "small" else TRAIN_PRESET_SUMMARIES[preset])
        steps = _run_steps(train_count, options)
        if steps is not None and steps < SHORT_RUN_STEPS:
            why = (f"a run of {steps} steps is too short for augmentation to pay back the slower fitting it "
                   f"causes; pass --train-preset {preset} to augment")
            preset = "none"
        decisions.append(f"{sizes}: preset {preset} ({why})")
    else:
        decisions.append(f"preset {preset}, as given")

    input_size = options.input_size
    if input_size is None:
        input_size, why = _input_size_for(median)
        decisions.append(f"input size {input_size}: {why}")
    hflip = _flips(options.hflip, mirror_safe, mirror_reason, decisions)

    whole_image = median <= SMALL_IMAGE_SIDE  # small images are seen whole at evaluation: resized, not cropped
    preprocessing = Preprocessing(
        input_size=input_size, resize_size=input_size if whole_image else round(input_size * 256 / 224),
        mean=tuple(mean), std=tuple(std), channel_order="L" if in_chans == 1 else "RGB",
    )
    train_transform = train_preset_by_name(
        preset, input_size, mean, std, in_chans, hflip=hflip, random_erase=options.random_erase,
        resize_size=preprocessing.resize_size,
    )
    return PreprocessingChoice(in_chans, preprocessing, train_transform, eval_preset(preprocessing), decisions)


def _run_steps(train_count: int | None, options: LoadOptions) -> int | None:
    if not (train_count and options.epochs and options.batch_size):
        return None
    return options.epochs * max(1, train_count // options.batch_size)


def for_channels(values: Sequence[float], in_chans: int) -> tuple[float, ...]:
    """Per-channel statistics for `in_chans` channels: one value repeated, or three averaged into one, as
    a first convolution is adapted between grayscale and RGB."""
    if len(values) == in_chans:
        return tuple(values)
    if in_chans == 1:
        return (sum(values) / len(values),)
    return tuple(values) * in_chans  # one value (load_data allows 1 or 3)


def _rounded(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{value:.3f}" for value in values) + ")"


def _input_size_for(median_side: int) -> tuple[int, str]:
    if median_side <= SMALL_IMAGE_SIDE:
        size = max(SMALL_INPUT_MIN, math.ceil(median_side / 8) * 8)
        return size, f"the images' median shorter side ({median_side} px) rounded up to a multiple of 8, at least 32"
    if median_side >= 256:
        return LARGE_INPUT_SIZE, f"Table 1's input; the images (median shorter side {median_side} px) are larger"
    size = max(SMALL_IMAGE_SIDE, min(LARGE_INPUT_SIZE, math.floor(median_side * 224 / 256 / 8) * 8))
    return size, (f"224/256 of the images' median shorter side ({median_side} px), as Table 1's 224 crop of "
                  "256, to a multiple of 8")


def _flips(asked: bool | None, mirror_safe: bool | None, mirror_reason: str, decisions: list[str]) -> bool:
    if asked is not None:
        decisions.append(f"horizontal flips {'on' if asked else 'off'}, as given")
        return asked
    if mirror_safe:
        decisions.append(f"horizontal flips on: {mirror_reason}")
        return True
    reason = mirror_reason or "not known to be mirror-safe (digits, characters and text are not)"
    decisions.append(f"no horizontal flips: {reason}; pass hflip=True (--hflip) to enable")
    return False


def channels_for(
    grayscale_share: float, count: int, asked: int | None, decisions: list[str],
) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(in_chans, mean, std) for an image folder: grayscale where every image is, RGB otherwise."""
    if asked is not None:
        if asked not in (1, 3):
            raise ValueError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {asked}")
        in_chans = asked
        decisions.append(f"{in_chans} input channel(s), as given")
    elif grayscale_share == 1.0:
        in_chans = 1
        decisions.append(f"all {count:,} training images are grayscale: 1 input channel")
    else:
        in_chans = 3
        colour = count - round(grayscale_share * count)
        decisions.append(f"{colour:,} of {count:,} training images are in colour: 3 input channels (RGB)")
    if in_chans == 1:
        return 1, IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD
    return 3, IMAGENET_MEAN, IMAGENET_STD


class TooFewBatches(ValueError):
    """The training split holds fewer than MIN_BATCHES_PER_EPOCH batches; `train_count` is its size, so that
    a caller that only guessed the batch size (the automatic one) can choose one that fits."""

    def __init__(self, message: str, train_count: int) -> None:
        super().__init__(message)
        self.train_count = train_count


def check_enough_for_batches(name: str, train_count: int, batch_size: int | None) -> None:
    """A training split smaller than MIN_BATCHES_PER_EPOCH batches is an error naming a batch size that fits."""
    if batch_size is None:
        return
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if train_count < MIN_BATCHES_PER_EPOCH * batch_size:
        fits = train_count // MIN_BATCHES_PER_EPOCH
        advice = f"use a batch size of {fits} or less, or add images" if fits >= 2 else "add images"
        raise TooFewBatches(
            f"{name}: the training split holds {train_count:,} images, fewer than {MIN_BATCHES_PER_EPOCH} batches "
            f"of {batch_size} (an epoch would be {train_count // batch_size} step(s)); {advice}", train_count)
