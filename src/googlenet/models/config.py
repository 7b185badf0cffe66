"""`GoogLeNetConfig`: everything needed to build the same network again, checked when it is made."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from googlenet.models.table import IMAGE_CHANNELS, Flavour, get_flavour


def _check_count(name: str, value: object, smallest: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < smallest:
        kind = "a positive whole number" if smallest == 1 else f"a whole number >= {smallest}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


@dataclass(frozen=True)
class GoogLeNetConfig:
    """Everything needed to build the same network again; every value is checked when it is made.

    `num_classes=0` builds a headless network (timm's convention): the forward pass returns the pooled
    features [N, 1024], and there are no aux heads to classify with.
    """

    flavour: str = "bn"
    num_classes: int = 1000
    in_chans: int = IMAGE_CHANNELS
    aux_logits: bool = True
    dropout: float | None = None  # None: the flavour's rate (0.4 paper/bn, 0.2 torchvision)
    aux_dropout: float | None = None  # None: the flavour's rate (0.7); torchvision calls it dropout_aux
    naive: bool = False  # naive Inception modules instead of reduced ones (the paper's comparison, section 4)
    transform_input: bool = False  # ImageNet-normalised input -> torchvision's [-1, 1] scale

    def __post_init__(self) -> None:
        get_flavour(self.flavour)  # names the flavours on a typo
        _check_count("num_classes", self.num_classes, smallest=0)
        _check_count("in_chans", self.in_chans)
        for name in ("dropout", "aux_dropout"):
            rate = getattr(self, name)
            if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1):
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        if self.transform_input and self.in_chans != 3:
            raise ValueError(f"transform_input needs 3 input channels (RGB), got in_chans={self.in_chans}")
        if self.num_classes == 0 and self.aux_logits:
            raise ValueError("num_classes=0 builds a headless network, which has no aux classifiers: "
                             "pass aux_logits=False")
        if self.naive and self.flavour == "torchvision":
            raise ValueError("the torchvision flavour is exactly torchvision's network, which has no naive "
                             "Inception modules: use naive=True with the 'bn' or 'paper' flavour")

    @property
    def spec(self) -> Flavour:
        return get_flavour(self.flavour)

    def resolved(self) -> GoogLeNetConfig:
        """The same config with the flavour's dropout rates written in where they were left to it."""
        spec = self.spec
        return replace(
            self,
            dropout=spec.dropout if self.dropout is None else self.dropout,
            aux_dropout=spec.aux_dropout if self.aux_dropout is None else self.aux_dropout,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
