"""GoogLeNet (Inception v1), built row by row from `googlenet.architecture.paper_table`.

Module names are torchvision's (`conv1`, `maxpool1`, ..., `inception5b`, `aux1`, `aux2`, `fc`), so a
torchvision state_dict loads into the `torchvision` flavour with `strict=True`.

Forward contract (the same eagerly and under `torch.export`):
- training mode with aux heads: `GoogLeNetOutputs(logits, aux1, aux2)`, aux1 read from 4a, aux2 from
  4d (the paper's order; torchvision's namedtuple lists them the other way round);
- eval mode, or a model built with `aux_logits=False`: the logits tensor.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from googlenet.models.table import (
    IMAGE_CHANNELS,
    Flavour,
    TableRow,
    aux_attach_points,
    get_flavour,
    paper_table,
)
from googlenet.models.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

# torchvision's ImageNet weights were trained (ported from Caffe) on inputs scaled to [-1, 1], but
# are documented as taking ImageNet-normalised inputs; its `transform_input=True` silently converts
# one into the other (pytorch/vision#4136). Here the conversion is a visible module.


class GoogLeNetOutputs(NamedTuple):
    """What a training-mode GoogLeNet with aux heads returns, in the paper's order."""

    logits: Tensor
    aux1: Tensor  # auxiliary classifier on inception4a
    aux2: Tensor  # auxiliary classifier on inception4d


@dataclass(frozen=True)
class GoogLeNetConfig:
    """Everything needed to build the same network again."""

    flavour: str = "bn"
    num_classes: int = 1000
    in_chans: int = IMAGE_CHANNELS
    aux_logits: bool = True
    dropout: float | None = None  # None: the flavour's rate (0.4 paper/bn, 0.2 torchvision)
    aux_dropout: float | None = None  # None: the flavour's rate (0.7)
    naive: bool = False  # naive Inception modules instead of reduced ones (the tutorial's ablation)
    transform_input: bool = False  # ImageNet-normalised input -> torchvision's [-1, 1] scale

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImageNetToUnitRange(nn.Module):
    """Maps ImageNet-normalised input to the (x - 0.5) / 0.5 scale torchvision's weights expect.

    Exactly torchvision's `transform_input=True`, made a module so that it shows in `print(model)`.
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
    """Inception v1. See `googlenet.googlenet` for the arguments and the module docstring for outputs."""

    def __init__(
        self,
        flavour: str = "bn",
        num_classes: int = 1000,
        in_chans: int = IMAGE_CHANNELS,
        aux_logits: bool = True,
        dropout: float | None = None,
        aux_dropout: float | None = None,
        naive: bool = False,
        transform_input: bool = False,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        spec = get_flavour(flavour)
        _check_count("num_classes", num_classes)
        _check_count("in_chans", in_chans)
        dropout = spec.dropout if dropout is None else dropout
        aux_dropout = spec.aux_dropout if aux_dropout is None else aux_dropout
        for name, rate in (("dropout", dropout), ("aux_dropout", aux_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        if transform_input and in_chans != 3:
            raise ValueError(f"transform_input needs 3 input channels (RGB), got in_chans={in_chans}")
        self.config = GoogLeNetConfig(
            flavour, num_classes, in_chans, aux_logits, dropout, aux_dropout, naive, transform_input
        )
        self.flavour: Flavour = spec
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.aux_logits = aux_logits
        # What the model was trained for, carried with it into saved model directories and exports:
        # the class names (index order) and the inference preprocessing (a presets.Preprocessing).
        self.class_names: list[str] | None = None
        self.preprocessing: Preprocessing | None = None

        self.input_transform: nn.Module = ImageNetToUnitRange() if transform_input else nn.Identity()
        trunk, channels_at = self._build_trunk(spec, in_chans, naive)
        self._trunk_names: tuple[str, ...] = tuple(name for name, _ in trunk)
        for name, module in trunk:
            self.add_module(name, module)

        # Attribute order is print order: put the aux heads where torchvision has them.
        self.aux1: AuxClassifier | None = None
        self.aux2: AuxClassifier | None = None
        if aux_logits:
            for aux_name, attach_point in zip(("aux1", "aux2"), aux_attach_points):
                head = AuxClassifier(
                    channels_at[attach_point], num_classes, aux_dropout, spec.batch_norm, spec.aux_pool
                )
                setattr(self, aux_name, head)
        self._aux_after = dict(zip(aux_attach_points, ("aux1", "aux2")))

        self.num_features = channels_at[self._trunk_names[-1]]
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # Table 1's 7x7/1 average pool at 224x224, any size else
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.num_features, num_classes)
        self.min_input_size = self._smallest_valid_input()

        if init_weights:
            _initialise(self, spec.init)

    @staticmethod
    def _build_trunk(spec: Flavour, in_chans: int, naive: bool) -> tuple[list[tuple[str, nn.Module]], dict[str, int]]:
        """Table 1 from the first convolution to 5b, as (name, module) pairs in forward order."""
        trunk: list[tuple[str, nn.Module]] = []
        channels_at: dict[str, int] = {}
        lrn_after = dict(spec.lrn_after)
        channels = in_chans
        for table_row in paper_table:
            if table_row.type in ("avg pool", "dropout", "linear"):
                break  # the head is built by __init__
            modules, channels = _modules_for_row(table_row, spec, channels, naive)
            for name, module in modules:
                trunk.append((name, module))
                channels_at[name] = channels
            if table_row.name in lrn_after:
                # Paper section 5 / BVLC prototxt: LRN(size 5, alpha 1e-4, beta 0.75).
                trunk.append((lrn_after[table_row.name], nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)))
        return trunk, channels_at

    def _smallest_valid_input(self) -> int:
        """The smallest square input side for which every layer of the trunk has an output."""
        for side in range(1, 1025):
            if _trunk_output_side(self, side) is not None:
                return side
        raise RuntimeError("no input size up to 1024 fits this network")

    def _check_input(self, x: Tensor) -> None:
        if torch.jit.is_tracing():
            return  # a trace fixes the input shape anyway; the checks would only add TracerWarnings
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
        for name in self._trunk_names:
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
        """New, freshly initialised classifiers (main and aux) for `num_classes` classes: fine-tuning."""
        _check_count("num_classes", num_classes)
        self.num_classes = num_classes
        self.config = GoogLeNetConfig(**{**self.config.to_dict(), "num_classes": num_classes})
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
        self.aux_logits = False
        self.config = GoogLeNetConfig(**{**self.config.to_dict(), "aux_logits": False})


def _check_count(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")


def _modules_for_row(
    table_row: TableRow, spec: Flavour, channels: int, naive: bool
) -> tuple[list[tuple[str, nn.Module]], int]:
    """The module(s) one Table 1 row becomes, and the channel count after them."""
    bn = spec.batch_norm
    if table_row.type == "convolution":
        if table_row.ch3x3_reduce:
            reduce_name, conv_name = table_row.module_names
            reduce = ConvBlock(channels, table_row.ch3x3_reduce, 1, batch_norm=bn)
            patch = table_row.patch_size or 3
            conv = ConvBlock(table_row.ch3x3_reduce, table_row.out_channels, patch, padding=patch // 2, batch_norm=bn)
            return [(reduce_name, reduce), (conv_name, conv)], table_row.out_channels
        patch, stride = table_row.patch_size or 1, table_row.stride or 1
        conv = ConvBlock(channels, table_row.out_channels, patch, stride=stride, padding=patch // 2, batch_norm=bn)
        return [(table_row.name, conv)], table_row.out_channels
    if table_row.type == "max pool":
        # Caffe rounds pooled sizes up; with no padding this gives Table 1's 112->56->28->14->7.
        kernel = spec.maxpool4_kernel_size if table_row.name == "maxpool4" else table_row.patch_size or 3
        return [(table_row.name, nn.MaxPool2d(kernel, stride=table_row.stride or 2, ceil_mode=True))], channels
    if table_row.type == "inception":
        module: InceptionModule | NaiveInceptionModule
        if naive:
            module = NaiveInceptionModule(
                channels, table_row.ch1x1, table_row.ch3x3, table_row.ch5x5, bn, spec.branch3_kernel_size
            )
        else:
            module = InceptionModule(channels, *table_row.inception_channels, bn, spec.branch3_kernel_size)
        return [(table_row.name, module)], module.out_channels
    raise ValueError(f"Table 1 row {table_row.name!r} has a type the trunk does not build: {table_row.type}")


def _pooled_side(side: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output side of a convolution or pooling window, by torch's own rule (ATen's pooling_output_shape)."""
    numerator = side + 2 * padding - kernel + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # floor division rounds toward -inf, as ATen's div_rtn
    # A ceil-mode window must start inside the input or its left padding.
    if ceil_mode and (out - 1) * stride >= side + padding:
        out -= 1
    return out


def _trunk_output_side(model: GoogLeNet, side: int) -> int | None:
    """The side of 5b's output for a side x side input, or None if some layer would get no output."""
    for name in model._trunk_names:
        for module in getattr(model, name).modules():
            if isinstance(module, (InceptionModule, NaiveInceptionModule)):
                break  # every branch keeps the spatial size
            if isinstance(module, nn.Conv2d):
                kernel = module.kernel_size[0]
                if side + 2 * module.padding[0] < kernel:  # type: ignore[operator]
                    return None  # torch refuses a kernel larger than the padded input
                side = _pooled_side(side, kernel, module.stride[0], module.padding[0], False)  # type: ignore[arg-type]
            elif isinstance(module, nn.MaxPool2d):
                side = _pooled_side(side, module.kernel_size, module.stride, module.padding, module.ceil_mode)  # type: ignore[arg-type]
            if side < 1:
                return None
    return side


def _initialise(root: nn.Module, scheme: str) -> None:
    """Weight initialisation per flavour: Kaiming (bn), Caffe's Xavier + 0.2 bias (paper), torchvision's."""
    for module in root.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if scheme == "torchvision":
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(module.weight)
            elif isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, 0.0, 0.01)
            if module.bias is not None:
                # BVLC GoogLeNet's prototxt starts every convolution bias at 0.2 (ReLU units stay alive).
                bias = 0.2 if scheme == "xavier" and isinstance(module, nn.Conv2d) else 0.0
                nn.init.constant_(module.bias, bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def googlenet(
    flavour: str = "bn", num_classes: int = 1000, in_chans: int = IMAGE_CHANNELS, aux_logits: bool = True, **options: Any
) -> GoogLeNet:
    """Build GoogLeNet.

    Args:
        flavour: "bn" (default; conv-BN-ReLU, true 5x5, trains from scratch), "paper" (the BVLC Caffe
            network: biased convolutions, LRN, no BatchNorm) or "torchvision" (exactly
            torchvision.models.googlenet, loads its state_dict with strict=True).
        num_classes: classifier outputs.
        in_chans: image channels (1 for grayscale).
        aux_logits: build the two auxiliary classifiers (used in training mode only).
        **options: `dropout`, `aux_dropout`, `naive` (naive Inception modules), `transform_input`
            (torchvision's ImageNet-normalisation conversion), `init_weights`.
    """
    return GoogLeNet(flavour=flavour, num_classes=num_classes, in_chans=in_chans, aux_logits=aux_logits, **options)
