"""torchvision's ImageNet GoogLeNet (69.778% top-1): where the file comes from, how it is checked, and
what it expects.

The file is downloaded once into the torch hub cache (`torch.hub.get_dir()/checkpoints`, what
torchvision itself uses), its SHA-256 checked against the prefix in its published name. Offline, the
error says which file to fetch and the folder to put it in. It is read weights-only, like every
checkpoint here (`googlenet.weights.loading`).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import torch

from googlenet.models.metadata import attach_metadata
from googlenet.models.network import GoogLeNet, GoogLeNetConfig, uninitialised_googlenet
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.weights.loading import load_checkpoint_file, load_state_dict_checked, state_dict_from_checkpoint

SOURCE_NAME = "torchvision-imagenet"
FILE_NAME = "googlenet-1378be20.pth"
URL = f"https://download.pytorch.org/models/{FILE_NAME}"  # torchvision's GoogLeNet_Weights.IMAGENET1K_V1.url
HASH_PREFIX = "1378be20"  # the first digits of the file's SHA-256, as torch.hub's check_hash reads them
TOP1 = 69.778  # torchvision's published ImageNet-1k validation top-1

# torchvision's eval transform for these weights (GoogLeNet_Weights.IMAGENET1K_V1.transforms()).
PREPROCESSING = Preprocessing(input_size=224, resize_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                              interpolation="bilinear", channel_order="RGB")
# The network the file holds. The weights take inputs on a [-1, 1] scale; with ImageNet mean/std
# preprocessing, transform_input converts (pytorch/vision#4136). Its aux heads were never trained.
CONFIG = GoogLeNetConfig("torchvision", num_classes=1000, in_chans=3, aux_logits=False, transform_input=True)


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


def imagenet_googlenet(*, progress: bool = True, aux_logits: bool = False, transform_input: bool = True) -> GoogLeNet:
    """The `torchvision` flavour with these weights: the network `torchvision.models.googlenet(weights=
    "IMAGENET1K_V1")` returns (training mode, as torchvision returns it), with the ImageNet class names and
    this preprocessing attached. `aux_logits=True` keeps the release's aux heads, which were never trained."""
    from torchvision.models import GoogLeNet_Weights

    path = imagenet_checkpoint(progress)
    state_dict = state_dict_from_checkpoint(load_checkpoint_file(path), path)
    if not aux_logits:
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith(("aux1.", "aux2."))}
    # every weight comes from the file: the load below is strict
    model = uninitialised_googlenet(replace(CONFIG, aux_logits=aux_logits, transform_input=transform_input))
    load_state_dict_checked(model, state_dict, path)
    attach_metadata(model, class_names=list(GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]),
                    preprocessing=PREPROCESSING)
    return model.train()
