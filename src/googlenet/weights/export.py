"""Ship a model to another runtime: ONNX, a torch.export ExportedProgram, or TorchScript.

Every export is the inference network only (aux heads dropped, eval mode) with a dynamic batch size
and a fixed square input of the model's preprocessing `input_size` (224 when none is recorded). The
preprocessing and class names go with it, because a model fed the wrong preprocessing gives
near-zero accuracy without any error (onnx/models issues 172, 265, 622): in `<output>.json` beside
every export, and in the ONNX file's metadata_props as well.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import torch

from googlenet.weights.model_dir import from_pretrained
from googlenet.models.network import GoogLeNet

# Format name -> the file name an export of a model directory gets inside it by default.
EXPORT_FORMATS: dict[str, str] = {
    "onnx": "model.onnx",
    "exported-program": "model.pt2",
    "torchscript": "model.torchscript.pt",
}
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
# 18 is the oldest opset torch's exporter writes; the oldest is the one the most runtimes read.
ONNX_OPSET = 18
DEFAULT_INPUT_SIZE = 224
# The batch size of the example input. Not 0 or 1: torch.export would specialise the batch to it.
EXAMPLE_BATCH = 2


def export_model(model: GoogLeNet | str | Path, output: str | Path | None = None, format: str = "onnx") -> Path:
    """Export a GoogLeNet (or the model directory at `model`) to `output` in `format`, write the
    `<output>.json` description beside it, and return the path of the exported file.

    Formats: "onnx" (needs the `export` extra: onnx and onnxscript), "exported-program" (a .pt2 for
    `torch.export.load`) and "torchscript" (traced; `torch.jit.load`). Without `output`, a model
    directory's export goes inside it under the name in `EXPORT_FORMATS`. A GoogLeNet passed in is
    not changed.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of: {', '.join(EXPORT_FORMATS)}")
    if format == "onnx" and importlib.util.find_spec("onnxscript") is None:
        raise ImportError("ONNX export needs onnx and onnxscript: pip install 'googlenet[export]'")
    if isinstance(model, (str, Path)):
        output = Path(model) / EXPORT_FORMATS[format] if output is None else output
        model = from_pretrained(model)
    elif not isinstance(model, GoogLeNet):
        raise TypeError(f"export_model takes a GoogLeNet or a model directory, got {type(model).__name__}")
    elif output is None:
        raise ValueError("export_model needs an output path when given a model object")
    else:
        model = copy.deepcopy(model)
    model.drop_aux_heads()  # the paper discards them at inference
    model.eval()

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    size = model.preprocessing.input_size if model.preprocessing is not None else DEFAULT_INPUT_SIZE
    example = torch.randn(EXAMPLE_BATCH, model.in_chans, size, size, device=next(model.parameters()).device)
    description = describe(model, format, size)

    if format == "onnx":
        _export_onnx(model, example, output, description)
    elif format == "exported-program":
        torch.export.save(_exported_program(model, example), output)
    else:
        with torch.no_grad():
            torch.jit.save(torch.jit.trace(model, example), output)
    sidecar_path(output).write_text(json.dumps(description, indent=2) + "\n")
    return output


def sidecar_path(output: str | Path) -> Path:
    """Where `export_model` writes the description of an export: `<output>.json`."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def describe(model: GoogLeNet, format: str, input_size: int) -> dict[str, Any]:
    """What a runtime needs to use an export: its input and output, the preprocessing, the classes."""
    return {
        "format": format,
        "input": {"name": INPUT_NAME, "shape": ["batch", model.in_chans, input_size, input_size], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", model.num_classes],
                   "meaning": "logits (apply softmax for probabilities)"},
        "model": model.config.to_dict(),
        "class_names": model.class_names,
        "preprocessing": None if model.preprocessing is None else model.preprocessing.to_dict(),
    }


def _dynamic_batch() -> tuple[dict[int, Any]]:
    return ({0: torch.export.Dim("batch")},)


def _exported_program(model: GoogLeNet, example: torch.Tensor) -> torch.export.ExportedProgram:
    return torch.export.export(model, (example,), dynamic_shapes=_dynamic_batch())


def _export_onnx(model: GoogLeNet, example: torch.Tensor, output: Path, description: dict[str, Any]) -> None:
    # torch's exporter based on torch.export (the default since torch 2.9; the TorchScript-based one
    # is deprecated). Weights are stored inside the .onnx file: one file to ship.
    program = torch.onnx.export(
        model, (example,), dynamo=True, opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME], dynamic_shapes=_dynamic_batch(), verbose=False,
    )
    for key in ("preprocessing", "class_names", "model"):
        program.model.metadata_props[key] = json.dumps(description[key])
    program.save(output, external_data=False)
