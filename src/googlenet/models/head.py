"""The global pooling between the last map and the classifier, in timm's pool types.

"avg" is Table 1's 7x7/1 average pool (torchvision's `AdaptiveAvgPool2d(1)`, the default and the only
one GoogLeNet was trained with); "max", "avgmax" (their mean) and "catavgmax" (both, concatenated: twice
the features) are timm's alternatives for fine-tuning; "" passes the map through unpooled (N x C x H x W),
timm's spelling for a backbone's spatial features, with no classifier to feed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

POOL_TYPES = ("avg", "max", "avgmax", "catavgmax", "")


class AvgMaxPool(nn.Module):
    """Average and max pooling over the whole map, averaged ("avgmax") or concatenated ("catavgmax")."""

    def __init__(self, concatenate: bool) -> None:
        super().__init__()
        self.concatenate = concatenate

    def forward(self, x: Tensor) -> Tensor:
        average, largest = F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1)
        return torch.cat((average, largest), 1) if self.concatenate else 0.5 * (average + largest)


def check_global_pool(global_pool: object, num_classes: int, num_features: int = 0,
                      classifier_reads: int | None = None) -> str:
    """`global_pool` when it is one of timm's pool types and fits `num_classes` and a classifier kept that
    reads `classifier_reads` features of a map of `num_features` channels; else a ValueError."""
    if global_pool not in POOL_TYPES:
        raise ValueError(f"global_pool={global_pool!r}: GoogLeNet pools with one of {list(POOL_TYPES)} "
                         "('' leaves the map unpooled)")
    if global_pool == "" and num_classes:
        raise ValueError(f"global_pool='' leaves the map unpooled, which no classifier reads: pass num_classes=0, "
                         f"not {num_classes}")
    width = pooled_features(str(global_pool), num_features)
    if num_classes and classifier_reads is not None and classifier_reads != width:
        raise ValueError(f"global_pool={global_pool!r} gives the classifier {width} features, and this one reads "
                         f"{classifier_reads}: make a new one with reset_classifier(num_classes, {global_pool!r})")
    return str(global_pool)


def global_pool_module(global_pool: str) -> nn.Module:
    """The module that pools the last map for `global_pool` (checked with `check_global_pool`)."""
    if global_pool == "avg":
        return nn.AdaptiveAvgPool2d(1)
    if global_pool == "max":
        return nn.AdaptiveMaxPool2d(1)
    if global_pool in ("avgmax", "catavgmax"):
        return AvgMaxPool(concatenate=global_pool == "catavgmax")
    return nn.Identity()


def pooled_features(global_pool: str, num_features: int) -> int:
    """How many features the pool gives the classifier (the map's channels when unpooled)."""
    return 2 * num_features if global_pool == "catavgmax" else num_features
