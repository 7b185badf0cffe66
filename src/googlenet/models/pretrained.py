"""torchvision's published GoogLeNet weights by name, as torchvision's `GoogLeNet_Weights` names them:
where the file is, what it was measured at, what it expects (`preprocessing`, `transforms()`) and the
network it fits (`config`).

`checked_file` is the one way to the file: downloaded once into `$TORCH_HOME/hub/checkpoints/` (where
torchvision keeps it too) and read from there afterwards, offline too; its SHA-256 is checked against the
prefix in its published name every time it is read, whether downloaded or put there by hand.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from googlenet.models.config import GoogLeNetConfig
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.models.shapes import smallest_input_side

if TYPE_CHECKING:
    from torchvision.transforms import v2


@dataclass(frozen=True)
class PublishedWeights:
    """One published file: its address, its checksum prefix, and what it expects and fits."""

    url: str
    preprocessing: Preprocessing
    config: GoogLeNetConfig
    accuracy: dict[str, float]  # published ImageNet-1k validation accuracy, % (torchvision's "acc@1", "acc@5")
    num_params: int
    recipe: str


_IMAGENET1K_V1 = PublishedWeights(
    url="https://download.pytorch.org/models/googlenet-1378be20.pth",
    # torchvision's eval transform for these weights: ImageClassification(crop_size=224), resize 256 bilinear.
    preprocessing=Preprocessing(input_size=224, resize_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                interpolation="bilinear", channel_order="RGB"),
    # The weights take inputs on a [-1, 1] scale; with ImageNet mean/std preprocessing, transform_input
    # converts (pytorch/vision#4136). The file's aux heads were never trained: left out unless asked for.
    config=GoogLeNetConfig("torchvision", num_classes=1000, in_chans=3, aux_logits=False, transform_input=True),
    accuracy={"acc@1": 69.778, "acc@5": 89.530},
    num_params=6_624_904,
    recipe="https://github.com/pytorch/vision/tree/main/references/classification#googlenet",
)


class GoogLeNet_Weights(enum.Enum):  # noqa: N801 - torchvision's name, so code written for it reads the same
    """torchvision's GoogLeNet weights: `GoogLeNet_Weights.IMAGENET1K_V1` (also `DEFAULT`)."""

    IMAGENET1K_V1 = _IMAGENET1K_V1
    DEFAULT = _IMAGENET1K_V1  # an alias of IMAGENET1K_V1 (same value), as in torchvision

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def file_name(self) -> str:
        return self.value.url.rsplit("/", 1)[-1]

    @property
    def hash_prefix(self) -> str:
        """The first digits of the file's SHA-256, as torch.hub's check_hash reads them from its name."""
        return self.file_name.rsplit("-", 1)[-1].split(".")[0]

    @property
    def preprocessing(self) -> Preprocessing:
        return self.value.preprocessing

    @property
    def config(self) -> GoogLeNetConfig:
        return self.value.config

    @property
    def meta(self) -> dict[str, Any]:
        """torchvision's keys: categories (the 1,000 ImageNet class names in index order), num_params,
        min_size, recipe, _metrics (ImageNet-1K acc@1 and acc@5)."""
        return _meta(self.name)

    def transforms(self) -> v2.Compose:
        """The evaluation transform these weights expect, as an object: the one this library evaluates
        with (`Preprocessing.transforms()`). On PIL images it computes what torchvision's
        `GoogLeNet_Weights.IMAGENET1K_V1.transforms()` does; on uint8 tensors it is within one grey level
        (transforms v2 resizes them in uint8)."""
        return self.value.preprocessing.transforms()

    def cached_path(self) -> Path:
        """Where the file is (or will be) in the torch hub cache."""
        return Path(torch.hub.get_dir()) / "checkpoints" / self.file_name

    def checked_file(self, progress: bool = True, check_hash: bool = True) -> Path:
        """The file in the torch hub cache, downloaded first if it is not there, its SHA-256 checked (unless
        `check_hash=False`). A ValueError of one line says what to fetch, and where to put it, offline."""
        path = self.cached_path()
        downloaded = not path.is_file()
        if downloaded:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                torch.hub.download_url_to_file(self.url, str(path), progress=progress)
            except OSError as error:  # URLError is an OSError
                raise ValueError(f"torchvision's ImageNet weights are not in the torch hub cache and could not be "
                                 f"downloaded ({type(error).__name__}: {error}); fetch {self.url} where there is a "
                                 f"network and put {self.file_name} in {path.parent}/") from None
        if check_hash:
            found = file_sha256(path)
            if not found.startswith(self.hash_prefix):
                if downloaded:  # never leave a wrong file where the next call would take it for the release
                    path.unlink(missing_ok=True)
                raise ValueError(f"{path} is not torchvision's {self.file_name}: its SHA-256 is {found[:16]}..., the "
                                 f"published one starts with {self.hash_prefix} (a damaged or different file: delete "
                                 "it and fetch it again)")
        return path

    def is_this_file(self, path: Path) -> bool:
        """Whether a local file is this release, by its content (any name)."""
        return file_sha256(path).startswith(self.hash_prefix)

    def get_state_dict(self, progress: bool = True, check_hash: bool = True) -> dict[str, torch.Tensor]:
        """The file's state_dict (`checked_file`), read weights-only."""
        return torch.load(self.checked_file(progress, check_hash), map_location="cpu", weights_only=True)

    @classmethod
    def verify(cls, weights: object) -> GoogLeNet_Weights | None:
        """None, a member, its name ("IMAGENET1K_V1", "DEFAULT") or torchvision's own member, as a member."""
        if weights is None or isinstance(weights, cls):
            return weights
        name = getattr(weights, "name", weights)  # torchvision's GoogLeNet_Weights member has the same names
        if isinstance(name, str) and name in cls.__members__:
            return cls[name]
        raise ValueError(f"unknown GoogLeNet weights {weights!r}; choose one of: {', '.join(cls.__members__)} (a model "
                         "directory, a training run directory or hf-hub:user/repo loads with from_pretrained)")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _meta(name: str) -> dict[str, Any]:
    # The category names are torchvision's (a dependency), read when first asked for: importing
    # torchvision.models takes about a second that building a network never needs.
    from torchvision.models import GoogLeNet_Weights as TorchvisionWeights

    published = GoogLeNet_Weights[name].value
    return {
        "categories": list(TorchvisionWeights[name].meta["categories"]),
        "num_params": published.num_params,
        "min_size": (smallest_input_side(published.config.flavour),) * 2,
        "recipe": published.recipe,
        "_metrics": {"ImageNet-1K": dict(published.accuracy)},
        "_docs": "These weights are ported from the original paper (BVLC Caffe) by torchvision.",
    }
