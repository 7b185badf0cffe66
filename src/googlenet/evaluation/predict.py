"""Prediction on images: the top-k classes of each input, one entry per input, failures included.

    report = predict("runs/fashion-mnist", ["shirt.png", "photos/"], top_k=3)
    for entry in report.predictions:
        print(entry.path, entry.error or entry.top_k[0]["class_name"])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from googlenet.evaluation.model_source import ModelSource, resolve_model
from googlenet.evaluation.placement import in_eval_mode, placement

__all__ = ["Prediction", "PredictionReport", "check_top_k", "predict"]

DEFAULT_TOP_K = 5


@dataclass
class Prediction:
    """One input's answer: its top-k classes, or the error that kept it from having one."""

    path: str  # the file, or "<image N>" for an image given as an object
    top_k: list[dict[str, Any]]  # [{"class_index", "class_name", "probability"}], best first; [] on error
    error: str | None = None  # why there is no answer ("not an image", "does not exist", ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PredictionReport:
    """`predict`'s result: the model it used and one Prediction per input, in input order."""

    model: str | None  # the model directory (None for a model object given without its source)
    weights: str | None  # "raw" or "ema", where the run recorded it
    epoch: int | None  # where the run recorded it
    predictions: list[Prediction]
    warnings: list[str] = field(default_factory=list)  # e.g. images converted to the model's channels

    @property
    def failed(self) -> list[Prediction]:
        return [entry for entry in self.predictions if entry.error is not None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_top_k(top_k: int | None, classes: int) -> int:
    """`top_k` if it is from 1 to `classes` (a ValueError saying so otherwise); None: 5, or `classes` if fewer."""
    if top_k is None:
        return min(DEFAULT_TOP_K, classes)
    if not 1 <= top_k <= classes:
        raise ValueError(f"top_k must be from 1 to {classes} (this model has {classes} classes), got {top_k}")
    return top_k


def expand_inputs(inputs: Any) -> list[tuple[str, Any]]:
    """(name, what to open or an error message) per input: a directory becomes its visible files (sorted, not
    recursive; any file that is not a readable image is a failed entry, named), a missing path an error."""
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray)) or not isinstance(inputs, Sequence):
        inputs = [inputs]
    entries: list[tuple[str, Any]] = []
    for index, item in enumerate(inputs):
        if not isinstance(item, (str, os.PathLike)):
            entries.append((f"<image {index}>", item))  # a PIL image, or an image file's bytes
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(child for child in path.iterdir() if child.is_file() and not child.name.startswith("."))
            entries += [(str(child), child) for child in files]
            if not files:
                entries.append((str(path), ValueError("the directory holds no files")))
        elif path.is_file():
            entries.append((str(path), path))
        else:
            entries.append((str(path), FileNotFoundError("does not exist")))
    return entries


@torch.no_grad()
def predict(
    model_or_dir: Any,
    inputs: Any,
    top_k: int | None = None,
    *,
    batch_size: int = 32,
    source: ModelSource | None = None,
) -> PredictionReport:
    """The top-k classes of each input.

    model_or_dir: a model directory, a training run directory, or a model object (a GoogLeNet, or an
        optimized one carrying `preprocessing` and `class_names`; `source` names where it came from).
    inputs: image files, directories of images, PIL images or image files' bytes (one, or a list).
    Every input gets one entry, in order; an unreadable file or a missing path gets its `error`, and the
    others are still predicted. top_k: from 1 to the model's number of classes (the server's limits too);
    None: 5, or every class of a model with fewer. Images converted to the model's channel mode or resized by a large factor
    are noted once in `warnings` (and as an InputFitWarning). A model object runs where its weights are, in
    their dtype, and comes back in the mode it was given in.
    """
    from googlenet.models.preprocessing import preprocessing_of
    from googlenet.data.transforms import eval_preset
    from googlenet.evaluation.input_fit import InputFitNotes

    model, source = resolve_model(model_or_dir, source)
    preprocessing = preprocessing_of(model)
    names = getattr(model, "class_names", None) or [str(index) for index in range(model.num_classes)]
    top_k = check_top_k(top_k, len(names))
    notes = InputFitNotes(preprocessing, preprocessing.in_chans)
    transform = eval_preset(preprocessing)
    entries = expand_inputs(inputs)
    predictions: list[Prediction] = []
    with in_eval_mode(model):
        for start in range(0, len(entries), batch_size):
            predictions += _predict_batch(model, entries[start:start + batch_size], transform, notes, names, top_k)
    found = notes.warn()
    if source is None:
        return PredictionReport(None, None, None, predictions, found)
    return PredictionReport(str(source.model_dir), source.weights, source.epoch, predictions, found)


def _predict_batch(
    model: Any, entries: list[tuple[str, Any]], transform: Any, notes: Any, names: list[str], top_k: int,
) -> list[Prediction]:
    from PIL import Image

    from googlenet.data.images import read_image, to_model_channels

    answers: dict[int, Prediction] = {}
    tensors, kept = [], []
    for position, (name, item) in enumerate(entries):
        if isinstance(item, Exception):
            answers[position] = Prediction(name, [], str(item))
            continue
        try:
            image = item if isinstance(item, Image.Image) else read_image(item)
            notes.note(name, image.mode, image.size)
            tensors.append(transform(to_model_channels(image, notes.in_chans)))
            kept.append(position)
        except Image.UnidentifiedImageError:
            answers[position] = Prediction(name, [], "not an image")
        except Exception as error:  # any decoder failure: PIL raises OSError, SyntaxError, ... by format
            answers[position] = Prediction(name, [], f"cannot read the image ({error})")
    if tensors:
        batch = torch.stack(tensors).to(*placement(model))
        probabilities = torch.softmax(model(batch).float(), dim=1)
        values, indices = probabilities.topk(top_k, dim=1)
        for position, row_values, row_indices in zip(kept, values.tolist(), indices.tolist()):
            top = [{"class_index": index, "class_name": names[index], "probability": round(value, 6)}
                   for value, index in zip(row_values, row_indices)]
            answers[position] = Prediction(entries[position][0], top)
    return [answers[position] for position in range(len(entries))]
