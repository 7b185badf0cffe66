"""The one way an image file becomes what a model reads: open, decode, convert to the model's channels.

Image folders, prediction, test-time augmentation and the server all go through `load_image`, and the up-front
check of a folder through `image_file_problem`, so that every path treats a damaged, 16-bit or transparent
image the same way.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

ImageSource = str | os.PathLike | bytes | BinaryIO


@dataclass(frozen=True)
class UnreadableImage:
    """What a dataset gives in place of an image whose file cannot be decoded: never another image.

    `collate_skipping_unreadable` leaves these out of a batch and lists them in `Batch.skipped`.
    """

    path: str
    reason: str


def load_image(source: ImageSource, in_chans: int = 3) -> Image.Image:
    """An image file (a path, its bytes, or a binary file object), decoded and converted to the model's
    channel mode ("L" for in_chans=1, "RGB" for 3). Raises PIL's errors (OSError, UnidentifiedImageError...)
    for a file that is not a readable image."""
    return to_model_channels(read_image(source), in_chans)


def read_image(source: ImageSource) -> Image.Image:
    """An image file decoded in its own mode (the pixels are read now, so the file can be closed)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with Image.open(source) as image:
        image.load()
        return image


# --- Channel modes -------------------------------------------------------------------------------

# PIL keeps 16-bit and 32-bit pixels in these modes; its own convert("L") clips them at 255 instead of
# scaling, which turns most 16-bit images white.
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
GRAYSCALE_MODES = ("1", "L", "LA", "La", *_HIGH_DEPTH_MODES)


def to_model_channels(image: Image.Image, in_chans: int) -> Image.Image:
    """`image` in the mode a model with `in_chans` channels reads: "L" for 1, "RGB" for 3.

    Grayscale, 16/32-bit, palette, CMYK, YCbCr, RGBA and LA images are all accepted. Transparent pixels
    become black (the colour stored under a transparent pixel is arbitrary, so it is not used), and
    16/32-bit values are scaled to 8 bits rather than clipped.
    """
    if in_chans not in (1, 3):
        raise ValueError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {in_chans}")
    target_mode = "L" if in_chans == 1 else "RGB"
    if image.mode == target_mode:
        return image
    if image.mode in _HIGH_DEPTH_MODES:
        image = _high_depth_to_8_bit(image)
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA")  # the palette may hold transparency
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        image = _on_black(image)
    return image.convert(target_mode)


def _high_depth_to_8_bit(image: Image.Image) -> Image.Image:
    """A 16/32-bit integer or float grayscale image as an 8-bit "L" image, scaled to keep its contrast.

    16-bit modes map 0..65535 onto 0..255. Mode "I" (32-bit) does not say how many bits are used: values in
    0..255 are taken as 8-bit and values in 0..65535 as 16-bit; mode "F" values in [0, 1] as fractions, in
    [0, 255] as 8-bit. Anything else is stretched from its minimum to its maximum.
    """
    pixels = np.asarray(image).astype(np.float64)
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        scale_max = 65535.0
    elif image.mode == "F" and 0.0 <= low and high <= 1.0:
        scale_max = 1.0
    elif 0.0 <= low and high <= 255.0:
        scale_max = 255.0
    elif image.mode == "I" and 0.0 <= low and high <= 65535.0:
        scale_max = 65535.0
    else:
        pixels = pixels - low
        scale_max = max(high - low, 1e-12)
    eight_bit = np.clip(np.rint(pixels * (255.0 / scale_max)), 0, 255).astype(np.uint8)
    return Image.fromarray(eight_bit)  # 2-d uint8 -> "L"


def _on_black(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)


# --- Checking files up front ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What the up-front check of one file found: its problem (None for a readable image), else its size
    (width, height) and PIL mode."""

    problem: str | None
    size: tuple[int, int] = (0, 0)
    mode: str = ""


def inspect_image(path: str | os.PathLike) -> ImageInfo:
    """Whether `path` is a readable image, and its size and mode (see `image_file_problem`)."""
    try:
        file_size = os.path.getsize(path)
    except OSError as error:
        return ImageInfo(f"unreadable ({error.strerror})")
    if file_size == 0:
        return ImageInfo("empty file")
    try:
        with Image.open(path) as image:
            image_format, size, mode = image.format, image.size, image.mode
            image.verify()
        if image_format == "PNG" or (image_format == "JPEG" and _ends_with_jpeg_end_marker(path)):
            return ImageInfo(None, size, mode)
        with Image.open(path) as image:
            image.load()
    except Image.UnidentifiedImageError:
        return ImageInfo("not an image")
    except Exception as error:  # PIL raises OSError, SyntaxError, struct.error... depending on the format
        return ImageInfo(f"damaged ({error})")
    return ImageInfo(None, size, mode)


def image_file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a readable image ("empty file", "not an image", "damaged (...)"), None if it is.

    Cheap where the format allows: PIL's verify() checks a PNG's chunk checksums to the end without
    decoding; a JPEG must end with its end-of-image marker (FF D9), which a truncated one lacks (verify()
    does not look at JPEG data). Other formats, and JPEGs with data after the marker, are decoded fully.
    """
    return inspect_image(path).problem


def _ends_with_jpeg_end_marker(path: str | os.PathLike) -> bool:
    with open(path, "rb") as file:
        file.seek(-2, os.SEEK_END)
        return file.read(2) == b"\xff\xd9"


def inspect_images(paths: Sequence[str], workers: int = 8, chunk: int = 10_000) -> dict[str, ImageInfo]:
    """{path: ImageInfo} for every file in `paths` (see `inspect_image`).

    About 60 us a file from the page cache (PNG and JPEG); threads, because from a cold disk the check
    waits on reads, and PIL releases the GIL while it reads and decodes. Paths go to the pool in chunks
    so that an ImageNet-sized folder does not queue a million futures at once.
    """
    found: dict[str, ImageInfo] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(paths), chunk):
            part = paths[start:start + chunk]
            found.update(zip(part, pool.map(inspect_image, part)))
    return found


def find_unreadable_images(paths: Sequence[str], workers: int = 8) -> dict[str, str]:
    """{path: problem} for the files in `paths` that are not readable images."""
    return {path: info.problem for path, info in inspect_images(paths, workers).items() if info.problem is not None}
