"""The Table 1 report: every row of the paper's table, measured on a built model.

Parameters are counted on the modules each row becomes; operations are multiply-adds counted by
`torch.utils.flop_counter` during one forward pass (it counts 2 FLOPs per multiply-add), and output
sizes are read from that same pass. Nothing is copied from the table except the printed figures,
which are shown beside the measured ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from googlenet.models.table import paper_table
from googlenet.models.layers import InceptionModule, NaiveInceptionModule
from googlenet.models.network import GoogLeNet, googlenet

# The naive and the dimension-reduced module compared: 256 input channels at 28x28, 3a-like channel numbers.
COMPARISON_IN_CHANNELS = 256
COMPARISON_NAIVE_FEATURES = 64
COMPARISON_REDUCED_CHANNELS = (64, 96, 128, 16, 32, 32)
COMPARISON_SIDE = 28


@dataclass
class RowReport:
    name: str
    type: str
    patch_stride: str
    output_size: str
    depth: int
    ch1x1: int | None
    ch3x3_reduce: int | None
    ch3x3: int | None
    ch5x5_reduce: int | None
    ch5x5: int | None
    pool_proj: int | None
    params: int  # every trainable parameter: weights, biases, BatchNorm scales and shifts
    weights: int  # convolution and linear weights only: what Table 1's params column counts
    ops: int  # multiply-adds
    printed_params_k: float | None
    printed_ops_m: float | None


@dataclass
class ModuleComparison:
    naive_params: int
    naive_output_shape: list[int]
    reduced_params: int
    reduced_output_shape: list[int]


@dataclass
class SummaryReport:
    flavour: str
    input_size: int
    naive: bool
    rows: list[RowReport]
    total_params: int
    total_ops: int
    aux_params: int
    module_comparison: ModuleComparison

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


def count_weights(module: nn.Module) -> int:
    """Convolution and fully connected weights, without biases or BatchNorm: Table 1's count."""
    return sum(layer.weight.numel() for layer in module.modules() if isinstance(layer, (nn.Conv2d, nn.Linear)))


def _measure_forward(
    model: GoogLeNet, names: list[str], input_size: int
) -> tuple[dict[str, int], dict[str, tuple[int, ...]]]:
    """One forward pass: multiply-adds per module (FlopCounterMode counts 2 FLOPs each) and the
    output shape of each module in `names`."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _module, _inputs, output, name=name: shapes.__setitem__(name, tuple(output.shape))
        )
        for name in names
    ]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(torch.zeros(1, model.in_chans, input_size, input_size))
    finally:
        for hook in hooks:
            hook.remove()
    prefix = type(model).__name__ + "."
    ops = {
        name.removeprefix(prefix): sum(by_op.values()) // 2
        for name, by_op in counter.get_flop_counts().items()
        if name.startswith(prefix)
    }
    return ops, shapes


def _conv_depth(module: nn.Module) -> int:
    return sum(isinstance(layer, (nn.Conv2d, nn.Linear)) for layer in module.modules())


def _describe(modules: list[nn.Module]) -> tuple[str, int, tuple[int | None, ...]]:
    """Patch/stride, depth and the six channel columns of a row, read off its modules."""
    first = modules[0]
    if isinstance(first, InceptionModule):
        depth = max(_conv_depth(branch) for branch in (first.branch1, first.branch2, first.branch3, first.branch4))
        channels = (
            first.branch1.conv.out_channels,
            first.branch2[0].conv.out_channels,
            first.branch2[1].conv.out_channels,
            first.branch3[0].conv.out_channels,
            first.branch3[1].conv.out_channels,
            first.branch4[1].conv.out_channels,
        )
        return "", depth, channels
    if isinstance(first, NaiveInceptionModule):
        channels = (first.branch1.conv.out_channels, None, first.branch2.conv.out_channels, None,
                    first.branch3.conv.out_channels, None)
        return "", 1, channels
    last = modules[-1]
    window = getattr(last, "conv", last)
    kernel, stride = getattr(window, "kernel_size", None), getattr(window, "stride", None)
    patch_stride = ""
    if kernel is not None:
        side = kernel[0] if isinstance(kernel, tuple) else kernel
        step = stride[0] if isinstance(stride, tuple) else stride
        patch_stride = f"{side}x{side}/{step}"
    depth = sum(_conv_depth(module) for module in modules)
    reduce = modules[0].conv.out_channels if len(modules) == 2 else None  # the stem's 1x1 reduction
    three_by_three = window.out_channels if len(modules) == 2 else None
    return patch_stride, depth, (None, reduce, three_by_three, None, None, None)


def summarize(flavour: str = "bn", input_size: int = 224, naive: bool = False, in_chans: int = 3,
              num_classes: int = 1000) -> SummaryReport:
    """Measure every Table 1 row on a freshly built model at `input_size` x `input_size` (Table 1's printed
    figures are for 1,000 classes: another `num_classes` changes the fc row)."""
    model = googlenet(flavour, num_classes=num_classes, in_chans=in_chans, naive=naive).eval()
    if input_size < model.min_input_size:
        raise ValueError(
            f"input size {input_size} is below the {flavour!r} flavour's minimum of {model.min_input_size}"
        )
    all_names = [name for table_row in paper_table for name in table_row.module_names]
    ops_by_module, shapes = _measure_forward(model, all_names, input_size)

    rows: list[RowReport] = []
    for table_row in paper_table:
        names = list(table_row.module_names)
        modules = [getattr(model, name) for name in names]
        patch_stride, depth, channels = _describe(modules)
        if table_row.type == "avg pool":  # global pooling: its window is whatever 5b's output is
            height, width = shapes[model.stages()[-1][0]][2:]
            patch_stride = f"{height}x{width}/1"
        shape = shapes[names[-1]]
        output = "x".join(map(str, (*shape[2:], shape[1]))) if len(shape) == 4 else f"{shape[1]}"
        rows.append(
            RowReport(
                name=table_row.name,
                type=table_row.type,
                patch_stride=patch_stride,
                output_size=output,
                depth=depth,
                ch1x1=channels[0],
                ch3x3_reduce=channels[1],
                ch3x3=channels[2],
                ch5x5_reduce=channels[3],
                ch5x5=channels[4],
                pool_proj=channels[5],
                params=sum(count_parameters(module) for module in modules),
                weights=sum(count_weights(module) for module in modules),
                ops=sum(ops_by_module.get(name, 0) for name in names),
                # Table 1's figures describe the reduced network only.
                printed_params_k=None if naive else table_row.printed_params,
                printed_ops_m=None if naive else table_row.printed_ops,
            )
        )
    aux_params = sum(count_parameters(head) for head in (model.aux1, model.aux2) if head is not None)
    return SummaryReport(
        flavour=flavour,
        input_size=input_size,
        naive=naive,
        rows=rows,
        total_params=count_parameters(model) - aux_params,
        total_ops=sum(row.ops for row in rows),
        aux_params=aux_params,
        module_comparison=compare_modules(),
    )


def compare_modules() -> ModuleComparison:
    """The naive and the dimension-reduced module on a [1, 256, 28, 28] input."""
    naive = NaiveInceptionModule(COMPARISON_IN_CHANNELS, *(COMPARISON_NAIVE_FEATURES,) * 3)
    reduced = InceptionModule(COMPARISON_IN_CHANNELS, *COMPARISON_REDUCED_CHANNELS)
    x = torch.zeros(1, COMPARISON_IN_CHANNELS, COMPARISON_SIDE, COMPARISON_SIDE)
    with torch.no_grad():
        naive_shape, reduced_shape = list(naive.eval()(x).shape), list(reduced.eval()(x).shape)
    return ModuleComparison(count_parameters(naive), naive_shape, count_parameters(reduced), reduced_shape)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def format_report(report: SummaryReport) -> str:
    """Table 1's layout in plain text, with the printed figures beside the measured ones."""
    header = ("row", "type", "patch/stride", "output", "depth", "#1x1", "#3x3 red", "#3x3", "#5x5 red", "#5x5",
              "pool proj", "params", "weights (K)", "printed K", "ops (M)", "printed M")
    lines = []
    for row in report.rows:
        lines.append((
            row.name, row.type, row.patch_stride, row.output_size, _cell(row.depth or None), _cell(row.ch1x1),
            _cell(row.ch3x3_reduce), _cell(row.ch3x3), _cell(row.ch5x5_reduce), _cell(row.ch5x5),
            _cell(row.pool_proj), f"{row.params:,}" if row.params else "", f"{row.weights / 1024:.1f}" if row.weights else "",
            _cell(row.printed_params_k), f"{row.ops / 1e6:.1f}" if row.ops else "", _cell(row.printed_ops_m),
        ))
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) for i in range(len(header))]
    numeric_from = 4

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if index >= numeric_from else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    title = (f"GoogLeNet, flavour {report.flavour!r}{' with naive modules' if report.naive else ''}, "
             f"input {report.input_size}x{report.input_size}")
    comparison = report.module_comparison
    out = [title, "", render(header), render(tuple("-" * width for width in widths))]
    out += [render(line) for line in lines]
    out += [
        "",
        f"total (inference network): {report.total_params:,} parameters, "
        f"{report.total_ops / 1e9:.3f} G multiply-adds",
        f"auxiliary classifiers (training only): {report.aux_params:,} parameters",
        "params: all trainable parameters. weights (K): convolution and linear weights in K = 1024, what Table 1's",
        "params column counts. ops (M): multiply-adds in millions, counted by torch.utils.flop_counter.",
        "printed K / printed M: Table 1 as printed, misprints included (conv1 params and ops, 4c and 5a params, 5a ops).",
        "",
        "Inception module on a [1, 256, 28, 28] input, naive and dimension-reduced:",
        f"  naive (1x1, 3x3, 5x5 with 64 filters each + 3x3 max pool): {comparison.naive_params:,} parameters, "
        f"output {comparison.naive_output_shape}",
        f"  dimension-reduced (64, 96, 128, 16, 32, 32):               {comparison.reduced_params:,} parameters, "
        f"output {comparison.reduced_output_shape}",
        f"  reduction: {comparison.naive_params / comparison.reduced_params:.2f}x fewer parameters",
    ]
    return "\n".join(out)
