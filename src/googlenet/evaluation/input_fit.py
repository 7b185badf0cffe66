"""Whether images fit the model they are given to, and one warning when they do not.

An RGB photo given to a 28x28 grayscale model is converted and shrunk and gets an answer, often a confident
one, that means little: the model never saw anything like it. Prediction and evaluation still answer, and
say so once (`InputFitWarning`, and in their report's `warnings`).
"""

from __future__ import annotations

import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

import googlenet

from googlenet.data.images import GRAYSCALE_MODES
from googlenet.models.preprocessing import Preprocessing

# Shrinking by more than this is noted for models of small images (input up to SMALL_MODEL_INPUT), which
# were trained on images about their input's size; enlarging by more than this is noted for any model.
LARGE_RESIZE_FACTOR = 4.0
SMALL_MODEL_INPUT = 64


class InputFitWarning(UserWarning):
    """Images were converted to another channel mode or resized by a large factor to fit the model."""


def channel_mismatch(mode: str, in_chans: int) -> str | None:
    """"colour -> grayscale" or "grayscale -> RGB" when an image in PIL `mode` must change kind to fit a model
    with `in_chans` channels; None when it keeps its kind (transparency or bit depth aside)."""
    grayscale = mode in GRAYSCALE_MODES
    if in_chans == 1 and not grayscale:
        return "colour -> grayscale"
    if in_chans == 3 and grayscale:
        return "grayscale -> RGB"
    return None


def large_resize(shorter_side: int, preprocessing: Preprocessing) -> float | None:
    """The factor an image's shorter side changes by to fit, when it is large enough to note, else None."""
    factor = shorter_side / preprocessing.resize_size
    if factor < 1 / LARGE_RESIZE_FACTOR:
        return factor
    if factor > LARGE_RESIZE_FACTOR and preprocessing.input_size <= SMALL_MODEL_INPUT:
        return factor
    return None


@dataclass
class InputFitNotes:
    """Collects, per kind, which inputs did not fit; `messages()` says it in one line per kind."""

    preprocessing: Preprocessing
    in_chans: int
    converted: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    resized: list[tuple[str, float]] = field(default_factory=list)
    seen: int = 0

    def note(self, name: str, mode: str, size: tuple[int, int]) -> None:
        self.seen += 1
        change = channel_mismatch(mode, self.in_chans)
        if change is not None:
            self.converted[change].append(name)
        factor = large_resize(min(size), self.preprocessing)
        if factor is not None:
            self.resized.append((name, factor))

    def messages(self) -> list[str]:
        found = []
        model = f"the model ({self.in_chans} channel{'s' if self.in_chans > 1 else ''}, " \
                f"{self.preprocessing.input_size}x{self.preprocessing.input_size} input)"
        for change, names in self.converted.items():
            found.append(f"{len(names)} of {self.seen} image(s) converted {change} to fit {model}, e.g. "
                         f"{names[0]}: the answers on them may mean little")
        if self.resized:
            name, factor = self.resized[0]
            how = f"shrunk {factor:.1f}x" if factor > 1 else f"enlarged {1 / factor:.1f}x"
            found.append(f"{len(self.resized)} of {self.seen} image(s) resized by a factor over "
                         f"{LARGE_RESIZE_FACTOR:g} to fit {model}, e.g. {name} ({how}): the answers on them "
                         "may mean little")
        return found

    def warn(self) -> list[str]:
        """Issue each message once as an InputFitWarning, pointing at the caller's line; returns them."""
        found = self.messages()
        for message in found:
            warnings.warn(message, InputFitWarning, stacklevel=caller_stacklevel())
        return found


# Frames in these folders are never the caller's line: the package itself, and torch, whose decorators
# (torch.no_grad) wrap the package's functions.
_INTERNAL_FOLDERS = tuple(str(Path(module.__file__).parent) for module in (googlenet, torch))


def caller_stacklevel() -> int:
    """The `stacklevel` for a `warnings.warn` made by the function calling this one that points at the first
    line outside googlenet and torch: the user's code, whatever decorators and helpers lie between."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL_FOLDERS):
        frame = frame.f_back
        level += 1
    return level


def data_fit_messages(name: str, data_in_chans: int, image_side: int | None, preprocessing: Preprocessing) -> list[str]:
    """What `InputFitNotes` says, for a whole data set whose images have `data_in_chans` channels and a median
    shorter side of `image_side` pixels."""
    found = []
    in_chans = preprocessing.in_chans
    model = f"the model ({in_chans} channel{'s' if in_chans > 1 else ''}, " \
            f"{preprocessing.input_size}x{preprocessing.input_size} input)"
    if data_in_chans != in_chans:
        change = "colour -> grayscale" if in_chans == 1 else "grayscale -> RGB"
        found.append(f"{name}: every image converted {change} to fit {model}: the answers may mean little")
    factor = large_resize(image_side, preprocessing) if image_side else None
    if factor is not None:
        how = f"shrunk {factor:.1f}x" if factor > 1 else f"enlarged {1 / factor:.1f}x"
        found.append(f"{name}: images {how} (median shorter side {image_side} px) to fit {model}: "
                     "the answers may mean little")
    return found
