"""What a model was trained for, beside its weights: the class names (index order) and the inference
preprocessing. One record, attached to a `GoogLeNet` as `model.metadata`; the weights layer writes it
into config.json and every export and reads it back in `from_pretrained`. `model.class_names` and
`model.preprocessing` read it. No file is read or written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from googlenet.models.preprocessing import Preprocessing

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
