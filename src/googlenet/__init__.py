"""googlenet: Inception v1 (Szegedy et al. 2014, arXiv 1409.4842) as a library and tools.

`import googlenet` loads the model API only (torch and `googlenet.models`). Everything else (training,
data, weights, export, fast inference) is imported the first time one of its names is used, so that a
user who only builds a network never pays for PIL, matplotlib, safetensors or ONNX.
"""

from __future__ import annotations

from googlenet.lazy import lazy_attributes

from googlenet.models import (
    FLAVOURS,
    AuxClassifier,
    ConvBlock,
    Flavour,
    GoogLeNet,
    GoogLeNetConfig,
    GoogLeNetLoss,
    GoogLeNetOutputs,
    GoogLeNet_Weights,
    InceptionModule,
    NaiveInceptionModule,
    Preprocessing,
    TableRow,
    googlenet,
    paper_table,
)

# The one place the version is written: pyproject.toml reads it ([tool.setuptools.dynamic]), googlenet
# --version prints it, and CHANGELOG.md's newest release is it.
__version__ = "0.1.0"

# name -> the module that defines it, imported on first use (PEP 562). The four verbs are functions:
# train(config) -> TrainResult, evaluate(model_or_dir, data=None) -> EvaluationResult,
# predict(model_or_dir, inputs) -> PredictionReport, export(model_or_dir, output=None, format="onnx") -> Path.
_LAZY: dict[str, str] = {
    "train": "googlenet.training.trainer",
    "TrainConfig": "googlenet.training.config",
    "TrainResult": "googlenet.training.config",
    "evaluate": "googlenet.evaluation.evaluate",
    "EvaluationResult": "googlenet.evaluation.evaluate",
    "predict": "googlenet.evaluation.predict",
    "PredictionReport": "googlenet.evaluation.predict",
    "export": "googlenet.weights.export",
    "EXPORT_FORMATS": "googlenet.weights.export",
    "from_pretrained": "googlenet.weights.model_dir",
    "save_pretrained": "googlenet.weights.model_dir",
    "push_to_hub": "googlenet.weights.model_dir",
    "transforms_for": "googlenet.weights.transforms",
    "import_torchvision": "googlenet.weights.imagenet",
    "load_checkpoint_file": "googlenet.weights.loading",
    "InferenceModel": "googlenet.inference.optimize",
    "optimize": "googlenet.inference.optimize",
    "quantize": "googlenet.inference.quantize",
    "calibration_images": "googlenet.inference.quantize",
}

__all__ = [
    "FLAVOURS",
    "AuxClassifier",
    "ConvBlock",
    "Flavour",
    "GoogLeNet",
    "GoogLeNetConfig",
    "GoogLeNetLoss",
    "GoogLeNetOutputs",
    "GoogLeNet_Weights",
    "InceptionModule",
    "NaiveInceptionModule",
    "Preprocessing",
    "TableRow",
    "googlenet",
    "paper_table",
    *_LAZY,
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
