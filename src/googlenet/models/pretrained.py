"""torchvision's published GoogLeNet weights by name, as torchvision's `GoogLeNet_Weights` names them:
where the file is, what it was measured at, what it expects (`preprocessing`, `transforms()`) and the
network it fits (`config`).

`get_state_dict` goes through `torch.hub.load_state_dict_from_url`, as torchvision does: the file is
downloaded once into `$TORCH_HOME/hub/checkpoints/` and read from there afterwards, offline too, with
its SHA-256 checked against the prefix in its name.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
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

    def get_state_dict(self, progress: bool = True, check_hash: bool = True) -> dict[str, torch.Tensor]:
        """The file's state_dict, from the torch hub cache (downloaded into it first if missing)."""
        try:
            return torch.hub.load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash,
                                                      map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad hash is a RuntimeError
            folder = f"{torch.hub.get_dir()}/checkpoints"
            raise ValueError(f"torchvision's ImageNet weights are not in the torch hub cache and could not be "
                             f"downloaded ({type(error).__name__}: {error}). Fetch {self.url} where there is a "
                             f"network and put {self.file_name} in {folder}/") from None

    @classmethod
    def verify(cls, weights: object) -> GoogLeNet_Weights | None:
        """None, a member, its name ("IMAGENET1K_V1", "DEFAULT") or torchvision's own member, as a member."""
        if weights is None or isinstance(weights, cls):
            return weights
        name = getattr(weights, "name", weights)  # torchvision's GoogLeNet_Weights member has the same names
        if isinstance(name, str) and name in cls.__members__:
            return cls[name]
        raise ValueError(f"unknown GoogLeNet weights {weights!r}; choose one of: {', '.join(cls.__members__)}")


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
