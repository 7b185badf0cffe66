"""What a model was trained for, beside its weights: the class names (index order) and the inference
preprocessing. One record, attached to a `GoogLeNet` as `model.metadata`; the weights layer writes it
into config.json and every export and reads it back in `from_pretrained`. `model.class_names` and
`model.preprocessing` read it. The same record as timm describes a model (`timm_pretrained_cfg`, and the
fields of config.json timm's `create_model("hf-hub:user/repo")` reads: `timm_config_fields`). No file is
read or written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from googlenet.models.config import GoogLeNetConfig
from googlenet.models.preprocessing import Preprocessing, default_preprocessing

_UNCHANGED: Any = object()


@dataclass(frozen=True)
class ModelMetadata:
    """The class names (index order) and the inference preprocessing of a model; either may be None."""

    class_names: tuple[str, ...] | None = None
    preprocessing: Preprocessing | None = None

    def __post_init__(self) -> None:
        if self.class_names is not None:
            if isinstance(self.class_names, str) or not all(isinstance(name, str) for name in self.class_names):
                raise ValueError(f"class_names must be a list of strings, got {self.class_names!r}")
            object.__setattr__(self, "class_names", tuple(self.class_names))
        if self.preprocessing is not None and not isinstance(self.preprocessing, Preprocessing):
            raise TypeError(f"preprocessing must be a googlenet Preprocessing, got {type(self.preprocessing).__name__}")

    def check_fits(self, num_classes: int, in_chans: int) -> None:
        """ValueError unless there is one name per class and one mean/std per input channel."""
        if self.class_names is not None and len(self.class_names) != num_classes:
            raise ValueError(f"class_names has {len(self.class_names)} names but the model has {num_classes} classes")
        if self.preprocessing is not None and self.preprocessing.in_chans != in_chans:
            raise ValueError(
                f"the preprocessing normalises {self.preprocessing.in_chans} channels (mean "
                f"{list(self.preprocessing.mean)}) but the model takes in_chans={in_chans}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The config.json fields: `class_names` (list or null) and `preprocessing` (object or null)."""
        return {
            "class_names": None if self.class_names is None else list(self.class_names),
            "preprocessing": None if self.preprocessing is None else self.preprocessing.to_dict(),
        }


def metadata_of(model: nn.Module) -> ModelMetadata:
    """The model's record (an empty one when none is attached)."""
    found = getattr(model, "metadata", None)
    return found if isinstance(found, ModelMetadata) else ModelMetadata()


def attach_metadata(
    model: nn.Module,
    metadata: ModelMetadata | None = None,
    *,
    class_names: Sequence[str] | None = _UNCHANGED,
    preprocessing: Preprocessing | None = _UNCHANGED,
) -> ModelMetadata:
    """Attach `metadata` to `model` (or change the named fields of its record), after checking that it
    fits the model's classes and input channels. Returns the record attached."""
    record = metadata_of(model) if metadata is None else metadata
    changes = {name: value for name, value in (("class_names", class_names), ("preprocessing", preprocessing))
               if value is not _UNCHANGED}
    record = replace(record, **changes)
    record.check_fits(model.num_classes, model.in_chans)
    model.metadata = record
    return record


def timm_architecture(flavour: str) -> str:
    """The name timm's registry knows a flavour by (`googlenet.timm_registry`): googlenet_bn, _paper, _torchvision."""
    return f"googlenet_{flavour}"


def timm_pretrained_cfg(config: GoogLeNetConfig, preprocessing: Preprocessing | None,
                        min_input_size: int) -> dict[str, Any]:
    """timm's description of a model's input and head (what `timm.data.resolve_data_config` reads): the
    preprocessing, or the default for the model's channels (`default_preprocessing`)."""
    if preprocessing is None:
        preprocessing = default_preprocessing(config.in_chans)
    side, smallest = preprocessing.input_size, min_input_size
    return {
        "architecture": timm_architecture(config.flavour), "num_classes": config.num_classes,
        "input_size": (config.in_chans, side, side), "min_input_size": (config.in_chans, smallest, smallest),
        "pool_size": (7, 7), "crop_pct": side / preprocessing.resize_size, "crop_mode": "center",
        "interpolation": preprocessing.interpolation, "mean": tuple(preprocessing.mean),
        "std": tuple(preprocessing.std), "first_conv": "conv1.conv", "classifier": "fc",
    }


def timm_config_fields(model: Any, metadata: ModelMetadata) -> dict[str, Any]:
    """The fields of a GoogLeNet's model directory config.json that timm's hf-hub loader reads, in the layout of
    timm's own `save_config_for_hf`: the registered name as `architecture`, `num_classes`, `num_features`,
    `label_names`, `model_args` (what `create_model` rebuilds the network with) and `pretrained_cfg`. A model
    pooled otherwise than by "avg" is refused: a model directory rebuilds Table 1's average pool."""
    if model.global_pool != "avg":
        raise ValueError(f"global_pool={model.global_pool!r} is not kept in a model directory, which rebuilds the "
                         "average pool: save the model after model.set_global_pool('avg')")
    config = model.config
    cfg = timm_pretrained_cfg(config, metadata.preprocessing, model.min_input_size)
    model_args: dict[str, Any] = {"in_chans": config.in_chans, "drop_rate": config.resolved().dropout}
    model_args.update({name: True for name in ("naive", "transform_input") if getattr(config, name)})
    fields = {"architecture": cfg.pop("architecture"), "num_classes": config.num_classes,
              "num_features": model.num_features, "global_pool": "avg"}
    if metadata.class_names is not None:
        fields["label_names"] = list(metadata.class_names)
    return {**fields, "model_args": model_args, "pretrained_cfg": cfg}
