"""Test-time crops: torchvision's 10-crop and the paper's 144-crop scheme (paper section 7).

144 crops per image: the shorter side resized to 256, 288, 320 and 352 (scaled by input_size / 224 for
other input sizes); the left, centre and right squares of each (top, centre and bottom for portrait
images); from each square the 4 corner crops, the centre crop and the whole square resized to the
input size; each of these also mirrored. 4 scales x 3 squares x 6 crops x 2 mirrors = 144. The three
squares of a square image are one and the same: its 144 crops are 48 views, each counted three times
(which leaves the average as it is).

Two cases change what a mode's name promises, and `MultiCrop.note` says so:
- a model that sees small images whole (resize_size == input_size) has no room for five different crops:
  its 10 crops are taken from the image resized by torchvision's 256/224, as the 144 crops' smallest scale;
- a data set whose mirror image is another class (digits, characters) gets no mirrored views: 5 and 72.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from googlenet.models.preprocessing import Preprocessing

PAPER_SCALES = (256, 288, 320, 352)  # shorter side, for a 224 input
PAPER_INPUT_SIZE = 224
TTA_MODES = ("center", "10crop", "144crop")
# torchvision's evaluation resize for its 224 crop (256): where a model's own resize leaves no room for
# distinct crops, the 10 crops come from the image resized by this ratio of the input size.
CROP_RESIZE_RATIO = 256 / 224


@dataclass(frozen=True)
class CropSpec:
    """One of the 144 crops. Boxes are (left, top, width, height) in the coordinates they apply to."""

    shorter_side: int  # the image is first resized so its shorter side is this long
    square: tuple[int, int, int, int]  # the square, in the resized image
    crop: tuple[int, int, int, int] | None  # the crop, in the square; None: the whole square, resized
    mirrored: bool


def _resized_size(width: int, height: int, shorter_side: int) -> tuple[int, int]:
    if width <= height:
        return shorter_side, max(shorter_side, round(height * shorter_side / width))
    return max(shorter_side, round(width * shorter_side / height)), shorter_side


def crop_specs_144(width: int, height: int, input_size: int = PAPER_INPUT_SIZE, *, mirrors: bool = True
                   ) -> list[CropSpec]:
    """The 144 crops of a `width` x `height` image for a model taking `input_size` squares (72 without
    the mirrored ones)."""
    specs: list[CropSpec] = []
    for scale in PAPER_SCALES:
        side = round(scale * input_size / PAPER_INPUT_SIZE)
        resized_width, resized_height = _resized_size(width, height, side)
        if resized_width >= resized_height:  # landscape (or square): left, centre, right
            slack = resized_width - side
            squares = [(offset, 0, side, side) for offset in (0, slack // 2, slack)]
        else:  # portrait: top, centre, bottom
            slack = resized_height - side
            squares = [(0, offset, side, side) for offset in (0, slack // 2, slack)]
        far = side - input_size
        crops: list[tuple[int, int, int, int] | None] = [
            (0, 0, input_size, input_size),
            (far, 0, input_size, input_size),
            (0, far, input_size, input_size),
            (far, far, input_size, input_size),
            (far // 2, far // 2, input_size, input_size),
            None,
        ]
        for square in squares:
            for crop in crops:
                for mirrored in (False, True) if mirrors else (False,):
                    specs.append(CropSpec(side, square, crop, mirrored))
    return specs


def _finish(image: Image.Image, preprocessing: Preprocessing) -> torch.Tensor:
    tensor = TF.to_dtype(TF.to_image(image), torch.float32, scale=True)
    return TF.normalize(tensor, list(preprocessing.mean), list(preprocessing.std))


def crops_144(image: Image.Image, preprocessing: Preprocessing, *, mirrors: bool = True) -> torch.Tensor:
    """All 144 crops of one image (already in the model's channel mode): [144, C, S, S] ([72, ...]
    without the mirrored ones)."""
    size = preprocessing.input_size
    resized: dict[int, Image.Image] = {}
    out = []
    for spec in crop_specs_144(image.width, image.height, size, mirrors=mirrors):
        if spec.shorter_side not in resized:
            width, height = _resized_size(image.width, image.height, spec.shorter_side)
            resized[spec.shorter_side] = image.resize((width, height), _pil_filter(preprocessing.interpolation))
        left, top, width, height = spec.square
        square = resized[spec.shorter_side].crop((left, top, left + width, top + height))
        if spec.crop is None:
            piece = square.resize((size, size), _pil_filter(preprocessing.interpolation))
        else:
            left, top, width, height = spec.crop
            piece = square.crop((left, top, left + width, top + height))
        tensor = _finish(piece, preprocessing)
        out.append(TF.horizontal_flip(tensor) if spec.mirrored else tensor)
    return torch.stack(out)


def ten_crops(image: Image.Image, preprocessing: Preprocessing, *, mirrors: bool = True) -> torch.Tensor:
    """torchvision's 10-crop: resize to preprocessing.resize_size, then 4 corners + centre, and their
    mirrors: [10, C, S, S]; without mirrors the five crops: [5, C, S, S]."""
    interpolation = InterpolationMode(preprocessing.interpolation)
    resized = TF.resize(TF.to_image(image), [preprocessing.resize_size], interpolation=interpolation, antialias=True)
    tensor = TF.normalize(
        TF.to_dtype(resized, torch.float32, scale=True), list(preprocessing.mean), list(preprocessing.std)
    )
    size = [preprocessing.input_size, preprocessing.input_size]
    return torch.stack(TF.ten_crop(tensor, size) if mirrors else TF.five_crop(tensor, size))


@dataclass(frozen=True)
class MultiCrop:
    """A multi-crop mode for one model's preprocessing: called on an image (in the model's channel mode) it
    gives the crops, [views, C, S, S]. `mirrors=False` for data sets whose mirror image is another class."""

    mode: str  # "10crop" or "144crop"
    preprocessing: Preprocessing
    mirrors: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("10crop", "144crop"):
            raise ValueError(f"unknown multi-crop mode {self.mode!r}; choose one of: {', '.join(TTA_MODES)}")

    @property
    def resize_size(self) -> int:
        """What the 10 crops are cut from: the model's own resize, or, where that is the input size (small
        images seen whole), 256/224 of the input size, so the five crops are five different views."""
        own, size = self.preprocessing.resize_size, self.preprocessing.input_size
        return own if own > size else round(size * CROP_RESIZE_RATIO)

    @property
    def views(self) -> int:
        """Crops per image, whose softmax outputs are averaged."""
        return (10 if self.mode == "10crop" else 144) // (1 if self.mirrors else 2)

    @property
    def note(self) -> str | None:
        """How the crops differ from what the mode's name says, in words; None where they do not."""
        notes = []
        if self.mode == "10crop" and self.resize_size != self.preprocessing.resize_size:
            notes.append(f"cut from the image resized to {self.resize_size} px, as the model's own resize "
                         f"({self.preprocessing.resize_size} px) is its input size and would give one view five times")
        if not self.mirrors:
            notes.append(f"{self.views} crops without mirror images, as the data set is not mirror-safe")
        return "; ".join(notes) or None

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if self.mode == "10crop":
            return ten_crops(image, replace(self.preprocessing, resize_size=self.resize_size), mirrors=self.mirrors)
        return crops_144(image, self.preprocessing, mirrors=self.mirrors)


def crop_function(mode: str, preprocessing: Preprocessing, *, mirrors: bool = True) -> MultiCrop:
    """image -> [K, C, S, S] for a multi-crop mode ("10crop" or "144crop"); see `MultiCrop`."""
    return MultiCrop(mode, preprocessing, mirrors)


def _pil_filter(interpolation: str) -> Image.Resampling:
    return {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
    }[interpolation]
