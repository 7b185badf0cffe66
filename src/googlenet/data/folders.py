"""Image folders: DIR/train/<class>/* with DIR/val/<class>/* (and optionally DIR/test/<class>/*), or
DIR/<class>/* with the validation split carved here; every file checked before training starts."""

from __future__ import annotations

import copy
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from torchvision import datasets
from torchvision.datasets.vision import StandardTransform

from googlenet.data.defaults import channels_for, check_enough_for_batches, choose_preprocessing, median_side
from googlenet.data.images import GRAYSCALE_MODES, ImageInfo, UnreadableImage, inspect_images, load_image
from googlenet.data.splits import DataSplits, LoadOptions, SkippedImagesWarning, held_out_description, split_per_class


class VerifiedImageFolder(datasets.DatasetFolder):
    """torchvision's DatasetFolder over root/<class>/**/<file>, with every file checked when it is built.

    Hidden files and folders (.DS_Store, .ipynb_checkpoints) are ignored. Every other file must be a
    readable image in any format PIL opens; the others are left out of `samples` and listed in `rejected`
    as (path, problem). `info` holds each kept file's size and mode. Images come converted to `in_chans`
    channels (`load_image`). An image that passes the check but fails to decode later (damaged in the middle
    of its data, or since) comes as `UnreadableImage(path, reason)` in place of the image, never replaced by
    another one; with `strict` it raises a ValueError naming it.
    """

    def __init__(
        self, root: str | os.PathLike, *, in_chans: int = 3, transform: Callable | None = None, strict: bool = False,
    ) -> None:
        self.strict = strict
        self.in_chans = in_chans
        super().__init__(str(root), loader=self._load, transform=transform, is_valid_file=self._is_visible,
                         allow_empty=True)
        found = inspect_images([path for path, _ in self.samples])
        self.every_file = list(self.samples)  # (path, target), readable or not, in folder order
        self.rejected = [(path, found[path].problem) for path, _ in self.samples if found[path].problem]
        self.samples = [(path, target) for path, target in self.samples if found[path].problem is None]
        self.targets = [target for _, target in self.samples]
        self.info: dict[str, ImageInfo] = {path: found[path] for path, _ in self.samples}

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

    def _load(self, path: str) -> object:
        return load_image(path, self.in_chans)

    def subset(self, indices: Sequence[int], transform: Callable | None) -> VerifiedImageFolder:
        """The samples at `indices`, with `transform`; the files are not checked again."""
        part = copy.copy(self)
        part.samples = [self.samples[index] for index in indices]
        part.targets = [target for _, target in part.samples]
        part.transform = transform
        part.transforms = StandardTransform(transform, self.target_transform)
        return part

    def __getitem__(self, index: int) -> tuple[object, int]:
        path, target = self.samples[index]
        try:
            image = self.loader(path)
        except Exception as error:  # any decoder failure, see image_file_problem
            if self.strict:
                raise ValueError(f"{path}: cannot decode the image ({error})") from error
            return UnreadableImage(path, f"cannot decode the image ({error})"), target
        return (self.transform(image) if self.transform is not None else image), target


# --- The layout ----------------------------------------------------------------------------------------


class FolderLayout:
    """The folders an image folder's splits come from, opened and checked (classes alike, none empty)."""

    def __init__(self, folder: Path, options: LoadOptions) -> None:
        has = {name: (folder / name).is_dir() for name in ("train", "val", "test")}
        if (has["val"] or has["test"]) and not has["train"]:
            extra = "val/" if has["val"] else "test/"
            raise ValueError(f"{folder} has a {extra} folder but no train/ folder")
        source = folder / "train" if has["train"] else folder
        for other in ("val", "test"):
            if has[other]:
                _check_same_classes(source, folder / other)
        self.train = VerifiedImageFolder(source, strict=options.strict)
        self.val = VerifiedImageFolder(folder / "val", strict=options.strict) if has["val"] else None
        self.test = VerifiedImageFolder(folder / "test", strict=options.strict) if has["test"] else None
        opened = [part for part in (self.train, self.val, self.test) if part is not None]
        _report_rejected(folder, [item for part in opened for item in part.rejected], options.strict)
        for part in opened:
            _check_no_empty_classes(part)
        self.folder = folder
        self.classes = list(self.train.classes)
        # split name -> its files left out as unreadable; a carved validation split takes its own share
        self.rejected_by_split = {name: part.rejected for name, part in
                                  (("train", self.train), ("validation", self.val), ("test", self.test))
                                  if part is not None}
        if len(self.classes) < 2:
            raise ValueError(
                f"{source} holds one class folder ({self.classes[0]}): a classifier needs at least two classes, "
                f"each in its own folder ({source}/<class>/<images>)"
            )

    def set_channels(self, in_chans: int) -> None:
        for part in (self.train, self.val, self.test):
            if part is not None:
                part.in_chans = in_chans

    def validation_indices(self, options: LoadOptions) -> tuple[list[int], list[int], str]:
        """(train indices, validation indices, where the validation split comes from) in `self.train`, or in
        `self.val` for the validation indices when there is a val/ folder."""
        everything = list(range(len(self.train)))
        if self.val is not None:
            return everything, list(range(len(self.val))), f"the val/ folder: {len(self.val):,} images"
        if options.val_fraction == 0:
            return everything, [], f"none: val_fraction=0, training on all {len(self.train):,} images"
        train, held_out = self._carve(options)
        if not held_out:
            raise ValueError(
                f"{self.folder}: val_fraction={options.val_fraction} holds out no image (every class has fewer "
                "than 2); add images or give train/ and val/ folders"
            )
        where = "training images in " + str(self.train.root)
        return train, held_out, held_out_description(len(held_out), len(self.train), options.val_fraction,
                                                     options.seed, where)

    def _carve(self, options: LoadOptions) -> tuple[list[int], list[int]]:
        """(train, validation) indices of the readable files in `self.train`. The seeded split is drawn over
        every file found, unreadable ones included, so that a damaged file moves no other file to the other
        split, and each unreadable file is filed under the split it fell in (`rejected_by_split`)."""
        every = self.train.every_file
        train_all, held_all = split_per_class([target for _, target in every], options.val_fraction, options.seed)
        readable = {path: index for index, (path, _) in enumerate(self.train.samples)}
        problems = dict(self.train.rejected)
        parts = []
        for name, indices in (("train", train_all), ("validation", held_all)):
            paths = [every[index][0] for index in indices]
            parts.append([readable[path] for path in paths if path in readable])
            self.rejected_by_split[name] = [(path, problems[path]) for path in paths if path in problems]
        trained = {self.train.targets[index] for index in parts[0]}
        if untrained := sorted(set(self.train.targets) - trained):
            names = ", ".join(self.classes[target] for target in untrained)
            raise ValueError(f"{self.folder}: with val_fraction={options.val_fraction} the readable images of "
                             f"{names} all fall in the validation split; add images or give train/ and val/ folders")
        return parts[0], parts[1]

    def image_sides(self) -> list[int]:
        return [min(info.size) for info in self.train.info.values()]

    def grayscale_share(self) -> float:
        modes = Counter(info.mode for info in self.train.info.values())
        return sum(count for mode, count in modes.items() if mode in GRAYSCALE_MODES) / max(1, len(self.train))


def load_image_folder(folder: Path, options: LoadOptions) -> DataSplits:
    layout = FolderLayout(folder, options)
    decisions: list[str] = []
    in_chans, mean, std = channels_for(layout.grayscale_share(), len(layout.train), options.in_chans, decisions)
    sides = layout.image_sides()
    train_indices, validation_indices, validation_source = layout.validation_indices(options)
    choice = choose_preprocessing(sides, in_chans, mean, std, options, train_count=len(train_indices))
    layout.set_channels(in_chans)
    check_enough_for_batches(str(folder), len(train_indices), options.batch_size)
    held_out_from = layout.val if layout.val is not None else layout.train
    validation, validation_images = _evaluated(held_out_from, validation_indices, choice.eval_transform)
    test, test_images = _evaluated(layout.test, None, choice.eval_transform)
    return DataSplits(
        name=str(folder),
        train=layout.train.subset(train_indices, choice.train_transform),
        validation=validation,
        validation_images=validation_images,
        classes=layout.classes,
        in_chans=in_chans,
        preprocessing=choice.preprocessing,
        test=test,
        test_images=test_images,
        validation_source=validation_source,
        decisions=decisions + choice.decisions,
        image_side=median_side(sides),
        unreadable=layout.rejected_by_split,
    )


def _evaluated(
    folder: VerifiedImageFolder | None, indices: Sequence[int] | None, transform: Callable,
) -> tuple[VerifiedImageFolder | None, VerifiedImageFolder | None]:
    """(the samples at `indices` (None: all) with the eval transform, the same untransformed), or (None, None)
    for no folder or no indices."""
    if folder is None or (indices is not None and not indices):
        return None, None
    chosen = range(len(folder)) if indices is None else indices
    return folder.subset(chosen, transform), folder.subset(chosen, None)


def class_folders(directory: str | os.PathLike) -> list[str]:
    """The class folder names in `directory`, sorted (label order); hidden folders are not classes."""
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir() and not entry.name.startswith("."))


def _check_same_classes(train_dir: Path, other_dir: Path) -> None:
    train_classes, other_classes = set(class_folders(train_dir)), set(class_folders(other_dir))
    if train_classes != other_classes:
        only_train, only_other = sorted(train_classes - other_classes), sorted(other_classes - train_classes)
        raise ValueError(
            f"{train_dir} and {other_dir} must hold the same class folders; "
            f"only in {train_dir.name}: {_few(only_train)}; only in {other_dir.name}: {_few(only_other)}"
        )


def _check_no_empty_classes(folder: VerifiedImageFolder) -> None:
    counts = Counter(folder.targets)
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
    warnings.warn(f"skipping {files}", SkippedImagesWarning, stacklevel=5)


def _few(names: Sequence[str], limit: int = 10) -> str:
    if not names:
        return "none"
    listed = ", ".join(names[:limit])
    return listed + (f" and {len(names) - limit} more" if len(names) > limit else "")
