"""Prediction on image files: top-k classes with probabilities and human-readable names."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from googlenet.models.network import GoogLeNet

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass
class Prediction:
    path: str
    top_k: list[dict[str, Any]]  # [{"class_index", "class_name", "probability"}], best first

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_model(path: str | Path) -> GoogLeNet:
    """A model from a saved model directory, or from a training run directory (its best model)."""
    from googlenet.weights.model_dir import from_pretrained

    directory = Path(path)
    if not directory.exists():
        raise FileNotFoundError(f"{directory} does not exist: give a model directory or a training run directory")
    if (directory / "config.json").exists() and (directory / "model.safetensors").exists():
        return from_pretrained(directory)
    if (directory / "model" / "model.safetensors").exists():
        return from_pretrained(directory / "model")
    raise ValueError(
        f"{directory} is neither a model directory (config.json + model.safetensors) nor a training run "
        "directory with a model/ inside (a run writes it after its first epoch)"
    )


def collect_images(inputs: list[str | Path]) -> list[Path]:
    """Files as given, and the image files inside any directory given (sorted, not recursive)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise ValueError(f"{item} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item} does not exist")
    return files


@torch.no_grad()
def predict(model: GoogLeNet, paths: list[Path], top_k: int = 5, batch_size: int = 32) -> tuple[list[Prediction], list[str]]:
    """Top-k predictions for each readable image; unreadable files are returned as error messages."""
    from PIL import Image, UnidentifiedImageError

    from googlenet.data.transforms import Preprocessing, eval_preset, to_model_channels

    if top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {top_k}")
    preprocessing = model.preprocessing or Preprocessing()
    transform = eval_preset(preprocessing)
    names = model.class_names or [str(index) for index in range(model.num_classes)]
    k = min(top_k, model.num_classes)
    model.eval()
    predictions: list[Prediction] = []
    errors: list[str] = []
    for start in range(0, len(paths), batch_size):
        batch, kept = [], []
        for path in paths[start : start + batch_size]:
            try:
                with Image.open(path) as image:
                    image.load()
                    batch.append(transform(to_model_channels(image, model.in_chans)))
                kept.append(path)
            except (UnidentifiedImageError, OSError, ValueError) as error:
                errors.append(f"{path}: cannot read image ({error})")
        if not batch:
            continue
        probabilities = torch.softmax(model(torch.stack(batch)).float(), dim=1)
        values, indices = probabilities.topk(k, dim=1)
        for path, row_values, row_indices in zip(kept, values.tolist(), indices.tolist()):
            top = [
                {"class_index": index, "class_name": names[index], "probability": round(value, 6)}
                for value, index in zip(row_values, row_indices)
            ]
            predictions.append(Prediction(str(path), top))
    return predictions, errors
