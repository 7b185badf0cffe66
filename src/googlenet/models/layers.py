"""The building blocks of Inception v1: the convolution unit, the two Inception modules, the aux head,
and torchvision's input conversion.

Submodule names follow torchvision's (`branch1`..`branch4`, `conv`/`bn`, `fc1`/`fc2`) so that a
torchvision GoogLeNet state_dict loads into the `torchvision` flavour without any renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD
from googlenet.models.table import AUX_CONV_CHANNELS, AUX_HIDDEN_FEATURES, AUX_POOLED_SIZE

# Inception v2's paper and torchvision both use eps=1e-3 for these BatchNorms, not torch's 1e-5.
BATCH_NORM_EPS = 1e-3
# The smallest map side the paper's 5x5/3 aux pool turns into 4 or more: (14 - 5) // 3 + 1 = 4.
PAPER_POOL_MIN_SIDE = 14


def _require_positive(**channels: int) -> None:
    for name, value in channels.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive whole number of channels, got {value!r}")


class ConvBlock(nn.Module):
    """Convolution -> optional BatchNorm -> ReLU.

    With `batch_norm=True` the convolution has no bias (the BatchNorm shift replaces it); this is the
    the paper's unit and torchvision's `BasicConv2d`. With `batch_norm=False` it is the paper's biased
    convolution followed by ReLU, and `bn` is an identity so the parameter names stay the same.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        _require_positive(in_channels=in_channels, out_channels=out_channels)
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=not batch_norm
        )
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=BATCH_NORM_EPS) if batch_norm else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class NaiveInceptionModule(nn.Module):
    """The naive Inception module (paper figure 2a).

    1x1, 3x3 and 5x5 convolutions and a 3x3/1 max pool run side by side on the same input and are
    concatenated, so the output has `in_channels + ch1x1 + ch3x3 + ch5x5` channels. With 256 inputs and
    64 filters per convolution it has 573,824 parameters: the cost the reduced module removes.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int = 64,
        ch3x3: int = 64,
        ch5x5: int = 64,
        batch_norm: bool = True,
        branch3_kernel_size: int = 5,
    ) -> None:
        super().__init__()
        _require_positive(in_channels=in_channels, ch1x1=ch1x1, ch3x3=ch3x3, ch5x5=ch5x5)
        self.branch1 = ConvBlock(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch2 = ConvBlock(in_channels, ch3x3, 3, padding=1, batch_norm=batch_norm)
        self.branch3 = ConvBlock(
            in_channels, ch5x5, branch3_kernel_size, padding=branch3_kernel_size // 2, batch_norm=batch_norm
        )
        self.branch4 = nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        self.out_channels = in_channels + ch1x1 + ch3x3 + ch5x5

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionModule(nn.Module):
    """The Inception module with dimension reductions (paper figure 2b), Table 1's six numbers.

    Branches: 1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5; 3x3/1 max pool -> 1x1 projection. The output
    has `ch1x1 + ch3x3 + ch5x5 + pool_proj` channels. `branch3_kernel_size=3` gives torchvision's
    variant, whose "5x5" branch is a 3x3 convolution (pytorch/vision#906).
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3_reduce: int,
        ch3x3: int,
        ch5x5_reduce: int,
        ch5x5: int,
        pool_proj: int,
        batch_norm: bool = True,
        branch3_kernel_size: int = 5,
    ) -> None:
        super().__init__()
        _require_positive(
            in_channels=in_channels,
            ch1x1=ch1x1,
            ch3x3_reduce=ch3x3_reduce,
            ch3x3=ch3x3,
            ch5x5_reduce=ch5x5_reduce,
            ch5x5=ch5x5,
            pool_proj=pool_proj,
        )
        self.branch1 = ConvBlock(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch2 = nn.Sequential(
            ConvBlock(in_channels, ch3x3_reduce, 1, batch_norm=batch_norm),
            ConvBlock(ch3x3_reduce, ch3x3, 3, padding=1, batch_norm=batch_norm),
        )
        self.branch3 = nn.Sequential(
            ConvBlock(in_channels, ch5x5_reduce, 1, batch_norm=batch_norm),
            ConvBlock(
                ch5x5_reduce, ch5x5, branch3_kernel_size, padding=branch3_kernel_size // 2, batch_norm=batch_norm
            ),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            ConvBlock(in_channels, pool_proj, 1, batch_norm=batch_norm),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


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


class AuxClassifier(nn.Module):
    """The auxiliary classifier of paper section 5, attached to the outputs of 4a and 4d.

    Average pool to 4x4 -> 1x1 convolution with 128 filters + ReLU -> fully connected 1024 + ReLU ->
    dropout (70%) -> linear to the classes.

    `pool="paper"` pools the map to a 4x4 grid without ever copying a value into two cells:
    - a map of 14x14 or more (224 px inputs: Table 1's case) gets the paper's 5x5/3 average pool, which
      yields 4x4 from 14x14 (and an adaptive 4x4 pool brings a larger result down to 4x4);
    - a map of 4x4 to 13x13 (about 64-223 px inputs) gets an adaptive 4x4 average pool (the paper's pool
      would leave 1x1 to 3x3 there);
    - a side under 4 (inputs under about 64 px) is kept as it is, and after the 1x1 convolution the map
      sits in the middle of a zero 4x4 grid: the fully connected layer sees each position once, and the
      empty cells add nothing to it.
    `pool="adaptive"` is torchvision's adaptive 4x4 pool at every size, which repeats the cells of a map
    smaller than 4x4 (kept exactly, so that the torchvision flavour is torchvision's network).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        dropout: float = 0.7,
        batch_norm: bool = True,
        pool: str = "paper",
    ) -> None:
        super().__init__()
        _require_positive(in_channels=in_channels, num_classes=num_classes)
        if pool not in ("paper", "adaptive"):
            raise ValueError(f"unknown aux pool {pool!r}; choose 'paper' or 'adaptive'")
        self.pool = pool
        self.conv = ConvBlock(in_channels, AUX_CONV_CHANNELS, 1, batch_norm=batch_norm)
        self.fc1 = nn.Linear(AUX_CONV_CHANNELS * AUX_POOLED_SIZE**2, AUX_HIDDEN_FEATURES)
        self.fc2 = nn.Linear(AUX_HIDDEN_FEATURES, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def pool_map(self, x: Tensor) -> Tensor:
        """The attached map average-pooled to 4x4 (sides under 4 kept as they are with pool="paper")."""
        return pool_to_aux_grid(x, self.pool)

    def grid(self, x: Tensor) -> Tensor:
        """What the fully connected layer reads: [N, 128, 4, 4] (zeros around a map smaller than 4x4)."""
        return pad_to_aux_grid(self.conv(self.pool_map(x)))

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.grid(x), 1)
        x = F.relu(self.fc1(x), inplace=True)
        x = self.dropout(x)
        return self.fc2(x)


# The two steps whose arithmetic depends on the map's size. torch.fx records each as one call (fx.wrap)
# instead of tracing into it, where Python branches on a symbolic size would stop the trace; under
# torch.export and torch.jit.trace the sizes are concrete and the branches are resolved as usual.
def pool_to_aux_grid(x: Tensor, pool: str) -> Tensor:
    """`AuxClassifier.pool_map` for an aux head with this `pool`."""
    grid = AUX_POOLED_SIZE
    if pool == "adaptive":
        return F.adaptive_avg_pool2d(x, (grid, grid))
    height, width = x.shape[-2:]
    if height >= PAPER_POOL_MIN_SIDE and width >= PAPER_POOL_MIN_SIDE:
        x = F.avg_pool2d(x, kernel_size=5, stride=3)
        height, width = x.shape[-2:]
    if height == grid and width == grid:
        return x
    return F.adaptive_avg_pool2d(x, (min(height, grid), min(width, grid)))


def pad_to_aux_grid(x: Tensor) -> Tensor:
    """A map smaller than 4x4 put in the middle of a zero 4x4 grid; a 4x4 map as it is."""
    missing_rows, missing_columns = AUX_POOLED_SIZE - x.shape[-2], AUX_POOLED_SIZE - x.shape[-1]
    if missing_rows or missing_columns:
        top, left = missing_rows // 2, missing_columns // 2
        x = F.pad(x, (left, missing_columns - left, top, missing_rows - top))
    return x


torch.fx.wrap("pool_to_aux_grid")
torch.fx.wrap("pad_to_aux_grid")
