"""The network: Table 1 and the flavours as data (`table`), the building blocks (`layers`), the trunk
built from the table (`trunk`), GoogLeNet itself built from its `GoogLeNetConfig` (`network`), built
without a throw-away initialisation (`allocation`), sizes measured by forward passes of an empty batch
(`shapes`), the paper's weighted loss (`loss`), the report that measures Table 1 on a built network
(`summary`), and what a model carries: its inference `Preprocessing` with the ImageNet statistics
(`preprocessing`) and its class names (`metadata`).

Imports only torch and the other modules of this package: everything else in googlenet is built on top
of it, so `import googlenet.models` stays as light as torch itself. Files are read and written by the
weights layer (`googlenet.weights`), never here.
"""

from googlenet.models.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.models.loss import GoogLeNetLoss
from googlenet.models.metadata import ModelMetadata
from googlenet.models.network import GoogLeNet, GoogLeNetConfig, GoogLeNetOutputs, googlenet, uninitialised_googlenet
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.models.table import FLAVOURS, Flavour, TableRow, paper_table

__all__ = [
    "FLAVOURS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AuxClassifier",
    "ConvBlock",
    "Flavour",
    "GoogLeNet",
    "GoogLeNetConfig",
    "GoogLeNetLoss",
    "GoogLeNetOutputs",
    "InceptionModule",
    "ModelMetadata",
    "NaiveInceptionModule",
    "Preprocessing",
    "TableRow",
    "googlenet",
    "paper_table",
    "uninitialised_googlenet",
]
