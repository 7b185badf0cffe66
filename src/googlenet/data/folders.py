"""Image folders: DIR/train/<class>/* with DIR/val/<class>/*, or DIR/<class>/* split here; every file checked
before training starts."""

from __future__ import annotations

import copy
import functools
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from torchvision import datasets
from torchvision.datasets.vision import StandardTransform

from googlenet.data.images import find_unreadable_images, load_image
from googlenet.data.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.data.splits import DataSplits, SkippedImagesWarning, split_per_class
from googlenet.data.transforms import eval_preset, train_preset_by_name

IMAGE_FOLDER_INPUT_SIZE = 224  # Table 1's input


class VerifiedImageFolder(datasets.DatasetFolder):
    """torchvision's DatasetFolder over root/<class>/**/<file>, with every file checked when it is built.

    Hidden files and folders (.DS_Store, .ipynb_checkpoints) are ignored. Every other file must be a
    readable image in any format PIL opens; the others are left out of `samples` and listed in `rejected`
    as (path, problem). Images come converted to the model's channels (`to_model_channels`). An image that
    passes the check but fails to decode later (damaged in the middle of its data) is replaced by the
    next one with a warning naming it, or with `strict`, raises a ValueError naming it: never a crash in
    the middle of an epoch.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        in_chans: int = 3,
        transform: Callable | None = None,
        strict: bool = False,
    ) -> None:
        self.strict = strict
        super().__init__(
            str(root), loader=functools.partial(load_image, in_chans=in_chans), transform=transform,
            is_valid_file=self._is_visible, allow_empty=True,
        )
        problems = find_unreadable_images([path for path, _ in self.samples])
        self.rejected = [(path, problems[path]) for path, _ in self.samples if path in problems]
        self.samples = [(path, target) for path, target in self.samples if path not in problems]
        self.targets = [target for _, target in self.samples]

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        classes = class_folders(directory)
        if not classes:
            raise ValueError(
                f"no class folders in {directory}: expected {directory}/<class>/<images>, or "
                f"{directory}/train/<class>/<images> and {directory}/val/<class>/<images>"
            )
        return classes, {name: index for index, name in enumerate(classes)}

    def _is_visible(self, path: str) -> bool:
        return not any(part.startswith(".") for part in Path(os.path.relpath(path, self.root)).parts)

    def subset(self, indices: Sequence[int], transform: Callable | None) -> VerifiedImageFolder:
        """The samples at `indices`, with `transform`; the files are not checked again."""
        part = copy.copy(self)
        part.samples = [self.samples[index] for index in indices]
        part.targets = [target for _, target in part.samples]
        part.transform = transform
        part.transforms = StandardTransform(transform, self.target_transform)
        return part

    def __getitem__(self, index: int) -> tuple[object, int]:
        if not -len(self.samples) <= index < len(self.samples):
            raise IndexError(f"index {index} is out of range for {len(self.samples)} images")
        for offset in range(len(self.samples)):
            path, target = self.samples[(index + offset) % len(self.samples)]
            try:
                image = self.loader(path)
            except Exception as error:  # any decoder failure, see image_file_problem
                if self.strict:
                    raise ValueError(f"{path}: cannot decode the image ({error})") from error
                warnings.warn(
                    f"{path}: cannot decode the image ({error}); using the next one instead", SkippedImagesWarning
                )
                continue
            if self.transform is not None:
                image = self.transform(image)
            return image, target
        raise ValueError(f"none of the {len(self.samples)} images in {self.root} can be decoded")


def load_image_folder(
    folder: Path, input_size: int | None, preset: str, random_erase: float, val_fraction: float, seed: int,
    strict: bool,
) -> DataSplits:
    has_train, has_val = (folder / "train").is_dir(), (folder / "val").is_dir()
    if has_val and not has_train:
        raise ValueError(f"{folder} has a val/ folder but no train/ folder")
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    in_chans = 3
    input_size = input_size or IMAGE_FOLDER_INPUT_SIZE
    preprocessing = Preprocessing(
        input_size=input_size, resize_size=round(input_size * 256 / 224), mean=mean, std=std, channel_order="RGB"
    )
    train_transform = train_preset_by_name(
        "paper" if preset == "auto" else preset, input_size, mean, std, in_chans, random_erase=random_erase
    )
    eval_transform = eval_preset(preprocessing)

    if has_train and has_val:
        _check_same_classes(folder / "train", folder / "val")
        train_folder = VerifiedImageFolder(folder / "train", in_chans=in_chans, strict=strict)
        val_folder = VerifiedImageFolder(folder / "val", in_chans=in_chans, strict=strict)
        _report_rejected(folder, train_folder.rejected + val_folder.rejected, strict)
        for part in (train_folder, val_folder):
            _check_no_empty_classes(part)
        all_train, all_val = range(len(train_folder)), range(len(val_folder))
    else:
        # DIR/train alone is split like a single folder.
        source = folder / "train" if has_train else folder
        train_folder = val_folder = VerifiedImageFolder(source, in_chans=in_chans, strict=strict)
        _report_rejected(folder, train_folder.rejected, strict)
        _check_no_empty_classes(train_folder)
        all_train, all_val = split_per_class(train_folder.targets, val_fraction, seed)
        if not all_val:
            raise ValueError(
                f"{folder}: val_fraction={val_fraction} holds out no image (every class has fewer than 2); "
                "add images or give train/ and val/ folders"
            )
    return DataSplits(
        name=str(folder),
        train=train_folder.subset(all_train, train_transform),
        val=val_folder.subset(all_val, eval_transform),
        val_images=val_folder.subset(all_val, None),
        classes=list(train_folder.classes),
        in_chans=in_chans,
        preprocessing=preprocessing,
    )


def class_folders(directory: str | os.PathLike) -> list[str]:
    """The class folder names in `directory`, sorted (label order); hidden folders are not classes."""
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir() and not entry.name.startswith("."))


def _check_same_classes(train_dir: Path, val_dir: Path) -> None:
    train_classes, val_classes = set(class_folders(train_dir)), set(class_folders(val_dir))
    if train_classes != val_classes:
        only_train, only_val = sorted(train_classes - val_classes), sorted(val_classes - train_classes)
        raise ValueError(
            f"{train_dir} and {val_dir} must hold the same class folders; "
            f"only in train: {_few(only_train)}; only in val: {_few(only_val)}"
        )


def _check_no_empty_classes(folder: VerifiedImageFolder) -> None:
    counts = defaultdict(int)
    for target in folder.targets:
        counts[target] += 1
    empty = [name for name, index in folder.class_to_idx.items() if counts[index] == 0]
    if len(empty) == len(folder.classes):
        raise ValueError(f"no readable images in {folder.root} (class folders: {_few(folder.classes)})")
    if empty:
        paths = [os.path.join(folder.root, name) for name in empty]
        raise ValueError(
            f"{len(empty)} class folder(s) hold no readable image: {_few(paths)}; "
            "add images or remove the folders"
        )


def _report_rejected(folder: Path, rejected: list[tuple[str, str]], strict: bool) -> None:
    """One warning (with strict, one ValueError) for all unreadable files, naming the first few."""
    if not rejected:
        return
    shown = "; ".join(f"{path} ({problem})" for path, problem in rejected[:5])
    more = f"; and {len(rejected) - 5} more" if len(rejected) > 5 else ""
    files = f"{len(rejected)} file(s) in {folder} that are not readable images: {shown}{more}"
    if strict:
        raise ValueError(f"found {files}. Remove or replace them, or load without strict to skip them")
    warnings.warn(f"skipping {files}", SkippedImagesWarning, stacklevel=4)


def _few(names: Sequence[str], limit: int = 10) -> str:
    if not names:
        return "none"
    listed = ", ".join(names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")
