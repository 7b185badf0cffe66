"""GoogLeNet (Inception v1), built row by row from `googlenet.models.table.paper_table`.

The constructor takes a `GoogLeNetConfig` (everything needed to build the same network again);
`googlenet(flavour, **options)` builds the config and calls it, and model directories rebuild through
the config too. Module names are torchvision's (`conv1`, `maxpool1`, ..., `inception5b`, `aux1`,
`aux2`, `fc`), so a torchvision state_dict loads into the `torchvision` flavour with `strict=True`.

Forward contract (the same eagerly and under `torch.export`):
- training mode with aux heads: `GoogLeNetOutputs(logits, aux1, aux2)`, aux1 read from 4a, aux2 from
  4d (the paper's order; torchvision's namedtuple lists them the other way round);
- eval mode, or a model built with `aux_logits=False`: the logits tensor.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from googlenet.models.allocation import allocate_uninitialised
from googlenet.models.layers import AuxClassifier
from googlenet.models.metadata import ModelMetadata, attach_metadata
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.models.table import IMAGE_CHANNELS, Flavour, aux_attach_points, get_flavour
from googlenet.models.trunk import build_trunk


class GoogLeNetOutputs(NamedTuple):
    """What a training-mode GoogLeNet with aux heads returns, in the paper's order."""

    logits: Tensor
    aux1: Tensor  # auxiliary classifier on inception4a
    aux2: Tensor  # auxiliary classifier on inception4d


def _check_count(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


@dataclass(frozen=True)
class GoogLeNetConfig:
    """Everything needed to build the same network again; every value is checked when it is made."""

    flavour: str = "bn"
    num_classes: int = 1000
    in_chans: int = IMAGE_CHANNELS
    aux_logits: bool = True
    dropout: float | None = None  # None: the flavour's rate (0.4 paper/bn, 0.2 torchvision)
    aux_dropout: float | None = None  # None: the flavour's rate (0.7)
    naive: bool = False  # naive Inception modules instead of reduced ones (the tutorial's ablation)
    transform_input: bool = False  # ImageNet-normalised input -> torchvision's [-1, 1] scale

    def __post_init__(self) -> None:
        get_flavour(self.flavour)  # names the flavours on a typo
        _check_count("num_classes", self.num_classes)
        _check_count("in_chans", self.in_chans)
        for name in ("dropout", "aux_dropout"):
            rate = getattr(self, name)
            if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1):
                raise ValueError(f"{name} must be in [0, 1), got {rate!r}")
        if self.transform_input and self.in_chans != 3:
            raise ValueError(f"transform_input needs 3 input channels (RGB), got in_chans={self.in_chans}")

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


class ImageNetToUnitRange(nn.Module):
    """Maps ImageNet-normalised input to the (x - 0.5) / 0.5 scale torchvision's weights expect.

    torchvision's ImageNet weights were trained (ported from Caffe) on inputs scaled to [-1, 1] but are
    documented as taking ImageNet-normalised inputs; its `transform_input=True` silently converts one
    into the other (pytorch/vision#4136). Here the conversion is a module, so it shows in `print(model)`.
    """

    def __init__(self) -> None:
        super().__init__()
        # torchvision's arithmetic, channel by channel with Python (double-precision) constants, so the
        # result is bit-identical to its `_transform_input`; constants rounded to float32 first were off
        # by up to 1.3e-5. Plain numbers, not buffers: nothing to allocate or move between devices.
        self.scale_and_shift = tuple((std / 0.5, (mean - 0.5) / 0.5) for mean, std in zip(IMAGENET_MEAN, IMAGENET_STD))

    def forward(self, x: Tensor) -> Tensor:
        channels = [x[:, index : index + 1] * scale + shift for index, (scale, shift) in enumerate(self.scale_and_shift)]
        return torch.cat(channels, 1)


class GoogLeNet(nn.Module):
    """Inception v1 built from a `GoogLeNetConfig`. See `googlenet.googlenet` for the options and the
    module docstring for the outputs.

    What the model was trained for (class names, inference preprocessing) travels in `metadata`, a
    `ModelMetadata` record (`googlenet.models.metadata`); `class_names` and `preprocessing` read it.

    `init_weights=False` leaves every layer as torch initialises it (torchvision's meaning);
    `uninitialised_googlenet(config)` builds one whose weights are set next without computing any.
    """

    def __init__(self, config: GoogLeNetConfig | None = None, *, init_weights: bool = True, **options: object) -> None:
        super().__init__()
        if not isinstance(config, GoogLeNetConfig) or options:
            raise TypeError(_constructor_help(config, options))
        self.config = config.resolved()
        spec, config = self.config.spec, self.config
        self.metadata: ModelMetadata | None = None
        self._min_input_size: int | None = None  # None: measured on first use (see min_input_size)

        # With init_weights, _initialise sets every parameter and BatchNorm statistic: the layers are
        # built on the meta device and allocated uninitialised, so torch's own initialisation (most of
        # construction time) is never computed.
        device = torch.get_default_device()
        with torch.device("meta") if init_weights else contextlib.nullcontext():
            self.input_transform: nn.Module = ImageNetToUnitRange() if config.transform_input else nn.Identity()
            trunk, channels_at = build_trunk(spec, config.in_chans, config.naive)
            self._stage_names: tuple[str, ...] = tuple(name for name, _ in trunk)
            for name, module in trunk:
                self.add_module(name, module)

            # Attribute order is print order: put the aux heads where torchvision has them.
            self.aux1: AuxClassifier | None = None
            self.aux2: AuxClassifier | None = None
            if config.aux_logits:
                for aux_name, attach_point in zip(("aux1", "aux2"), aux_attach_points):
                    head = AuxClassifier(channels_at[attach_point], config.num_classes, config.aux_dropout,
                                         spec.batch_norm, spec.aux_pool)
                    setattr(self, aux_name, head)
            self._aux_after = dict(zip(aux_attach_points, ("aux1", "aux2")))

            self.num_features = channels_at[self._stage_names[-1]]
            self.avgpool = nn.AdaptiveAvgPool2d(1)  # Table 1's 7x7/1 average pool at 224x224, any size else
            self.dropout = nn.Dropout(p=config.dropout)
            self.fc = nn.Linear(self.num_features, config.num_classes)

        if init_weights:
            allocate_uninitialised(self, device)
            _initialise(self, spec.init)

    # -- what the config says, read-only ----------------------------------------------------------

    @property
    def flavour(self) -> Flavour:
        return self.config.spec

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def in_chans(self) -> int:
        return self.config.in_chans

    @property
    def aux_logits(self) -> bool:
        return self.config.aux_logits

    # -- what the model was trained for: its metadata record ---------------------------------------

    @property
    def class_names(self) -> list[str] | None:
        names = getattr(self.metadata, "class_names", None)
        return None if names is None else list(names)

    @class_names.setter
    def class_names(self, names: list[str] | None) -> None:
        attach_metadata(self, class_names=names)

    @property
    def preprocessing(self) -> Preprocessing | None:
        """The inference preprocessing (a `googlenet.models.preprocessing.Preprocessing`), or None."""
        return getattr(self.metadata, "preprocessing", None)

    @preprocessing.setter
    def preprocessing(self, preprocessing: Preprocessing | None) -> None:
        attach_metadata(self, preprocessing=preprocessing)

    # -- the network ----------------------------------------------------------------------------------

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The trunk in forward order, conv1 ... inception5b (with lrn1/lrn2 in the paper flavour)."""
        return [(name, getattr(self, name)) for name in self._stage_names]

    @property
    def min_input_size(self) -> int:
        """The smallest square input side every layer has an output for (15 torchvision, 31 paper/bn),
        measured by forward passes of an empty batch (`googlenet.models.shapes`)."""
        if self._min_input_size is None:
            from googlenet.models.shapes import smallest_input_side

            self._min_input_size = smallest_input_side(self.config.flavour, self.config.naive)
        return self._min_input_size

    @min_input_size.setter
    def min_input_size(self, side: int) -> None:
        self._min_input_size = side

    def _check_input(self, x: Tensor) -> None:
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return  # a trace or an export fixes the input's shape anyway
        if x.dim() != 4:
            raise ValueError(f"GoogLeNet expects a 4-d batch [N, C, H, W], got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"input has {x.shape[1]} channels but the model was built with in_chans={self.in_chans} "
                f"(input shape {tuple(x.shape)}); build it with in_chans={x.shape[1]} or convert the images"
            )
        if x.shape[2] < self.min_input_size or x.shape[3] < self.min_input_size:
            raise ValueError(
                f"input {x.shape[2]}x{x.shape[3]} is smaller than the minimum "
                f"{self.min_input_size}x{self.min_input_size} for the {self.flavour.name!r} flavour"
            )

    def _forward_trunk(self, x: Tensor, with_aux: bool) -> tuple[Tensor, list[Tensor]]:
        self._check_input(x)
        x = self.input_transform(x)
        aux_outputs: list[Tensor] = []
        for name in self._stage_names:
            x = getattr(self, name)(x)
            if with_aux and name in self._aux_after:
                aux_outputs.append(getattr(self, self._aux_after[name])(x))
        return torch.flatten(self.avgpool(x), 1), aux_outputs

    def forward_features(self, x: Tensor) -> Tensor:
        """The pooled features before dropout and the classifier: [N, num_features] (1024)."""
        return self._forward_trunk(x, with_aux=False)[0]

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """Dropout and the classifier on `forward_features`' output (or the features, with pre_logits)."""
        features = self.dropout(features)
        return features if pre_logits else self.fc(features)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        with_aux = self.training and self.aux1 is not None
        features, aux_outputs = self._forward_trunk(x, with_aux)
        logits = self.forward_head(features)
        if with_aux:
            return GoogLeNetOutputs(logits, aux_outputs[0], aux_outputs[1])
        return logits

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """New, freshly initialised classifiers (main and aux) for `num_classes` classes: fine-tuning.
        The old class names no longer apply and are dropped; the preprocessing stays."""
        self.config = replace(self.config, num_classes=num_classes)  # checks the count
        if getattr(self.metadata, "class_names", None) is not None:
            self.metadata = replace(self.metadata, class_names=None)
        # The new layers take the old head's device and dtype (a bf16 model stays bf16).
        like = {"device": self.fc.weight.device, "dtype": self.fc.weight.dtype}
        self.fc = nn.Linear(self.num_features, num_classes, **like)
        heads = [self.fc]
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes, **like)
                heads.append(aux.fc2)
        for head in heads:
            _initialise(head, self.flavour.init)

    def drop_aux_heads(self) -> None:
        """Remove the auxiliary classifiers (the paper discards them at inference)."""
        self.aux1 = None
        self.aux2 = None
        self.config = replace(self.config, aux_logits=False)


def _constructor_help(config: object, options: dict[str, object]) -> str:
    """Why GoogLeNet(...) refused, and how to ask for the network meant."""
    given = f"the options {sorted(options)}" if options else "no config" if config is None else repr(config)
    return (
        f"GoogLeNet takes a GoogLeNetConfig (and init_weights), got {given}. torchvision's network with "
        "torchvision's keyword options is googlenet.googlenet('torchvision', num_classes=..., aux_logits=..., "
        "transform_input=..., init_weights=...); another flavour is googlenet.googlenet('bn' or 'paper', ...) "
        "or GoogLeNet(GoogLeNetConfig(flavour, ...))"
    )


def _config_from_options(options: dict[str, Any], caller: str) -> GoogLeNetConfig:
    known = [field.name for field in fields(GoogLeNetConfig)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"{caller}() got unknown options {unknown}; known: {known} and init_weights")
    return GoogLeNetConfig(**options)


def _initialise(root: nn.Module, scheme: str) -> None:
    """Weight initialisation per flavour: Kaiming (bn), Caffe's Xavier + 0.2 bias (paper), torchvision's."""
    for name, module in root.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            if scheme == "torchvision":
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif scheme == "xavier":
                # Caffe's XavierFiller as BVLC's prototxt uses it (variance_norm FAN_IN, its default):
                # U(-sqrt(3 / fan_in), sqrt(3 / fan_in)); torch's xavier_uniform_ averages fan_in and fan_out.
                bound = (3.0 / fan_in) ** 0.5
                nn.init.uniform_(module.weight, -bound, bound)
            elif isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, 0.0, 0.01)
            if module.bias is not None and scheme == "torchvision":
                # torchvision's googlenet leaves nn.Linear's own bias initialisation: U(+-1/sqrt(fan_in)).
                nn.init.uniform_(module.bias, -(fan_in**-0.5), fan_in**-0.5)
            elif module.bias is not None:
                # BVLC GoogLeNet's prototxt starts every convolution bias, and the aux heads' 1024-unit layers'
                # (fc1, before a ReLU), at 0.2: ReLU units stay alive. The classifiers start at 0.
                hidden = isinstance(module, nn.Conv2d) or name.rsplit(".", 1)[-1] == "fc1"
                nn.init.constant_(module.bias, 0.2 if scheme == "xavier" and hidden else 0.0)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()


def googlenet(
    flavour: str = "bn", num_classes: int = 1000, in_chans: int = IMAGE_CHANNELS, aux_logits: bool = True, **options: Any
) -> GoogLeNet:
    """Build GoogLeNet: makes the `GoogLeNetConfig` and calls `GoogLeNet(config)`.

    Args:
        flavour: "bn" (default; conv-BN-ReLU, true 5x5, trains from scratch), "paper" (the BVLC Caffe
            network: biased convolutions, LRN, no BatchNorm) or "torchvision" (exactly
            torchvision.models.googlenet, loads its state_dict with strict=True).
        num_classes: classifier outputs.
        in_chans: image channels (1 for grayscale).
        aux_logits: build the two auxiliary classifiers (used in training mode only).
        **options: `dropout`, `aux_dropout`, `naive` (naive Inception modules), `transform_input`
            (torchvision's ImageNet-normalisation conversion), `init_weights` (False: leave the weights
            as torch made them, for loading a state_dict right after).
    """
    init_weights = options.pop("init_weights", True)
    config = _config_from_options(
        {"flavour": flavour, "num_classes": num_classes, "in_chans": in_chans, "aux_logits": aux_logits, **options},
        "googlenet",
    )
    return GoogLeNet(config, init_weights=init_weights)


def uninitialised_googlenet(config: GoogLeNetConfig, device: torch.device | str | None = None) -> GoogLeNet:
    """`GoogLeNet(config)` with its parameters and buffers allocated on `device` but never set
    (torch.empty): for a network whose every weight is loaded next (`load_state_dict(strict=True)`)."""
    with torch.device("meta"):
        model = GoogLeNet(config, init_weights=False)
    allocate_uninitialised(model, device)
    return model
