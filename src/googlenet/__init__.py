"""googlenet: Inception v1 (Szegedy et al. 2014, arXiv 1409.4842) as a library and tools."""

from googlenet.architecture import FLAVOURS, Flavour, TableRow, paper_table
from googlenet.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.loss import GoogLeNetLoss
from googlenet.model import GoogLeNet, GoogLeNetConfig, GoogLeNetOutputs, googlenet

__version__ = "0.1.0"

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
