"""`load_data`: a built-in data set or an image folder, checked and loaded as `DataSplits`.

    splits = load_data("fashion-mnist")          # or mnist, kmnist, cifar10, cifar100
    splits = load_data("path/to/images")         # DIR/train/<class>/*, DIR/val/<class>/*  or  DIR/<class>/*
    loader = DataLoader(splits.train, batch_size=128, shuffle=True)

Everything that can be wrong with the data (missing or truncated files, unreadable images, empty class
folders, train and val with different classes) is found by `load_data`, before training starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from googlenet.data.builtin import BUILTIN_DATASETS, builtin_name, load_builtin
from googlenet.data.folders import load_image_folder
from googlenet.data.splits import DataSplits
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
    strict: bool = False,
    download: bool = False,
) -> DataSplits:
    """Load a built-in data set (`BUILTIN_DATASETS`) or an image folder.

    data: a built-in name, or the path (str or Path) of an image folder laid out as DIR/train/<class>/* plus
        DIR/val/<class>/* (ImageNet's layout), or DIR/<class>/* (split here into train and val). A folder
        whose name is a built-in name must be given as a path (./mnist).
    data_dir: built-in sets only: the folder holding the data set's files (the four IDX files, gzipped or
        not, or torchvision's layout; for CIFAR the python archive or its extracted folder).
        Default: /usr/share/datasets/fashion-mnist for Fashion-MNIST (Debian's dataset-fashion-mnist),
        else what an earlier download left in the cache.
    input_size: the model's input side. Default 32 for the built-in sets (28x28 images are resized, and
        evaluation does not crop), 224 for image folders (evaluation resizes to 256/224 of it and crops).
    train_preset: "paper", "small" or "auto" ("small" for the built-in sets, "paper" for image folders).
    random_erase: the probability of random erasing in the training preset (`presets.random_erasing`).
    val_fraction, seed: for an image folder without a val folder: the share of each class held out for
        validation, chosen at random with `seed` (the same split on every run and every process).
    strict: image folders: raise on unreadable image files instead of skipping them with a warning.
    download: built-in sets: download the files with torchvision where they are not found.
    """
    if train_preset != "auto" and train_preset not in TRAIN_PRESETS:
        raise ValueError(f"unknown train preset {train_preset!r}; choose one of auto, {', '.join(TRAIN_PRESETS)}")
    if input_size is not None and (not isinstance(input_size, int) or input_size < 1):
        raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
    builtin = builtin_name(data)
    if builtin is not None:
        return load_builtin(builtin, data_dir, input_size, train_preset, random_erase, download)
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
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    return load_image_folder(folder, input_size, train_preset, random_erase, val_fraction, seed, strict)
