"""The built-in data sets (BUILTIN_DATASETS): the MNIST family from IDX files, CIFAR-10/100 from their
python archives, read with torchvision's dataset classes and held in memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset
from torchvision import datasets

from googlenet.data.cache import DataFilesNotFound
from googlenet.data.cifar import cifar_root
from googlenet.data.idx import IDX_FILES, idx_root
from googlenet.data.in_memory import InMemoryImageDataset
from googlenet.data.defaults import check_enough_for_batches, choose_preprocessing
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from googlenet.data.splits import DataSplits, LoadOptions, held_out_description, split_per_class

BUILTIN_DATASETS = ("fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100")

# Per-channel mean and std of the training images scaled to [0, 1]. Fashion-MNIST measured here on the
# 60,000 training images (0.28604, 0.35302); the others are the published values, which agree with the
# same measurement where the data was at hand.
DATASET_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "mnist": ((0.1307,), (0.3081,)),
    "kmnist": ((0.1918,), (0.3483,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),  # image folders
}


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    dataset_class: type  # the torchvision dataset class that reads the files
    mirror_safe: bool  # whether a horizontally flipped image still shows its class
    mirror_reason: str  # why (or why not), for DataSplits.decisions
    system_dir: str | None = None  # where an OS package installs the files


_OBJECTS_MIRRORED = "a mirrored photograph of an object or animal shows the same class"
_BUILTINS = {
    spec.name: spec
    for spec in (
        BuiltinDataset("fashion-mnist", datasets.FashionMNIST, True,
                       "a mirrored garment, shoe or bag is the same class", "/usr/share/datasets/fashion-mnist"),
        BuiltinDataset("mnist", datasets.MNIST, False, "a mirrored digit is another symbol or none"),
        BuiltinDataset("kmnist", datasets.KMNIST, False, "a mirrored character is another symbol or none"),
        BuiltinDataset("cifar10", datasets.CIFAR10, True, _OBJECTS_MIRRORED),
        BuiltinDataset("cifar100", datasets.CIFAR100, True, _OBJECTS_MIRRORED),
    )
}
_ALIASES = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}
IDX_DATASETS = ("fashion-mnist", "mnist", "kmnist")


def builtin_name(data: str | os.PathLike) -> str | None:
    if not isinstance(data, str) or os.sep in data or (os.altsep and os.altsep in data):
        return None  # a path, even when it names a folder called like a built-in set
    name = data.strip().lower().replace("_", "-")
    name = _ALIASES.get(name, name)
    return name if name in _BUILTINS else None


def load_builtin(name: str, data_dir: str | os.PathLike | None, options: LoadOptions) -> DataSplits:
    spec = _BUILTINS[name]
    root = _files_root(spec, data_dir, options.download)
    train_set, test_set = (_open_builtin(spec, root, train) for train in (True, False))
    train_images, train_targets = _images_and_targets(train_set)
    test_images, test_targets = _images_and_targets(test_set)
    classes = list(train_set.classes)
    for split, targets in (("train", train_targets), ("test", test_targets)):
        if len(targets) and not 0 <= int(targets.min()) <= int(targets.max()) < len(classes):
            raise ValueError(
                f"{name} {split} labels in {root} run from {int(targets.min())} "
                f"to {int(targets.max())}; {name} has {len(classes)} classes (0..{len(classes) - 1})"
            )
    mean, std = DATASET_STATS[name]
    in_chans = len(mean)
    if options.in_chans not in (None, in_chans):
        raise ValueError(f"{name} has {in_chans}-channel images; in_chans={options.in_chans} is for image folders")
    side = min(train_images.shape[-2:])
    train_indices, validation_indices = list(range(len(train_targets))), []
    source = f"none: val_fraction=0, training on all {len(train_targets):,} training images"
    if options.val_fraction > 0:
        train_indices, validation_indices = split_per_class(train_targets.tolist(), options.val_fraction, options.seed)
        source = held_out_description(len(validation_indices), len(train_targets), options.val_fraction,
                                      options.seed, "training images")
    choice = choose_preprocessing([side], in_chans, mean, std, options, mirror_safe=spec.mirror_safe,
                                  mirror_reason=spec.mirror_reason, train_count=len(train_indices))
    check_enough_for_batches(name, len(train_indices), options.batch_size)
    validation = validation_images = None
    if validation_indices:
        chosen = torch.tensor(validation_indices)
        validation = InMemoryImageDataset(train_images[chosen], train_targets[chosen], choice.eval_transform)
        validation_images = Subset(train_set, validation_indices)  # (PIL image, label): no transform set
    if len(train_indices) < len(train_targets):
        chosen = torch.tensor(train_indices)
        train_images, train_targets = train_images[chosen], train_targets[chosen]
    return DataSplits(
        name=name,
        train=InMemoryImageDataset(train_images, train_targets, choice.train_transform),
        validation=validation,
        validation_images=validation_images,
        classes=classes,
        in_chans=in_chans,
        preprocessing=choice.preprocessing,
        test=InMemoryImageDataset(test_images, test_targets, choice.eval_transform),
        test_images=test_set,  # torchvision's dataset without a transform: (PIL "L"/"RGB" image, int label)
        validation_source=source,
        decisions=choice.decisions,
        image_side=side,
        mirror_safe=spec.mirror_safe,
    )


def _files_root(spec: BuiltinDataset, data_dir: str | os.PathLike | None, download: bool) -> Path:
    folder = Path(data_dir).expanduser() if data_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise FileNotFoundError(f"data_dir {folder} is not a folder")
    try:
        if spec.name in IDX_DATASETS:
            return idx_root(spec, folder, download)
        return cifar_root(spec, folder, download)
    except DataFilesNotFound as error:
        raise FileNotFoundError(_how_to_get(spec, error.looked_in)) from None


def _open_builtin(spec: BuiltinDataset, root: Path, train: bool) -> Dataset:
    try:
        return spec.dataset_class(str(root), train=train)
    except RuntimeError as error:  # torchvision's "Dataset not found or corrupted" (CIFAR: an md5 mismatch)
        raise ValueError(f"{spec.name} in {root}: {error}; the files are incomplete or damaged") from error


def _images_and_targets(dataset: Dataset) -> tuple[Tensor, Tensor]:
    data = dataset.data  # MNIST family: uint8 tensor [N, H, W]; CIFAR: uint8 array [N, H, W, C]
    images = data.unsqueeze(1) if isinstance(data, Tensor) else torch.from_numpy(data).permute(0, 3, 1, 2)
    return images, torch.as_tensor(dataset.targets, dtype=torch.long)


def _how_to_get(spec: BuiltinDataset, looked_in: Sequence[Path]) -> str:
    if spec.name in IDX_DATASETS:
        files = ", ".join(f"{name}.gz" for name in IDX_FILES)
        contents = f"the four IDX files ({files}; gzipped or not)"
    else:
        contents = f"{spec.dataset_class.filename} or its extracted {spec.dataset_class.base_folder}/ folder"
    ways = []
    if spec.name == "fashion-mnist":
        ways.append(f"apt-get install dataset-fashion-mnist (Debian/Ubuntu; installs them in {spec.system_dir})")
    # The command line's spelling: the library's callers read data_dir= and download= in load_data's help.
    ways.append(f"--data-dir DIR, DIR holding {contents}")
    ways.append("--download where the network allows")
    places = ", ".join(str(path) for path in looked_in)
    return f"{spec.name} not found (looked in {places}). Get it with one of: " + "; ".join(ways)
