"""`DataSplits`, what `load_data` returns, and the seeded per-class split that carves a validation split."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from torch.utils.data import Dataset

from googlenet.data.preprocessing import Preprocessing


class SkippedImagesWarning(UserWarning):
    """Files in an image folder were left out because they are not readable images."""


@dataclass
class DataSplits:
    """A data set ready for training and evaluation."""

    name: str  # the built-in name, or the image folder's path
    train: Dataset  # (float tensor [C, S, S], normalised, label); the train preset applied
    val: Dataset  # (float tensor [C, S, S], label); the eval preset applied. Built-in sets: the official test split
    val_images: Dataset  # the val samples untransformed: (PIL image in the model's channel mode, label), for TTA
    classes: list[str]  # class names in label order
    in_chans: int  # 1 for grayscale data sets, 3 otherwise
    preprocessing: Preprocessing  # the eval preprocessing, to store with the model

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def split_per_class(targets: Sequence[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, val indices): `val_fraction` of each class at random (at least one image of any
    class with two or more, never all of one), the same for the same `seed` everywhere."""
    by_class: dict[int, list[int]] = defaultdict(list)
    for index, target in enumerate(targets):
        by_class[target].append(index)
    generator = random.Random(seed)
    train, val = [], []
    for target in sorted(by_class):
        indices = by_class[target]
        generator.shuffle(indices)
        count = 0 if len(indices) < 2 else min(len(indices) - 1, max(1, round(len(indices) * val_fraction)))
        val += indices[:count]
        train += indices[count:]
    return sorted(train), sorted(val)
