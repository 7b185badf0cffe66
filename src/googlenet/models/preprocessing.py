"""The `Preprocessing` record: what an image goes through before the model sees it at inference, and
the ImageNet statistics it defaults to. `preprocessing_of(model)` is the one answer to "what does this
model's input go through?", for a model with a recorded preprocessing or without one.

Light on purpose (dataclasses only; torchvision is imported when a transform is asked for): the model
carries this record, and the weights layer reads and writes it, without loading the image stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from torchvision.transforms import v2

# ImageNet's per-channel statistics (torchvision's), the normalisation of ImageNet-trained weights.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# ImageNet's statistics for one channel: the average of the three, as timm's resolve_data_config uses for
# in_chans=1, so a grayscale folder is normalised like a colour one.
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

    def transforms(self) -> v2.Compose:
        """The evaluation transform this record describes, as a torchvision transforms v2 object: resize
        the shorter side to resize_size, centre-crop input_size, scale to [0, 1], normalise. It takes a
        PIL image or a uint8 tensor image already in the model's channel mode, and is deterministic."""
        from torchvision.transforms import v2

        return v2.Compose([
            v2.Resize(self.resize_size, interpolation=v2.InterpolationMode(self.interpolation)),
            v2.CenterCrop(self.input_size),
            *to_normalised_tensor(self.mean, self.std).transforms,
        ])

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


class _DescribesItsInput(Protocol):
    # A GoogLeNet, or an optimized model carrying its source's attributes (googlenet.optimize).
    in_chans: int
    preprocessing: Preprocessing | None


def default_preprocessing(in_chans: int) -> Preprocessing:
    """ImageNet's evaluation preprocessing (224 of 256, bilinear) for a model taking `in_chans` channels:
    ImageNet's RGB statistics for 3 channels, otherwise their channel average for each channel, read
    as grayscale ("L"), as timm's resolve_data_config does for in_chans=1."""
    if in_chans == 3:
        return Preprocessing()
    return Preprocessing(mean=IMAGENET_GRAY_MEAN * in_chans, std=IMAGENET_GRAY_STD * in_chans, channel_order="L")


def preprocessing_of(model: _DescribesItsInput) -> Preprocessing:
    """The preprocessing `model` records, or for a model without one (built in Python, never saved with
    a data set), the default for its own number of input channels (`default_preprocessing`)."""
    recorded = getattr(model, "preprocessing", None)
    return recorded if recorded is not None else default_preprocessing(model.in_chans)


def to_normalised_tensor(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """The common tail of every preset: image -> float32 in [0, 1] -> (x - mean) / std per channel."""
    from torchvision.transforms import v2

    if len(mean) != len(std):
        raise ValueError(f"mean and std must have one value per channel, got {len(mean)} and {len(std)}")
    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
