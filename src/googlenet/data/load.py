"""`load_data`: a built-in data set or an image folder, checked and loaded as `DataSplits`.

    splits = load_data("fashion-mnist")          # or mnist, kmnist, cifar10, cifar100
    splits = load_data("path/to/images")         # DIR/train/<class>/*, DIR/val/<class>/*  or  DIR/<class>/*
    loader = DataLoader(splits.train, batch_size=128, shuffle=True, collate_fn=collate_skipping_unreadable)
    for images, targets, skipped in loader: ...  # skipped: (path, reason) of images that failed to decode

Everything that can be wrong with the data (missing or truncated files, unreadable images, empty class
folders, train and val with different classes) is found by `load_data`, before training starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from googlenet.data.builtin import BUILTIN_DATASETS, builtin_name, load_builtin
from googlenet.data.defaults import for_channels
from googlenet.data.folders import load_image_folder
from googlenet.data.splits import DataSplits, LoadOptions, check_val_fraction
from googlenet.data.transforms import TRAIN_PRESETS


def load_data(
    data: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    input_size: int | None = None,
    train_preset: str = "auto",
    random_erase: float = 0.0,
    val_fraction: float = 0.1,
    seed: int = 0,
    hflip: bool | None = None,
    in_chans: int | None = None,
    batch_size: int | None = None,
    epochs: int | None = None,
    strict: bool = False,
    download: bool = False,
    normalization: tuple[Sequence[float], Sequence[float], str] | Callable[[int], Any] | None = None,
) -> DataSplits:
    """Load a built-in data set (`BUILTIN_DATASETS`) or an image folder, with defaults chosen from the data
    (listed with their reasons in the result's `decisions`).

    data: a built-in name, or the path (str or Path) of an image folder laid out as DIR/train/<class>/* with
        DIR/val/<class>/* (ImageNet's layout) and optionally DIR/test/<class>/*, or DIR/<class>/*. A folder
        whose name is a built-in name must be given as a path (./mnist).
    data_dir: built-in sets only: the folder holding the data set's files (the four IDX files, gzipped or
        not, or torchvision's layout; for CIFAR the python archive or its extracted folder).
        Default: /usr/share/datasets/fashion-mnist for Fashion-MNIST (Debian's dataset-fashion-mnist),
        else what an earlier download left in the cache.
    input_size: the model's input side. Default: from the images (32 for the 28x28 and 32x32 built-in sets;
        224 for images of 256 px and more). Small images are evaluated whole (resized to input_size), larger
        ones resized to 256/224 of it and centre-cropped.
    train_preset: one of `transforms.TRAIN_PRESETS` (what each does: `transforms.TRAIN_PRESET_SUMMARIES`) or
        "auto" (from the images' size: "small" up to 64 px, else "bounded"; "none" for short runs).
    random_erase: the probability of random erasing in the training preset (`transforms.random_erasing`).
    val_fraction, seed: the share of each class of the training images held out as the validation split,
        chosen at random with `seed` (the same split on every run and every process), for built-in sets and
        folders without val/. 0: no validation split (train on everything).
    hflip: random horizontal flips in training. None: only for data sets known to be mirror-safe
        (Fashion-MNIST, CIFAR), never for image folders.
    in_chans: image folders: 1 (grayscale) or 3 (RGB). None: 1 where every training image is grayscale.
    batch_size: the (global) training batch; a training split smaller than a few batches is an error.
    epochs: the run's length. With batch_size and train_preset="auto", a run of fewer than
        `SHORT_RUN_STEPS` steps trains without augmentation (preset "none"): too short to pay it back.
    strict: image folders: raise on unreadable image files instead of skipping them with a warning.
    download: built-in sets: download the files with torchvision where they are not found.
    normalization: (mean, std, why): normalise with these instead of the data set's statistics (ImageNet's
        for folders), e.g. what pretrained weights were trained with; one value per channel, or one for all
        (adapted to the images' channels as the weights' first convolution is). `why` is the decision's text.
        Or a function of the images' channel count giving (mean, std, why) for exactly that many channels.
    """
    if train_preset != "auto" and train_preset not in TRAIN_PRESETS:
        raise ValueError(f"unknown train preset {train_preset!r}; choose one of auto, {', '.join(TRAIN_PRESETS)}")
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
    check_val_fraction(val_fraction)
    if normalization is not None and not callable(normalization):
        mean, std, why = normalization
        if len(mean) != len(std) or len(mean) not in (1, 3) or min(std) <= 0:
            raise ValueError(f"normalization needs 1 or 3 means and as many positive stds, got mean {tuple(mean)}, "
                             f"std {tuple(std)}")
        normalization = _following_channels(tuple(map(float, mean)), tuple(map(float, std)), why)
    options = LoadOptions(input_size=input_size, train_preset=train_preset, random_erase=random_erase,
                          val_fraction=val_fraction, seed=seed, hflip=hflip, in_chans=in_chans, batch_size=batch_size,
                          epochs=epochs, strict=strict, download=download, normalization=normalization)
    builtin = builtin_name(data)
    if builtin is not None:
        return load_builtin(builtin, data_dir, options)
    folder = Path(data).expanduser()
    if not folder.exists():
        raise ValueError(
            f"unknown data set {data!r}: not a built-in data set ({', '.join(BUILTIN_DATASETS)}) "
            "and no such folder"
        )
    if not folder.is_dir():
        raise ValueError(f"{data} is a file; give a built-in data set name or an image folder")
    if data_dir is not None:
        raise ValueError(f"data_dir is for the built-in data sets; an image folder is given as data itself ({data})")
    return load_image_folder(folder, options)


def _following_channels(mean: tuple[float, ...], std: tuple[float, ...], why: str) -> Callable[[int], Any]:
    """(mean, std, why) for any channel count: repeated, or averaged into one (`for_channels`)."""
    return lambda in_chans: (for_channels(mean, in_chans), for_channels(std, in_chans), why)
