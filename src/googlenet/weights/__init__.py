"""Weights in and out: model directories (`model_dir`: config.json + model.safetensors, written whole or
not at all), the metadata record that travels with a model (`metadata`: class names, preprocessing),
safe loading of checkpoint files (`loading`), torchvision's ImageNet weights (`imagenet`), starting a run
from weights (`init`, with `adapt` fitting them to new classes and input channels) and export to ONNX,
ExportedProgram and TorchScript (`export`, also the fast path's one exporter).

May import `googlenet.models` and `googlenet.data` (for the `Preprocessing` record); never evaluation,
training, inference or the command line.
"""
