"""The `Preprocessing` record: what an image goes through before the model sees it at inference.

Light on purpose (dataclasses only, no PIL, numpy or torchvision): the model and the weights layers read
and write this record without loading the image stack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from googlenet.models.network import IMAGENET_MEAN, IMAGENET_STD  # defined beside the network that uses them

# ImageNet's statistics for one channel: the average of the three, as timm's resolve_data_config uses for
# in_chans=1, so a grayscale folder is normalised like a colour one.
TRAIN_PRESETS = ("paper", "small", "none")  # the training augmentations by name ("auto" picks one from the data)

IMAGENET_GRAY_MEAN = (round(sum(IMAGENET_MEAN) / 3, 4),)
IMAGENET_GRAY_STD = (round(sum(IMAGENET_STD) / 3, 4),)


@dataclass(frozen=True)
class Preprocessing:
    """What an image must go through before the model sees it at inference.

    Recorded with every saved model (config.json) and export, so that predict, evaluate and other
    runtimes apply exactly what the model was trained with: resize the shorter side to `resize_size`,
    centre-crop `input_size`, scale to [0, 1], normalise with `mean`/`std` per channel.
    """

    input_size: int = 224
    resize_size: int = 256
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    channel_order: str = "RGB"  # "RGB" for colour models, "L" for grayscale (in_chans=1)
    extra: dict[str, Any] = field(default_factory=dict)  # anything a future field needs, kept verbatim

    @property
    def in_chans(self) -> int:
        return len(self.mean)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        known = {name for name in cls.__dataclass_fields__}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown preprocessing fields: {sorted(unknown)}; known: {sorted(known)}")
        values = dict(values)
        for name in ("mean", "std"):
            if name in values:
                values[name] = tuple(float(v) for v in values[name])
        return cls(**values)
