"""The network: Table 1 and the flavours as data (`table`), the building blocks (`layers`), the trunk
built from the table (`trunk`), GoogLeNet itself built from its `GoogLeNetConfig` (`config`, `network`),
each flavour's initialisation (`initialisation`), built without a throw-away one (`allocation`), the
feature maps a backbone user asks for (`features`), torchvision's published weights by name
(`pretrained`: `GoogLeNet_Weights`), sizes measured by forward passes of an empty batch
(`shapes`), the paper's weighted loss (`loss`), the report that measures Table 1 on a built network
(`summary`), what torch.jit.script compiles (`scripting`), and what a model carries: its inference `Preprocessing` with the ImageNet statistics
(`preprocessing`) and its class names (`metadata`).

Imports only torch and the other modules of this package: everything else in googlenet is built on top
of it, so `import googlenet.models` stays as light as torch itself. Files are read and written by the
weights layer (`googlenet.weights`); the one exception is torchvision's published file, which
`GoogLeNet_Weights.get_state_dict` fetches through torch.hub's cache, as torchvision does.
"""

from googlenet.models.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.models.loss import GoogLeNetLoss
from googlenet.models.metadata import ModelMetadata
from googlenet.models.config import GoogLeNetConfig
from googlenet.models.features import FeatureInfo, GoogLeNetFeatures
from googlenet.models.network import GoogLeNet, GoogLeNetOutputs, googlenet, uninitialised_googlenet
from googlenet.models.pretrained import GoogLeNet_Weights
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from googlenet.models.table import FLAVOURS, Flavour, TableRow, paper_table

__all__ = [
    "FLAVOURS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AuxClassifier",
    "FeatureInfo",
    "ConvBlock",
    "Flavour",
    "GoogLeNet",
    "GoogLeNetConfig",
    "GoogLeNetFeatures",
    "GoogLeNetLoss",
    "GoogLeNetOutputs",
    "GoogLeNet_Weights",
    "InceptionModule",
    "ModelMetadata",
    "NaiveInceptionModule",
    "Preprocessing",
    "TableRow",
    "googlenet",
    "paper_table",
    "uninitialised_googlenet",
]
