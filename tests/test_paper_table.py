"""The `paper` flavour reproduces Table 1 of Szegedy et al. 2014, row by row.

Table 1 is written out below as the paper prints it (`TABLE_1`), not read from `googlenet.paper_table`
(the builder's own table): the built network's convolution shapes and output sizes are checked against
it, the expected counts are worked out by hand from its six channel numbers, asserted exactly against
the summary of the built model, then compared with the printed figures.
"""

from pathlib import Path

import pytest
import torch
from torch import nn

from googlenet import googlenet
from googlenet.models.summary import summarize

# Table 1 as printed: row -> (output side, output channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj, params in K, ops in M); None where the paper leaves the cell empty.
TABLE_1 = {
    "conv1": (112, 64, None, None, None, None, None, None, 2.7, 34),
    "conv2": (56, 192, None, 64, 192, None, None, None, 112, 360),
    "inception3a": (28, 256, 64, 96, 128, 16, 32, 32, 159, 128),
    "inception3b": (28, 480, 128, 128, 192, 32, 96, 64, 380, 304),
    "inception4a": (14, 512, 192, 96, 208, 16, 48, 64, 364, 73),
    "inception4b": (14, 512, 160, 112, 224, 24, 64, 64, 437, 88),
    "inception4c": (14, 512, 128, 128, 256, 24, 64, 64, 463, 100),
    "inception4d": (14, 528, 112, 144, 288, 32, 64, 64, 580, 119),
    "inception4e": (14, 832, 256, 160, 320, 32, 128, 128, 840, 170),
    "inception5a": (7, 832, 256, 160, 320, 32, 128, 128, 1072, 54),
    "inception5b": (7, 1024, 384, 192, 384, 48, 128, 128, 1388, 71),
    "fc": (1, 1000, None, None, None, None, None, None, 1000, 1),
}
# The unweighted rows' output sizes: max pools 3x3/2, the 7x7 average pool.
POOL_OUTPUTS = {"maxpool1": (56, 64), "maxpool2": (28, 192), "maxpool3": (14, 480), "maxpool4": (7, 832),
                "avgpool": (1, 1024)}
INCEPTIONS = [name for name in TABLE_1 if name.startswith("inception")]

# Rows whose printed figure disagrees with the arithmetic of the rest of the table. Checked below
# to really be off (so this list cannot hide a wiring error in a row that should agree).
KNOWN_PARAM_MISPRINTS = {"conv1", "inception4c", "inception5a"}  # 2.7K vs 9.2K, 463K vs 497.5K, 1072K vs 1019K
KNOWN_OPS_MISPRINTS = {"conv1", "inception5a"}  # 34M (= 2.7K x 112^2) vs 118M; 54M vs 51.1M
# The consistent rows agree within 1%, except 4d (+1.8%) and 5b (+1.5%) params; 2% admits those and no
# misprint (the smallest is 5%). A printed "1M" is also read as anything that rounds to it.
TOLERANCE = 0.02


def agrees(measured: float, printed: float) -> bool:
    return abs(measured - printed) <= max(TOLERANCE * printed, 0.5)


def inception_channels(name: str) -> tuple[int, ...]:
    return TABLE_1[name][2:8]


def inception_weights(c_in, c1, r3, c3, r5, c5, pp):
    return c_in * c1 + c_in * r3 + r3 * c3 * 9 + c_in * r5 + r5 * c5 * 25 + c_in * pp


def hand_computed_rows():
    """(weights, multiply-adds at 224x224, output side, output channels) per weighted row."""
    expected = {
        "conv1": (7 * 7 * 3 * 64, 7 * 7 * 3 * 64 * 112 * 112, 112, 64),
        "conv2": (64 * 64 + 3 * 3 * 64 * 192, (64 * 64 + 3 * 3 * 64 * 192) * 56 * 56, 56, 192),
    }
    channels = 192
    for name in INCEPTIONS:
        side, out_channels, *_ = TABLE_1[name]
        c1, r3, c3, r5, c5, pp = inception_channels(name)
        weights = inception_weights(channels, c1, r3, c3, r5, c5, pp)
        channels = c1 + c3 + c5 + pp
        assert channels == out_channels, name  # the printed table agrees with itself
        expected[name] = (weights, weights * side**2, side, channels)
    expected["fc"] = (1024 * 1000, 1024 * 1000, 1, 1000)
    return expected


@pytest.fixture(scope="module")
def network():
    return googlenet("paper", num_classes=1000).eval()


def test_every_inception_modules_convolutions_have_table_1s_shapes(network):
    channels = 192
    for name in INCEPTIONS:
        c1, r3, c3, r5, c5, pp = inception_channels(name)
        expected = sorted([(c1, channels, 1, 1), (r3, channels, 1, 1), (c3, r3, 3, 3), (r5, channels, 1, 1),
                           (c5, r5, 5, 5), (pp, channels, 1, 1)])
        built = sorted(tuple(module.weight.shape) for module in getattr(network, name).modules()
                       if isinstance(module, nn.Conv2d))
        assert built == expected, name
        channels = c1 + c3 + c5 + pp
    stem = [tuple(module.weight.shape) for name, module in network.named_modules()
            if isinstance(module, nn.Conv2d) and not name.startswith(("inception", "aux"))]
    assert stem == [(64, 3, 7, 7), (64, 64, 1, 1), (192, 64, 3, 3)]  # conv1 7x7/2; conv2: 64 reduce, 192 3x3
    assert tuple(network.fc.weight.shape) == (1000, 1024)


def test_every_rows_output_at_224_is_table_1s(network):
    seen = {}
    names = [*TABLE_1, *POOL_OUTPUTS]
    hooks = [getattr(network, "conv3" if name == "conv2" else name).register_forward_hook(
        lambda module, inputs, output, name=name: seen.__setitem__(name, tuple(output.shape)))
        for name in names]
    with torch.no_grad():
        network(torch.randn(1, 3, 224, 224))
    for hook in hooks:
        hook.remove()
    for name, (side, channels, *_) in TABLE_1.items():
        assert seen[name] == ((1, channels) if name == "fc" else (1, channels, side, side)), name
    for name, (side, channels) in POOL_OUTPUTS.items():
        assert seen[name] == (1, channels, side, side), name


@pytest.fixture(scope="module")
def report():
    return summarize("paper", 224)


def test_every_weighted_row_has_exactly_the_hand_computed_counts(report):
    expected = hand_computed_rows()
    measured = {row.name: row for row in report.rows if row.name in expected}
    assert set(measured) == set(expected)
    for name, (weights, ops, side, channels) in expected.items():
        row = measured[name]
        assert row.weights == weights, name
        assert row.ops == ops, name
        shape = f"{side}x{side}x{channels}" if name != "fc" else str(channels)
        assert row.output_size == shape, name


def test_the_summary_reports_table_1s_output_sizes(report):
    for row in report.rows:
        if row.name in TABLE_1 and row.name != "fc":
            side, channels, *_ = TABLE_1[row.name]
            assert row.output_size == f"{side}x{side}x{channels}", row.name


@pytest.mark.parametrize("row_name", list(TABLE_1))
def test_params_agree_with_print_except_known_misprints(report, row_name):
    row = next(row for row in report.rows if row.name == row_name)
    printed = TABLE_1[row_name][8]
    message = f"{row_name}: {row.weights / 1024:.1f}K vs printed {printed}K"
    assert agrees(row.weights / 1024, printed) == (row_name not in KNOWN_PARAM_MISPRINTS), message


@pytest.mark.parametrize("row_name", list(TABLE_1))
def test_ops_agree_with_print_except_known_misprints(report, row_name):
    row = next(row for row in report.rows if row.name == row_name)
    printed = TABLE_1[row_name][9]
    message = f"{row_name}: {row.ops / 1e6:.1f}M vs printed {printed}M"
    assert agrees(row.ops / 1e6, printed) == (row_name not in KNOWN_OPS_MISPRINTS), message


def test_totals_are_the_papers(report):
    total_weights = sum(row.weights for row in report.rows)
    assert 6.7e6 < total_weights < 7.0e6  # "about 6.8M"
    assert total_weights == sum(w for w, *_ in hand_computed_rows().values())
    assert 1.5e9 < report.total_ops < 1.6e9  # "1.5 billion multiply-adds at inference time"


def test_paper_flavour_depth_is_22_layers(report):
    # Paper section 5: "The network is 22 layers deep when counting only layers with parameters."
    assert sum(row.depth for row in report.rows) == 22


def test_module_comparison_is_the_tutorials(report):
    comparison = report.module_comparison
    assert (comparison.naive_params, comparison.reduced_params) == (573_824, 177_376)
    assert comparison.naive_output_shape == [1, 448, 28, 28]
    assert comparison.reduced_output_shape == [1, 256, 28, 28]


def test_docs_table1_shows_what_googlenet_summary_prints(report):
    # docs/table1.md pastes `googlenet summary`'s output: it must stay what the code prints.
    from googlenet.models.summary import format_report

    document = (Path(__file__).resolve().parents[1] / "docs" / "table1.md").read_text()
    pasted = document.split("```\n", 2)[1].split("```", 1)[0]
    assert pasted.rstrip("\n") == format_report(report).rstrip("\n")


def test_the_summary_counts_a_trained_models_own_classifier():
    # `googlenet summary --num-classes 10 --in-chans 1`: the figures of a Fashion-MNIST model, not of
    # ImageNet's 1,000-class head.
    from googlenet import googlenet

    report = summarize("bn", 32, in_chans=1, num_classes=10)
    model = googlenet("bn", num_classes=10, in_chans=1, aux_logits=False)
    assert report.total_params == sum(parameter.numel() for parameter in model.parameters()) == 5_984_810
    assert report.rows[-1].output_size == "10"
