"""torchvision's ImageNet GoogLeNet (69.778% top-1): where the file comes from, how it is checked, and
what it expects.

The file is downloaded once into the torch hub cache (`torch.hub.get_dir()/checkpoints`, what
torchvision itself uses), its SHA-256 checked against the prefix in its published name. Offline, the
error says which file to fetch and the folder to put it in. It is read weights-only, like every
checkpoint here (`googlenet.weights.loading`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from googlenet.models.pretrained import GoogLeNet_Weights

# What the file is, expects and fits is defined once, with the weights' name (googlenet.models.pretrained);
# this module handles the file. The names below are that definition's, as --init reads them.
WEIGHTS = GoogLeNet_Weights.IMAGENET1K_V1
SOURCE_NAME = "torchvision-imagenet"
FILE_NAME = WEIGHTS.file_name
URL = WEIGHTS.url
HASH_PREFIX = WEIGHTS.hash_prefix  # the first digits of the file's SHA-256, as torch.hub's check_hash reads them
TOP1 = WEIGHTS.value.accuracy["acc@1"]  # torchvision's published ImageNet-1k validation top-1
PREPROCESSING = WEIGHTS.preprocessing  # torchvision's eval transform for these weights
CONFIG = WEIGHTS.config  # the network the file holds (transform_input on, the untrained aux heads left out)


def cached_path() -> Path:
    """Where the file is (or will be) in the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME


def imagenet_checkpoint(progress: bool = True) -> Path:
    """The checked file in the torch hub cache, downloaded first if it is not there yet."""
    path = cached_path()
    if not path.is_file():
        try:
            torch.hub.load_state_dict_from_url(URL, model_dir=str(path.parent), map_location="cpu", progress=progress,
                                               check_hash=True, file_name=FILE_NAME, weights_only=True)
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad hash is a RuntimeError
            raise ValueError(
                f"torchvision's ImageNet weights are not in the torch hub cache and could not be downloaded "
                f"({type(error).__name__}: {error}). Fetch {URL} where there is a network and put {FILE_NAME} in "
                f"{path.parent}/ (or give the file's path instead of {SOURCE_NAME!r})"
            ) from None
    check_sha256(path)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path) -> None:
    """ValueError unless `path`'s SHA-256 starts with the published prefix."""
    found = sha256(path)
    if not found.startswith(HASH_PREFIX):
        raise ValueError(f"{path} is not torchvision's {FILE_NAME}: its SHA-256 is {found[:16]}..., the published "
                         f"one starts with {HASH_PREFIX} (a damaged or different file: delete it and fetch it again)")


def is_imagenet_file(path: Path) -> bool:
    """Whether a local file is torchvision's ImageNet release, by its content (any name)."""
    return sha256(path).startswith(HASH_PREFIX)

