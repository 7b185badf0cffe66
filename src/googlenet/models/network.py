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
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from googlenet.models.layers import AuxClassifier
from googlenet.models.table import IMAGE_CHANNELS, Flavour, aux_attach_points, get_flavour
from googlenet.models.trunk import build_trunk, default_init_skipped

# ImageNet's per-channel statistics (torchvision's), the normalisation of ImageNet-trained weights.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        # Computed in float64 and rounded once, torchvision's constants come out bit-identical
        # (Python computes them in double precision); float32 arithmetic was off by up to 1.3e-5.
        std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
        self.register_buffer("scale", (std / 0.5).float(), persistent=False)
        self.register_buffer("shift", ((mean - 0.5) / 0.5).float(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift


class GoogLeNet(nn.Module):
    """Inception v1 built from a `GoogLeNetConfig`. See `googlenet.googlenet` for the options and the
    module docstring for the outputs.

    What the model was trained for (class names, inference preprocessing) travels in `metadata`, a
    record the weights layer attaches (`googlenet.weights.metadata`); `class_names` and
    `preprocessing` read it.
    """

    def __init__(self, config: GoogLeNetConfig | None = None, *, init_weights: bool = True, **legacy: Any) -> None:
        super().__init__()
        if not isinstance(config, GoogLeNetConfig):
            config = _legacy_config(config, legacy)
        elif legacy:
            raise TypeError(f"GoogLeNet takes a GoogLeNetConfig and init_weights, not {sorted(legacy)}")
        self.config = config.resolved()
        spec, config = self.config.spec, self.config
        self.metadata: Any = None  # a googlenet.weights.metadata.ModelMetadata, or None
        self._min_input_size: int | None = None  # None: measured on first use (see min_input_size)

        # With init_weights, _initialise overwrites every convolution's and linear layer's weights and
        # biases: their own default initialisation is skipped (most of construction time).
        with default_init_skipped() if init_weights else contextlib.nullcontext():
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

    # -- what the model was trained for: the weights layer's metadata record -----------------------

    @property
    def class_names(self) -> list[str] | None:
        names = getattr(self.metadata, "class_names", None)
        return None if names is None else list(names)

    @class_names.setter
    def class_names(self, names: list[str] | None) -> None:
        from googlenet.weights.metadata import attach_metadata

        attach_metadata(self, class_names=names)

    @property
    def preprocessing(self) -> Any:
        """The inference preprocessing (a `googlenet.data.transforms.Preprocessing`), or None."""
        return getattr(self.metadata, "preprocessing", None)

    @preprocessing.setter
    def preprocessing(self, preprocessing: Any) -> None:
        from googlenet.weights.metadata import attach_metadata

        attach_metadata(self, preprocessing=preprocessing)

    # -- Hugging Face's spelling (PyTorchModelHubMixin): the weights layer owns the file format -----

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | Path, *, map_location: str | torch.device = "cpu"
    ) -> GoogLeNet:
        """The model a model directory (or a run directory's `model/`) describes, in eval mode."""
        from googlenet.weights.model_dir import from_pretrained

        return from_pretrained(pretrained_model_name_or_path, map_location=map_location)

    def save_pretrained(
        self, save_directory: str | Path, *, class_names: list[str] | None = None, preprocessing: Any = None
    ) -> Path:
        """Write this model as a model directory (model.safetensors + config.json); returns its path."""
        from googlenet.weights.model_dir import save_pretrained

        return save_pretrained(self, save_directory, class_names=class_names, preprocessing=preprocessing)

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
        device = self.fc.weight.device
        self.fc = nn.Linear(self.num_features, num_classes, device=device)
        heads = [self.fc]
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes, device=device)
                heads.append(aux.fc2)
        for head in heads:
            _initialise(head, self.flavour.init)

    def drop_aux_heads(self) -> None:
        """Remove the auxiliary classifiers (the paper discards them at inference)."""
        self.aux1 = None
        self.aux2 = None
        self.config = replace(self.config, aux_logits=False)


def _legacy_config(flavour: Any, options: dict[str, Any]) -> GoogLeNetConfig:
    """GoogLeNet("bn", num_classes=...) as before the config was the constructor: still built, with a warning."""
    warnings.warn(
        "GoogLeNet(flavour, **options) is deprecated: pass a GoogLeNetConfig, or call googlenet(flavour, **options)",
        DeprecationWarning,
        stacklevel=3,
    )
    if flavour is not None:
        options = {"flavour": flavour, **options}
    return _config_from_options(options, "GoogLeNet")


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
