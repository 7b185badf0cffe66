"""The trunk of Table 1 (conv1 to inception5b) as (name, module) pairs: what `GoogLeNet` adds as its
stages and what `googlenet.models.shapes` measures sizes on."""

from __future__ import annotations

from typing import Any

from torch import nn

from googlenet.models.layers import ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.models.table import Flavour, TableRow, paper_table


def build_trunk(spec: Flavour, in_chans: int, naive: bool) -> tuple[list[tuple[str, nn.Module]], dict[str, int]]:
    """Table 1 from the first convolution to 5b, as (name, module) pairs in forward order, and the
    channel count after each."""
    trunk: list[tuple[str, nn.Module]] = []
    channels_at: dict[str, int] = {}
    lrn_after = dict(spec.lrn_after)
    channels = in_chans
    for table_row in paper_table:
        if table_row.type in ("avg pool", "dropout", "linear"):
            break  # the head is built by GoogLeNet.__init__
        modules, channels = _modules_for_row(table_row, spec, channels, naive)
        for name, module in modules:
            trunk.append((name, module))
            channels_at[name] = channels
        if table_row.name in lrn_after:
            # Paper section 5 / BVLC prototxt: LRN(size 5, alpha 1e-4, beta 0.75).
            trunk.append((lrn_after[table_row.name], nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)))
    return trunk, channels_at


def layer_groups(stage_names: tuple[str, ...], aux_after: dict[str, str], coarse: bool) -> dict[str, Any]:
    """timm's `group_matcher` for this trunk: the stem (conv1 to conv3), then each Inception stage (coarse) or
    module in forward order, each aux head with the module it reads. The classifier is left unmatched, which
    timm's group_parameters puts last (the head)."""
    modules = [name for name in stage_names if name.startswith("inception")]

    def ordinal(module: str) -> int:
        return int(module[len("inception")]) if coarse else modules.index(module)

    blocks = [(rf"^{name}\.", (ordinal(name),)) for name in modules]
    blocks += [(rf"^{head}\.", (ordinal(reads),)) for reads, head in aux_after.items()]
    return {"stem": r"^conv[123]\.", "blocks": blocks}


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
