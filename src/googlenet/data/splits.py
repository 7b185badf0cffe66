"""`DataSplits`, what `load_data` returns, and the seeded per-class split that carves a validation split."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from torch.utils.data import Dataset

from googlenet.models.preprocessing import Preprocessing


class SkippedImagesWarning(UserWarning):
    """Files in an image folder were left out because they are not readable images."""


@dataclass
class DataSplits:
    """A data set ready for training and evaluation: `load_data`'s result.

    Every split is a Dataset of (image, label). The transformed ones (`train`, `validation`, `test`) give
    normalised float tensors [C, S, S]; the `*_images` views give the same samples untransformed, as PIL
    images in the model's channel mode, for test-time augmentation. An image file that cannot be decoded
    gives `googlenet.data.UnreadableImage` in place of its image (load the splits with
    `collate_fn=googlenet.data.collate_skipping_unreadable`).
    """

    name: str  # the built-in name, or the image folder's path
    train: Dataset  # the train preset applied
    validation: Dataset | None  # the eval preset applied; the split that chooses weights. None: no validation split
    validation_images: Dataset | None  # the validation samples untransformed
    classes: list[str]  # class names in label order
    in_chans: int  # 1 for grayscale data sets, 3 otherwise
    preprocessing: Preprocessing  # the eval preprocessing, to store with the model
    test: Dataset | None = None  # the eval preset applied; built-in sets: the official test split; folders: test/
    test_images: Dataset | None = None  # the test samples untransformed
    validation_source: str = ""  # where the validation split comes from, in words
    decisions: list[str] = field(default_factory=list)  # defaults chosen from the data, each with its reason
    image_side: int | None = None  # the median shorter side of the training images, in pixels
    mirror_safe: bool | None = None  # whether a mirrored image still shows its class (None: not known)
    # image folders: files left out up front as unreadable, (path, problem), by the folder they were in
    # ("train", "validation": val/, "test": test/)
    unreadable: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split(self, name: str) -> tuple[Dataset, Dataset]:
        """(transformed, untransformed images) of the split called `name`: "validation" or "test"."""
        if name not in ("validation", "test"):
            raise ValueError(f"unknown split {name!r}; choose validation or test")
        transformed, images = (
            (self.validation, self.validation_images) if name == "validation" else (self.test, self.test_images)
        )
        if transformed is None or images is None:
            raise ValueError(f"{self.name} has no {name} split" + (
                f" ({self.validation_source})" if name == "validation" and self.validation_source else ""))
        return transformed, images


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


def held_out_description(held_out: int, total: int, val_fraction: float, seed: int, of_what: str) -> str:
    """E.g. "6,000 images held out of the 60,000 training images (10% of each class, seed 0)"."""
    return (f"{held_out:,} images held out of the {total:,} {of_what} "
            f"({val_fraction:.0%} of each class, seed {seed})")


def check_val_fraction(val_fraction: float) -> None:
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be at least 0 and below 1, got {val_fraction}")


@dataclass(frozen=True)
class LoadOptions:
    """`load_data`'s keyword arguments, checked, as the built-in and folder loaders read them."""

    input_size: int | None = None
    train_preset: str = "auto"
    random_erase: float = 0.0
    val_fraction: float = 0.1
    seed: int = 0
    hflip: bool | None = None
    in_chans: int | None = None
    batch_size: int | None = None
    epochs: int | None = None  # the run's length: with batch_size, how many steps it will take
    strict: bool = False
    download: bool = False
    # in_chans -> (mean, std, why) to normalise with instead of the data set's, e.g. the initial weights' (--init)
    normalization: Callable[[int], tuple[Sequence[float], Sequence[float], str]] | None = None
