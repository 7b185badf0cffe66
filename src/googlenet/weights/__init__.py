"""Weights in and out: model directories (`config.json` + `model.safetensors`), safe loading of
checkpoint files, the torchvision import (`model_dir`) and export to ONNX, ExportedProgram and
TorchScript (`export`).

May import `googlenet.models` and `googlenet.data` (for the `Preprocessing` record a model directory
stores); never evaluation, training, inference or the command line.
"""
