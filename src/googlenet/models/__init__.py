"""The network: Table 1 and the flavours as data (`table`), the building blocks (`layers`), the trunk
built from the table (`trunk`), GoogLeNet itself built from its `GoogLeNetConfig` (`network`), sizes
measured by forward passes of an empty batch (`shapes`), the paper's weighted loss (`loss`) and the
report that measures Table 1 on a built network (`summary`).

Imports only torch and the other modules of this package: everything else in googlenet is built on top
of it, so `import googlenet.models` stays as light as torch itself. The one exception is Hugging Face's
spelling on the model class (`GoogLeNet.from_pretrained`, `save_pretrained`, and the setters of
`class_names` / `preprocessing`), which imports the weights layer inside the method, when called.
"""

from googlenet.models.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.models.loss import GoogLeNetLoss
from googlenet.models.network import GoogLeNet, GoogLeNetConfig, GoogLeNetOutputs, googlenet
from googlenet.models.table import FLAVOURS, Flavour, TableRow, paper_table

__all__ = [
    "FLAVOURS",
    "AuxClassifier",
    "ConvBlock",
    "Flavour",
    "GoogLeNet",
    "GoogLeNetConfig",
    "GoogLeNetLoss",
    "GoogLeNetOutputs",
    "InceptionModule",
    "NaiveInceptionModule",
    "TableRow",
    "googlenet",
    "paper_table",
]
