"""The named train and eval presets, built from a `Preprocessing` record (googlenet.models.preprocessing).

torchvision is imported inside the preset builders, not at the top: this module is imported where only
the record is needed, and torchvision adds ~1.4 s to an import that nothing else there needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from googlenet.models.preprocessing import Preprocessing, to_normalised_tensor

if TYPE_CHECKING:
    from torchvision.transforms import v2

__all__ = [
    "BOUNDED_CROP_SCALE", "PAPER_CROP_RATIO", "PAPER_CROP_SCALE", "PAPER_INTERPOLATIONS", "PAPER_JITTER",
    "TRAIN_PRESETS", "TRAIN_PRESET_SUMMARIES", "eval_preset", "paper_train_preset", "random_erasing",
    "small_image_train_preset", "train_preset_by_name", "unaugmented_train_preset",
]


# --- Named presets -------------------------------------------------------------------------------
# Each returns a torchvision.transforms.v2.Compose that takes a PIL image or a uint8 tensor image
# [C, H, W] already in the model's channel mode (see `to_model_channels`) and returns a normalised
# float32 tensor [C, input_size, input_size].

# Section 6 of the paper resizes with "bilinear, area, nearest neighbor and cubic" interpolation chosen at
# random. Area (PIL's BOX) has no tensor kernel in torchvision, so the three that work on PIL images and
# tensors alike (torchvision InterpolationMode values).
PAPER_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
# Section 6: crops "whose size is distributed evenly between 8% and 100% of the image area with aspect
# ratio constrained to the interval [3/4, 4/3]".
PAPER_CROP_SCALE = (0.08, 1.0)
PAPER_CROP_RATIO = (3 / 4, 4 / 3)
# The bounded preset: a crop keeps at least a quarter of the image's area, i.e. at least half of its width
# and height, where the paper draws from 8%: on a data set of photos with one small object each, an 8%
# crop often misses it.
BOUNDED_CROP_SCALE = (0.25, 1.0)
# Section 6 refers to Howard (arXiv 1312.5402) for the photometric distortions; these are the usual
# strengths of that recipe. Hue moves are kept small because they change what colour an object is.
PAPER_JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.05}


def _area(scale: tuple[float, float]) -> str:
    # In words, not "%": the text is argparse help too, where "%" starts a format.
    return f"{round(scale[0] * 100)} to {round(scale[1] * 100)} percent of the area"


# The training augmentations by name ("auto" picks one from the data), each with what it does: the one
# description `googlenet train --help`, the run's decisions and the documents read. A name means one
# thing: its crop range is part of it, never changed by how the preset was chosen.
TRAIN_PRESET_SUMMARIES = {
    "paper": f"the paper's random crops ({_area(PAPER_CROP_SCALE)}), random interpolation, colour distortions",
    "bounded": f"the paper's, with crops of {_area(BOUNDED_CROP_SCALE)}: each keeps at least half of each side, "
               "so most of a small object",
    "small": "shifts of up to 4 px (padded crops), for small images",
    "none": "resize only",
}
TRAIN_PRESETS = tuple(TRAIN_PRESET_SUMMARIES)


def paper_train_preset(
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_chans: int = 3,
    *,
    hflip: bool = True,
    random_erase: float = 0.0,
    crop_scale: tuple[float, float] = PAPER_CROP_SCALE,
) -> v2.Compose:
    """The paper's training augmentation (section 6): random-area, random-aspect crops resized with a random
    interpolation, horizontal flips and photometric distortions.

    `in_chans=1` leaves out saturation and hue, which do not exist for grayscale. `hflip=False` for data
    whose mirror image is another class (digits, characters). `random_erase`: see `random_erasing`.
    `crop_scale`: the crops' share of the image's area (the paper's 8%-100% by default).
    """
    from torchvision.transforms import v2

    _check_channels(in_chans, mean, std)
    crops = [
        v2.RandomResizedCrop(
            input_size, scale=crop_scale, ratio=PAPER_CROP_RATIO, interpolation=v2.InterpolationMode(mode)
        )
        for mode in PAPER_INTERPOLATIONS
    ]
    jitter = PAPER_JITTER if in_chans == 3 else {name: PAPER_JITTER[name] for name in ("brightness", "contrast")}
    return v2.Compose([
        v2.RandomChoice(crops),  # one interpolation per image, equally likely
        *([v2.RandomHorizontalFlip()] if hflip else []),
        v2.ColorJitter(**jitter),
        *to_normalised_tensor(mean, std).transforms,
        *random_erasing(random_erase),
    ])


def small_image_train_preset(
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    padding: int = 4,
    *,
    hflip: bool = True,
    random_erase: float = 0.0,
    resize_size: int | None = None,
) -> v2.Compose:
    """Augmentation for 28x28 / 32x32 data sets: the image as evaluation frames it (shorter side resized to
    `resize_size`, default `input_size`, and the centre `input_size` kept), padded with black by `padding`
    and cropped back to `input_size` at a random place, random horizontal flip.

    Random-area crops throw away too much of an image this small; shifts of a few pixels are the standard
    recipe (zero padding, as for CIFAR; the MNIST family's background is black too).
    """
    from torchvision.transforms import v2

    return v2.Compose([
        v2.Resize(resize_size or input_size),
        v2.CenterCrop(input_size),
        v2.RandomCrop(input_size, padding=padding, fill=0, padding_mode="constant"),
        *([v2.RandomHorizontalFlip()] if hflip else []),
        *to_normalised_tensor(mean, std).transforms,
        *random_erasing(random_erase),
    ])


def unaugmented_train_preset(
    input_size: int, mean: Sequence[float], std: Sequence[float], *, hflip: bool = False, random_erase: float = 0.0,
    resize_size: int | None = None,
) -> v2.Compose:
    """No geometric augmentation: the images as evaluation sees them (shorter side resized to `resize_size`,
    default `input_size`, and the centre `input_size` kept); flips and random erasing only if asked for.
    For runs too short for augmentation to pay back the slower fitting it causes."""
    from torchvision.transforms import v2

    return v2.Compose([
        v2.Resize(resize_size or input_size),
        v2.CenterCrop(input_size),
        *([v2.RandomHorizontalFlip()] if hflip else []),
        *to_normalised_tensor(mean, std).transforms,
        *random_erasing(random_erase),
    ])


def random_erasing(probability: float) -> list[v2.Transform]:
    """Random erasing (Zhong et al. 2017, arXiv 1708.04896) with probability `probability`, as a list to
    append after normalisation: [] for 0.

    The erased rectangle (2%-33% of the image, aspect 0.3-3.3, torchvision's defaults) is set to 0 after
    normalisation, i.e. to the data set's mean colour. It is the regulariser that lets long runs on small
    images keep improving (the paper above measures it on Fashion-MNIST); short runs do better without it.
    """
    from torchvision.transforms import v2

    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"random erase probability must be in [0, 1], got {probability}")
    return [v2.RandomErasing(p=probability, value=0)] if probability > 0 else []


def train_preset_by_name(
    name: str,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    in_chans: int = 3,
    *,
    hflip: bool = True,
    random_erase: float = 0.0,
    resize_size: int | None = None,
) -> v2.Compose:
    """The training preset called `name` (one of TRAIN_PRESETS, described in TRAIN_PRESET_SUMMARIES);
    `resize_size` (evaluation's resize before the centre crop) is the small and none presets'."""
    if name in ("paper", "bounded"):
        crop_scale = PAPER_CROP_SCALE if name == "paper" else BOUNDED_CROP_SCALE
        return paper_train_preset(
            input_size, mean, std, in_chans, hflip=hflip, random_erase=random_erase, crop_scale=crop_scale
        )
    if name == "small":
        _check_channels(in_chans, mean, std)
        return small_image_train_preset(input_size, mean, std, hflip=hflip, random_erase=random_erase,
                                        resize_size=resize_size)
    if name == "none":
        _check_channels(in_chans, mean, std)
        return unaugmented_train_preset(input_size, mean, std, hflip=hflip, random_erase=random_erase,
                                        resize_size=resize_size)
    raise ValueError(f"unknown train preset {name!r}; choose one of {', '.join(TRAIN_PRESETS)}")


def eval_preset(preprocessing: Preprocessing) -> v2.Compose:
    """What `preprocessing` describes (`Preprocessing.transforms()`): resize the shorter side to
    resize_size, centre-crop input_size, scale to [0, 1], normalise. Deterministic."""
    return preprocessing.transforms()


def _check_channels(in_chans: int, mean: Sequence[float], std: Sequence[float]) -> None:
    if in_chans not in (1, 3):
        raise ValueError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {in_chans}")
    if len(mean) != in_chans or len(std) != in_chans:
        raise ValueError(f"mean and std need {in_chans} values for in_chans={in_chans}, got {len(mean)} and {len(std)}")
