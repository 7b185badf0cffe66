"""Weights in and out, the layer that reads and writes files: model directories (`model_dir`:
config.json + model.safetensors, written whole or not at all, with the model's
`googlenet.models.metadata` record), safe loading of checkpoint files (`loading`), torchvision's
ImageNet weights (`imagenet`), starting a run from weights (`init`, with `adapt` fitting them to new
classes and input channels) and export to ONNX, ExportedProgram and TorchScript (`export`, also the fast
path's one exporter); `records` reads what a run or model directory wrote about itself, for describing it.

May import `googlenet.models` and `googlenet.data`; never evaluation, training, inference or the
command line.
"""
