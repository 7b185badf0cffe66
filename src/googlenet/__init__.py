"""googlenet: Inception v1 (Szegedy et al. 2014, arXiv 1409.4842) as a library and tools."""

from googlenet.architecture import FLAVOURS, Flavour, TableRow, paper_table
from googlenet.layers import AuxClassifier, ConvBlock, InceptionModule, NaiveInceptionModule
from googlenet.loss import GoogLeNetLoss
from googlenet.model import GoogLeNet, GoogLeNetConfig, GoogLeNetOutputs, googlenet
from googlenet.presets import Preprocessing
from googlenet.hub import from_pretrained, import_torchvision, load_checkpoint_file, save_pretrained
from googlenet.export import EXPORT_FORMATS, export_model
from googlenet.train import TrainConfig, TrainResult, train
from googlenet.fast import InferenceModel, optimize
from googlenet.quantize import calibration_images, quantize

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
    "Preprocessing",
    "EXPORT_FORMATS",
    "TrainConfig",
    "TrainResult",
    "export_model",
    "from_pretrained",
    "import_torchvision",
    "load_checkpoint_file",
    "save_pretrained",
    "train",
    "InferenceModel",
    "optimize",
    "quantize",
    "calibration_images",
    "TableRow",
    "googlenet",
    "paper_table",
]
