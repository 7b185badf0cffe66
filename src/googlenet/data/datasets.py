"""Data for training and evaluation: built-in data sets and image folders, loaded as `DataSplits`.

    splits = load_data("fashion-mnist")          # or mnist, kmnist, cifar10, cifar100
    splits = load_data("path/to/images")         # DIR/train/<class>/*, DIR/val/<class>/*  or  DIR/<class>/*
    loader = DataLoader(splits.train, batch_size=128, shuffle=True)

Everything that can be wrong with the data (missing or truncated files, unreadable images, empty class
folders, train and val with different classes) is found by `load_data`, before training starts.

Files are read with torchvision's dataset classes. The MNIST family's classes want
`root/<Name>/raw/<uncompressed IDX files>`; files found elsewhere, or gzipped, are laid out that way in the
cache folder (`$GOOGLENET_CACHE`, else `$XDG_CACHE_HOME/googlenet` or `~/.cache/googlenet`), as are
extracted CIFAR archives and downloads.
"""

from __future__ import annotations

import copy
import functools
import gzip
import hashlib
import os
import random
import shutil
import struct
import tarfile
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.datasets.utils import extract_archive
from torchvision.datasets.vision import StandardTransform
from torchvision.transforms import v2

from googlenet.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TRAIN_PRESETS,
    Preprocessing,
    eval_preset,
    to_model_channels,
    train_preset_by_name,
)

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

SMALL_IMAGE_INPUT_SIZE = 32  # built-in sets: 28x28 images are resized to 32, 32x32 ones stay
IMAGE_FOLDER_INPUT_SIZE = 224  # Table 1's input
CACHE_ENV = "GOOGLENET_CACHE"


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
    builtin = _builtin_name(data)
    if builtin is not None:
        return _load_builtin(builtin, data_dir, input_size, train_preset, random_erase, download)
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
    return _load_image_folder(folder, input_size, train_preset, random_erase, val_fraction, seed, strict)


def cache_dir() -> Path:
    """Where staged, extracted and downloaded data set files go: $GOOGLENET_CACHE, else the user cache."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "googlenet"


# --- Data sets held in memory ---------------------------------------------------------------------

# A deterministic resize/centre-crop at the start of a transform is applied once to the whole data set
# when the result takes at most this much memory (Fashion-MNIST at 32x32: 61 MB; at 224x224: 3 GB).
PRECOMPUTE_LIMIT_BYTES = 1 << 30
_DETERMINISTIC_GEOMETRY = (v2.Resize, v2.CenterCrop)
_ELEMENTWISE = (v2.ToImage, v2.ToPureTensor, v2.ToDtype, v2.Normalize)


class InMemoryImageDataset(Dataset):
    """Images held in one uint8 tensor [N, C, H, W] with their labels; yields (transform(image), label).

    The samples are those of applying `transform` (a v2.Compose) to each image, but the work that is the
    same for every epoch or every sample is not repeated per sample (for the small preset on Fashion-MNIST,
    about 70 instead of 220 us per image on one CPU core): the transform's leading resize/centre-crop runs once
    on the whole set (within PRECOMPUTE_LIMIT_BYTES), and its trailing ToImage/ToDtype/Normalize once per
    batch, in `__getitems__`, which DataLoader calls with a batch's indices. Neither step draws random
    numbers, so seeded runs give the same samples as the plain per-sample transform.
    """

    def __init__(self, images: Tensor, targets: Tensor | Sequence[int], transform: v2.Compose | None = None) -> None:
        if images.dim() != 4 or images.dtype != torch.uint8:
            raise ValueError(f"images must be a uint8 tensor [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        targets = torch.as_tensor(targets, dtype=torch.long)
        if len(targets) != len(images):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        steps = list(transform.transforms) if isinstance(transform, v2.Compose) else [transform] if transform else []
        head = _leading(steps, _DETERMINISTIC_GEOMETRY)
        tail_start = len(steps) - len(_leading(steps[::-1], _ELEMENTWISE))
        if head and len(images) and _precomputed_bytes(images, v2.Compose(head)) <= PRECOMPUTE_LIMIT_BYTES:
            images = _apply_in_chunks(v2.Compose(head), images)
            steps = steps[len(head):]
            tail_start -= len(head)
        self.images = images.contiguous()
        self.targets = targets
        self.transform = transform
        self.per_sample = v2.Compose(steps[:tail_start]) if steps[:tail_start] else None
        self.per_batch = v2.Compose(steps[tail_start:]) if steps[tail_start:] else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = self.images[index]
        if self.per_sample is not None:
            image = self.per_sample(image)
        if self.per_batch is not None:
            image = self.per_batch(image)
        return _plain(image), int(self.targets[index])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, int]]:
        images = [self.images[index] for index in indices]
        if self.per_sample is not None:
            images = [self.per_sample(image) for image in images]
        if self.per_batch is not None:
            if len({image.shape for image in images}) == 1:
                images = self.per_batch(torch.stack(images)).unbind(0)
            else:  # a per-sample step that outputs varying sizes
                images = [self.per_batch(image) for image in images]
        return list(zip(map(_plain, images), self.targets[list(indices)].tolist()))


def _leading(steps: list, kinds: tuple[type, ...]) -> list:
    count = 0
    while count < len(steps) and isinstance(steps[count], kinds):
        count += 1
    return steps[:count]


def _precomputed_bytes(images: Tensor, head: v2.Compose) -> int:
    return len(images) * _plain(head(images[:1])).numel() * images.element_size()


def _apply_in_chunks(transform: v2.Compose, images: Tensor, chunk: int = 4096) -> Tensor:
    # Chunks bound the resize's temporary float buffers; a batch resizes exactly like its images one by one.
    return torch.cat([_plain(transform(images[start:start + chunk])) for start in range(0, len(images), chunk)])


def _plain(image: Tensor) -> Tensor:
    return image.as_subclass(Tensor)  # a tv_tensors.Image would carry its wrapper into the model


# --- Built-in data sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    dataset_class: type  # the torchvision dataset class that reads the files
    mirror_safe: bool  # whether a horizontally flipped image still shows its class (not for digits, characters)
    system_dir: str | None = None  # where an OS package installs the files


_BUILTINS = {
    spec.name: spec
    for spec in (
        BuiltinDataset("fashion-mnist", datasets.FashionMNIST, True, "/usr/share/datasets/fashion-mnist"),
        BuiltinDataset("mnist", datasets.MNIST, False),
        BuiltinDataset("kmnist", datasets.KMNIST, False),
        BuiltinDataset("cifar10", datasets.CIFAR10, True),
        BuiltinDataset("cifar100", datasets.CIFAR100, True),
    )
}
_ALIASES = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}
_IDX_DATASETS = ("fashion-mnist", "mnist", "kmnist")


def _builtin_name(data: str | os.PathLike) -> str | None:
    if not isinstance(data, str) or os.sep in data or (os.altsep and os.altsep in data):
        return None  # a path, even when it names a folder called like a built-in set
    name = data.strip().lower().replace("_", "-")
    name = _ALIASES.get(name, name)
    return name if name in _BUILTINS else None


def _load_builtin(
    name: str,
    data_dir: str | os.PathLike | None,
    input_size: int | None,
    preset: str,
    random_erase: float,
    download: bool,
) -> DataSplits:
    spec = _BUILTINS[name]
    data_dir = Path(data_dir).expanduser() if data_dir is not None else None
    if data_dir is not None and not data_dir.is_dir():
        raise FileNotFoundError(f"data_dir {data_dir} is not a folder")
    if name in _IDX_DATASETS:
        root = _idx_root(spec, data_dir, download)
    else:
        root = _cifar_root(spec, data_dir, download)
    train_set, test_set = (_open_builtin(spec, root, train) for train in (True, False))

    mean, std = DATASET_STATS[name]
    in_chans = len(mean)
    input_size = input_size or SMALL_IMAGE_INPUT_SIZE
    preprocessing = Preprocessing(
        input_size=input_size, resize_size=input_size, mean=mean, std=std,
        channel_order="L" if in_chans == 1 else "RGB",
    )
    preset = "small" if preset == "auto" else preset
    train_transform = train_preset_by_name(
        preset, input_size, mean, std, in_chans, hflip=spec.mirror_safe, random_erase=random_erase
    )
    train_images, train_targets = _images_and_targets(train_set)
    test_images, test_targets = _images_and_targets(test_set)
    classes = list(train_set.classes)
    for dataset, targets in ((train_set, train_targets), (test_set, test_targets)):
        if len(targets) and not 0 <= int(targets.min()) <= int(targets.max()) < len(classes):
            raise ValueError(
                f"{name} {'train' if dataset.train else 'test'} labels in {root} run from {int(targets.min())} "
                f"to {int(targets.max())}; {name} has {len(classes)} classes (0..{len(classes) - 1})"
            )
    return DataSplits(
        name=name,
        train=InMemoryImageDataset(train_images, train_targets, train_transform),
        val=InMemoryImageDataset(test_images, test_targets, eval_preset(preprocessing)),
        val_images=test_set,  # torchvision's dataset without a transform: (PIL "L"/"RGB" image, int label)
        classes=classes,
        in_chans=in_chans,
        preprocessing=preprocessing,
    )


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
    if spec.name in _IDX_DATASETS:
        files = ", ".join(f"{name}.gz" for name in _IDX_FILES)
        contents = f"the four IDX files ({files}; gzipped or not)"
    else:
        contents = f"{spec.dataset_class.filename} or its extracted {spec.dataset_class.base_folder}/ folder"
    ways = []
    if spec.name == "fashion-mnist":
        ways.append(f"apt-get install dataset-fashion-mnist   (Debian/Ubuntu; installs them in {spec.system_dir})")
    ways.append(f"--data-dir DIR   (load_data(..., data_dir=DIR)), DIR holding {contents}")
    ways.append("--download   (download=True) where the network allows")
    places = ", ".join(str(path) for path in looked_in)
    return f"{spec.name} not found (looked in {places}). Get it with one of:\n  " + "\n  ".join(ways)


# MNIST family: IDX files (http://yann.lecun.com/exdb/mnist/ "FILE FORMATS"): a big-endian header of a magic
# number (0x0000, the element type 0x08 = unsigned byte, the number of dimensions) and one uint32 per
# dimension, then the elements.
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_root(spec: BuiltinDataset, data_dir: Path | None, download: bool) -> Path:
    """The root under which spec.dataset_class finds `<Name>/raw/<uncompressed IDX files>`."""
    folder = spec.dataset_class.__name__
    download_root = data_dir if data_dir is not None else cache_dir() / "downloads"
    if data_dir is not None:
        places = [data_dir, data_dir / folder / "raw"]
    else:
        places = [Path(spec.system_dir)] if spec.system_dir else []
        places.append(download_root / folder / "raw")
    for place in places:
        found = _find_idx_files(place)
        if found is None:
            continue
        if place == download_root / folder / "raw" and all(path.suffix != ".gz" for path in found.values()):
            root = download_root  # already torchvision's layout
        else:
            root = _stage_idx_files(found, folder)
        _check_idx_files(root / folder / "raw", found)
        return root
    if download:
        spec.dataset_class(str(download_root), train=True, download=True)
        raw = download_root / folder / "raw"
        _check_idx_files(raw, {name: raw / name for name in _IDX_FILES})
        return download_root
    raise FileNotFoundError(_how_to_get(spec, places))


def _find_idx_files(place: Path) -> dict[str, Path] | None:
    """The four IDX files in `place` (plain preferred to gzipped), None if none is there; an error naming
    the missing ones if only some are."""
    found = {}
    for name in _IDX_FILES:
        for candidate in (place / name, place / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    if not found:
        return None
    missing = [name for name in _IDX_FILES if name not in found]
    if missing:
        raise FileNotFoundError(f"{place} holds only some of the IDX files; missing: {', '.join(missing)} (or .gz)")
    return found


def _stage_idx_files(found: dict[str, Path], folder: str) -> Path:
    """Lays `found` out as torchvision wants them, <cache>/idx/<key>/<folder>/raw/<name>: gzipped files
    decompressed, plain ones linked. The key changes with the files' paths, sizes and times, so replaced
    files are staged afresh; each file is written under a temporary name and renamed, so that processes
    loading at the same time (torchrun) never read a half-written one."""
    fingerprint = sorted((name, _fingerprint(path)) for name, path in found.items())
    key = hashlib.sha256(repr((folder, fingerprint)).encode()).hexdigest()[:16]
    root = cache_dir() / "idx" / key
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, source in found.items():
        target = raw / name
        if target.exists():
            continue
        partial = raw / f".{name}.{os.getpid()}.partial"
        try:
            if source.suffix == ".gz":
                with gzip.open(source) as compressed, open(partial, "wb") as out:
                    shutil.copyfileobj(compressed, out, 1 << 20)
            else:
                try:
                    partial.symlink_to(source.resolve())
                except OSError:  # no symlinks on this file system
                    shutil.copyfile(source, partial)
            os.replace(partial, target)
        except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError; a cut-off file ends in EOFError
            partial.unlink(missing_ok=True)
            raise ValueError(f"{source}: cannot be read as a gzip file ({error}); the file is damaged") from error
    return root


def _fingerprint(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _check_idx_files(raw: Path, sources: dict[str, Path]) -> None:
    """Magic numbers, sizes and matching counts of the four files, so that a damaged file is named here
    rather than failing inside torchvision. `sources` maps each name to the user's file, for messages."""
    for split in ("train", "t10k"):
        images_name, labels_name = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        image_dims = _idx_dims(raw / images_name, sources[images_name], dimensions=3)
        label_dims = _idx_dims(raw / labels_name, sources[labels_name], dimensions=1)
        if image_dims[0] != label_dims[0]:
            raise ValueError(
                f"{sources[images_name]} holds {image_dims[0]} images but {sources[labels_name]} holds "
                f"{label_dims[0]} labels; the counts must match"
            )


def _idx_dims(path: Path, shown: Path, dimensions: int) -> tuple[int, ...]:
    expected_magic = 0x0800 + dimensions  # unsigned bytes
    header_size = 4 * (1 + dimensions)
    with open(path, "rb") as file:
        header = file.read(header_size)
    if len(header) < header_size:
        raise ValueError(f"{shown}: {len(header)} bytes, too short for an IDX header; the file is damaged")
    magic, *dims = struct.unpack(f">{1 + dimensions}I", header)
    if magic != expected_magic:
        raise ValueError(
            f"{shown}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(an IDX file of {dimensions}-d unsigned bytes); wrong or damaged file"
        )
    expected_size = header_size + int(torch.tensor(dims).prod())
    actual_size = path.stat().st_size
    if actual_size != expected_size:
        shape = "x".join(map(str, dims))
        raise ValueError(
            f"{shown}: its header describes {shape} values ({expected_size} bytes with the header) but it "
            f"holds {actual_size} bytes; the file is {'truncated' if actual_size < expected_size else 'damaged'}"
        )
    return tuple(dims)


def _cifar_root(spec: BuiltinDataset, data_dir: Path | None, download: bool) -> Path:
    """The root under which spec.dataset_class finds its extracted folder (cifar-10-batches-py/ ...)."""
    dataset_class = spec.dataset_class
    root = data_dir if data_dir is not None else cache_dir() / "downloads"
    if (root / dataset_class.base_folder).is_dir():
        return root
    archive = root / dataset_class.filename
    if archive.is_file():
        return _extract_to_cache(archive, dataset_class.base_folder)
    if download:
        dataset_class(str(root), train=True, download=True)
        return root
    raise FileNotFoundError(_how_to_get(spec, [root]))


def _extract_to_cache(archive: Path, folder: str) -> Path:
    key = hashlib.sha256(repr(_fingerprint(archive)).encode()).hexdigest()[:16]
    root = cache_dir() / "extracted" / key
    if (root / folder).is_dir():
        return root
    root.mkdir(parents=True, exist_ok=True)
    # Extracted beside the final place and renamed into it, so that a concurrent or interrupted
    # extraction never leaves a partial folder under the final name.
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        extract_archive(str(archive), str(partial))
        if not (partial / folder).is_dir():
            raise ValueError(f"{archive}: has no {folder}/ folder inside; not the right archive")
        try:
            os.replace(partial / folder, root / folder)
        except OSError:
            if not (root / folder).is_dir():  # else another process finished first
                raise
    except (OSError, EOFError, tarfile.TarError) as error:  # a cut-off .gz ends in EOFError
        raise ValueError(f"{archive}: cannot be extracted ({error}); the archive is damaged") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root


# --- Image folders ---------------------------------------------------------------------------------


def load_image(path: str | os.PathLike, in_chans: int = 3) -> Image.Image:
    """An image file, decoded and converted to the model's channel mode ("L" or "RGB")."""
    with Image.open(path) as image:
        image.load()
        return to_model_channels(image, in_chans)


def image_file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a readable image ("empty file", "not an image", "damaged (...)"), None if it is.

    Cheap where the format allows: PIL's verify() checks a PNG's chunk checksums to the end without
    decoding; a JPEG must end with its end-of-image marker (FF D9), which a truncated one lacks (verify()
    does not look at JPEG data). Other formats, and JPEGs with data after the marker, are decoded fully.
    """
    try:
        size = os.path.getsize(path)
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if size == 0:
        return "empty file"
    try:
        with Image.open(path) as image:
            image_format = image.format
            image.verify()
        if image_format == "PNG" or (image_format == "JPEG" and _ends_with_jpeg_end_marker(path)):
            return None
        with Image.open(path) as image:
            image.load()
    except Image.UnidentifiedImageError:
        return "not an image"
    except Exception as error:  # PIL raises OSError, SyntaxError, struct.error... depending on the format
        return f"damaged ({error})"
    return None


def _ends_with_jpeg_end_marker(path: str | os.PathLike) -> bool:
    with open(path, "rb") as file:
        file.seek(-2, os.SEEK_END)
        return file.read(2) == b"\xff\xd9"


def find_unreadable_images(paths: Sequence[str], workers: int = 8, chunk: int = 10_000) -> dict[str, str]:
    """{path: problem} for the files in `paths` that are not readable images (see `image_file_problem`).

    About 60 us a file from the page cache (PNG and JPEG); threads, because from a cold disk the check
    waits on reads, and PIL releases the GIL while it reads and decodes. Paths go to the pool in chunks
    so that an ImageNet-sized folder does not queue a million futures at once.
    """
    problems: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), chunk):
            part = paths[start:start + chunk]
            found = zip(part, pool.map(image_file_problem, part))
            problems.update((path, problem) for path, problem in found if problem is not None)
    return problems


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


def _load_image_folder(
    folder: Path, input_size: int | None, preset: str, random_erase: float, val_fraction: float, seed: int,
    strict: bool,
) -> DataSplits:
    has_train, has_val = (folder / "train").is_dir(), (folder / "val").is_dir()
    if has_val and not has_train:
        raise ValueError(f"{folder} has a val/ folder but no train/ folder")
    mean, std = DATASET_STATS["imagenet"]
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
