"""A model's evaluation transform as an object, from wherever the model is: `transforms_for(source)`.

torchvision's `weights.transforms()` and timm's `create_transform(**resolve_data_config(model=m))` for this
project's models: the `Preprocessing` a model or its directory records (config.json), as the transform
`googlenet evaluate` and `googlenet predict` apply (`Preprocessing.transforms()`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from googlenet.models.network import GoogLeNet
from googlenet.weights.model_dir import read_model_config
from googlenet.weights.sources import CONFIG_NAME, resolve_model_directory

if TYPE_CHECKING:
    from torchvision.transforms import v2


def transforms_for(source: GoogLeNet | str | Path, *, revision: str | None = None) -> v2.Compose:
    """The evaluation transform of a model, a model directory, a training run directory or a Hugging Face Hub
    repository ("hf-hub:user/repo", at `revision`): PIL image or uint8 tensor in the model's channel mode -> resize the
    shorter side, centre crop, scale to [0, 1], normalise. A ValueError when no preprocessing is recorded."""
    if isinstance(source, GoogLeNet):
        preprocessing, where = source.preprocessing, "the model"
    else:
        directory = resolve_model_directory(source, revision)
        preprocessing, where = read_model_config(directory / CONFIG_NAME)[1].preprocessing, str(directory)
    if preprocessing is None:
        raise ValueError(f"{where} records no preprocessing (config.json's 'preprocessing' is null): give the "
                         "model one (model.preprocessing = Preprocessing(...)) and save it again")
    return preprocessing.transforms()
