"""One image as a model reads it, and the picture of what it reads (for drawing heatmaps over)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from googlenet.models.network import GoogLeNet

# A file path, a file's bytes, a PIL image, or an image already preprocessed as the model reads it [C, S, S].
ImageLike = str | os.PathLike | bytes | Image.Image | Tensor


@dataclass
class ModelInput:
    batch: Tensor  # [1, C, S, S]: normalised, as the model reads it
    view: np.ndarray  # [S, S, 3] uint8: the same pixels before normalisation (grayscale repeated to RGB)
    notes: Any = None  # googlenet.evaluation.input_fit.InputFitNotes: converted or resized to fit the model


def as_model(model: GoogLeNet | str | os.PathLike) -> GoogLeNet:
    """`model` itself, or the model a model directory, a training run directory or "hf-hub:user/repo" holds."""
    if isinstance(model, GoogLeNet):
        return model
    if isinstance(model, (str, os.PathLike)):
        from googlenet.evaluation.model_source import load_model

        return load_model(model)
    raise TypeError(f"expected a googlenet.GoogLeNet or a model directory, got {type(model).__name__}")


def model_input(model: Any, image: ImageLike) -> ModelInput:
    """`image` (a file path, the bytes of a file, or a PIL image) through the model's eval preprocessing;
    a tensor is taken as already preprocessed.

    The one open-and-convert of `googlenet.data.images` decodes files; a file that is not a readable
    image raises a ValueError naming it."""
    from googlenet.data.images import read_image, to_model_channels
    from googlenet.models.preprocessing import preprocessing_of
    from googlenet.data.transforms import eval_preset
    from googlenet.evaluation.input_fit import InputFitNotes

    preprocessing = preprocessing_of(model)
    if isinstance(image, Tensor):
        if image.dim() != 3 or image.shape[0] != model.in_chans:
            raise ValueError(f"a preprocessed image must be [{model.in_chans}, H, W], got {tuple(image.shape)}")
        return ModelInput(image.unsqueeze(0), view_of(image, preprocessing.mean, preprocessing.std))
    shown = "the image" if isinstance(image, (bytes, Image.Image)) else str(image)
    if isinstance(image, Image.Image):
        picture = image
    else:
        try:
            picture = read_image(image)
        except (OSError, SyntaxError, ValueError) as error:  # PIL's errors for damaged or foreign files
            raise ValueError(f"{shown} is not a readable image ({error})") from None
    notes = InputFitNotes(preprocessing, model.in_chans)
    notes.note(shown, picture.mode, picture.size)
    batch = eval_preset(preprocessing)(to_model_channels(picture, model.in_chans)).unsqueeze(0)
    return ModelInput(batch, view_of(batch[0], preprocessing.mean, preprocessing.std), notes)


def view_of(image: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """A normalised [C, H, W] image back as [H, W, 3] uint8 pixels."""
    scale = torch.tensor(std).view(-1, 1, 1)
    shift = torch.tensor(mean).view(-1, 1, 1)
    pixels = (image.detach().float().cpu() * scale + shift).clamp(0, 1).mul(255).round().to(torch.uint8)
    if pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1)
    return pixels.permute(1, 2, 0).contiguous().numpy()
