"""Inception v1 as data: the paper's Table 1 and the three flavours built from it.

This module is the one place the architecture is written down. The network builder
(`googlenet.models.network`), the summary report (`googlenet.models.summary`) and the tests all read `paper_table`;
nothing else repeats a channel number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RowType = Literal["convolution", "max pool", "inception", "avg pool", "dropout", "linear"]


@dataclass(frozen=True)
class TableRow:
    """One row of Table 1 of Szegedy et al. 2014 ("Going deeper with convolutions").

    The channel columns are the paper's: `#1x1`, `#3x3 reduce`, `#3x3`, `#5x5 reduce`, `#5x5` and
    `pool proj`. `printed_params` (in K = 1024 parameters, weights only) and `printed_ops` (in decimal
    millions of multiply-adds at 224x224) are the figures as printed, misprints included; the summary
    report shows them beside the counts measured on the built model.
    """

    name: str
    type: RowType
    patch_size: int | None = None
    stride: int | None = None
    output_size: int | None = None  # spatial side at a 224x224 input, as printed
    depth: int = 0  # layers with weights in this row
    ch1x1: int = 0
    ch3x3_reduce: int = 0
    ch3x3: int = 0
    ch5x5_reduce: int = 0
    ch5x5: int = 0
    pool_proj: int = 0
    printed_params: float | None = None  # K (1024)
    printed_ops: float | None = None  # M (10**6) multiply-adds
    # The modules this row becomes. A row is usually one module; the second stem row is two
    # (a 1x1 reduction then the 3x3 convolution), which torchvision names conv2 and conv3.
    modules: tuple[str, ...] = ()
    # A stem convolution's own channel count (64 for conv1, 192 for the 3x3 of the second row).
    out_channels: int = 0

    @property
    def module_names(self) -> tuple[str, ...]:
        return self.modules or (self.name,)

    @property
    def inception_channels(self) -> tuple[int, int, int, int, int, int]:
        """The six channel numbers of an inception row, in the paper's column order."""
        return (self.ch1x1, self.ch3x3_reduce, self.ch3x3, self.ch5x5_reduce, self.ch5x5, self.pool_proj)


# Table 1, top to bottom. The last column group reproduces the printed params/ops, misprints included
# (conv1's 2.7K should be 9.2K; see tests/test_paper_table.py for the full list).
paper_table: tuple[TableRow, ...] = (
    TableRow("conv1", "convolution", 7, 2, 112, 1, out_channels=64, printed_params=2.7, printed_ops=34),
    TableRow("maxpool1", "max pool", 3, 2, 56),
    TableRow("conv2", "convolution", 3, 1, 56, 2, ch3x3_reduce=64, ch3x3=192, out_channels=192,
             printed_params=112, printed_ops=360, modules=("conv2", "conv3")),
    TableRow("maxpool2", "max pool", 3, 2, 28),
    TableRow("inception3a", "inception", None, None, 28, 2, 64, 96, 128, 16, 32, 32, 159, 128),
    TableRow("inception3b", "inception", None, None, 28, 2, 128, 128, 192, 32, 96, 64, 380, 304),
    TableRow("maxpool3", "max pool", 3, 2, 14),
    TableRow("inception4a", "inception", None, None, 14, 2, 192, 96, 208, 16, 48, 64, 364, 73),
    TableRow("inception4b", "inception", None, None, 14, 2, 160, 112, 224, 24, 64, 64, 437, 88),
    TableRow("inception4c", "inception", None, None, 14, 2, 128, 128, 256, 24, 64, 64, 463, 100),
    TableRow("inception4d", "inception", None, None, 14, 2, 112, 144, 288, 32, 64, 64, 580, 119),
    TableRow("inception4e", "inception", None, None, 14, 2, 256, 160, 320, 32, 128, 128, 840, 170),
    TableRow("maxpool4", "max pool", 3, 2, 7),
    TableRow("inception5a", "inception", None, None, 7, 2, 256, 160, 320, 32, 128, 128, 1072, 54),
    TableRow("inception5b", "inception", None, None, 7, 2, 384, 192, 384, 48, 128, 128, 1388, 71),
    TableRow("avgpool", "avg pool", 7, 1, 1),
    TableRow("dropout", "dropout"),
    TableRow("fc", "linear", None, None, 1, 1, printed_params=1000, printed_ops=1),
)

# The auxiliary classifiers (paper section 5) read the outputs of these rows, in this order.
aux_attach_points: tuple[str, str] = ("inception4a", "inception4d")

# Paper section 5: the 1x1 convolution of each auxiliary head has 128 filters, its first fully
# connected layer 1024 units, and it pools to 4x4 (5x5/3 average pool of a 14x14 map).
AUX_CONV_CHANNELS = 128
AUX_HIDDEN_FEATURES = 1024
AUX_POOLED_SIZE = 4

# The stem reads this many channels from the image unless the user asks otherwise (`in_chans`).
IMAGE_CHANNELS = 3


@dataclass(frozen=True)
class Flavour:
    """How one flavour departs from the plain reading of Table 1."""

    name: str
    description: str
    batch_norm: bool  # conv -> BN(eps 1e-3) -> ReLU units, convolutions without bias
    local_response_norm: bool  # LRN(5, 1e-4, 0.75) after maxpool1 and after the stem's 3x3 conv
    branch3_kernel_size: int  # the "5x5" branch; torchvision's is 3x3 (pytorch/vision#906)
    maxpool4_kernel_size: int  # the pool before 5a; 3 in the paper, 2 in torchvision
    aux_pool: Literal["paper", "adaptive"]  # 5x5/3 average pool, or torchvision's adaptive 4x4
    dropout: float
    aux_dropout: float
    init: Literal["kaiming", "xavier", "torchvision"]
    # Rows after which a LocalResponseNorm is inserted, and the name it gets.
    lrn_after: tuple[tuple[str, str], ...] = field(default=())


FLAVOURS: dict[str, Flavour] = {
    flavour.name: flavour
    for flavour in (
        Flavour(
            name="paper",
            description="the paper's / BVLC Caffe network: biased convolutions, ReLU, LRN, no BatchNorm",
            batch_norm=False,
            local_response_norm=True,
            branch3_kernel_size=5,
            maxpool4_kernel_size=3,
            aux_pool="paper",
            dropout=0.4,
            aux_dropout=0.7,
            init="xavier",
            lrn_after=(("maxpool1", "lrn1"), ("conv2", "lrn2")),
        ),
        Flavour(
            name="bn",
            description="Table 1 with conv-BN-ReLU units everywhere, true 5x5, paper pools (trains from scratch)",
            batch_norm=True,
            local_response_norm=False,
            branch3_kernel_size=5,
            maxpool4_kernel_size=3,
            aux_pool="paper",
            dropout=0.4,
            aux_dropout=0.7,
            init="kaiming",
        ),
        Flavour(
            name="torchvision",
            description="exactly torchvision.models.googlenet: 3x3 in the '5x5' branch, 2x2 pool before 5a",
            batch_norm=True,
            local_response_norm=False,
            branch3_kernel_size=3,
            maxpool4_kernel_size=2,
            aux_pool="adaptive",
            dropout=0.2,
            aux_dropout=0.7,
            init="torchvision",
        ),
    )
}


def get_flavour(name: str) -> Flavour:
    try:
        return FLAVOURS[name]
    except KeyError:
        raise ValueError(f"unknown flavour {name!r}; choose one of: {', '.join(FLAVOURS)}") from None


def row(name: str) -> TableRow:
    """The Table 1 row called `name` (e.g. "inception4a")."""
    for table_row in paper_table:
        if table_row.name == name:
            return table_row
    raise KeyError(name)
