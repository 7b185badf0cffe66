"""Ship a model to another runtime: ONNX, a torch.export ExportedProgram, or TorchScript.

Every export is the inference network only (aux heads dropped, eval mode) with a dynamic batch size
and a fixed square input of the model's preprocessing `input_size` (224 when none is recorded). The
preprocessing and class names go with it, because a model fed the wrong preprocessing gives
near-zero accuracy without any error (onnx/models issues 172, 265, 622): in `<output>.json` beside
every export, and in the ONNX file's metadata_props as well.

`onnx_program`, `onnx_bytes` and `exported_program` are the one way this project calls torch's
exporters: `googlenet export` and the fast path (`googlenet.inference.optimize`) both use them.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from googlenet.atomic_files import write_bytes, write_text, write_with
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


def export(model_or_dir: GoogLeNet | str | Path, output: str | Path | None = None, format: str = "onnx") -> Path:
    """Export a GoogLeNet, a model directory or a training run directory (its `model/`) to `output`
    in `format`, write the `<output>.json` description beside it, and return the path of the export.

    Formats: "onnx" (needs the `export` extra: onnx and onnxscript), "exported-program" (a .pt2 for
    `torch.export.load`) and "torchscript" (traced; `torch.jit.load`). Without `output`, a model
    directory's export goes inside it under the name in `EXPORT_FORMATS`. A GoogLeNet passed in is
    not changed. Both files appear whole or not at all (an earlier export stays until then).
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of: {', '.join(EXPORT_FORMATS)}")
    if format == "onnx" and importlib.util.find_spec("onnxscript") is None:
        raise ImportError("ONNX export needs onnx and onnxscript: pip install onnx onnxscript")
    model, output = _model_and_output(model_or_dir, output, format)
    model.drop_aux_heads()  # the paper discards them at inference
    model.eval()

    size = model.preprocessing.input_size if model.preprocessing is not None else DEFAULT_INPUT_SIZE
    example = torch.randn(EXAMPLE_BATCH, model.in_chans, size, size, device=next(model.parameters()).device)
    description = describe(model, format, size)
    if format == "onnx":
        program = onnx_program(model, example)
        for key in ("preprocessing", "class_names", "model"):
            program.model.metadata_props[key] = json.dumps(description[key])
        buffer = io.BytesIO()
        program.save(buffer, external_data=False)  # weights inside the .onnx file: one file to ship
        write_bytes(output, buffer.getvalue())
    elif format == "exported-program":
        program = exported_program(model, example)
        write_with(output, lambda file: torch.export.save(program, file))
    else:
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
        write_with(output, lambda file: torch.jit.save(traced, file))
    write_text(sidecar_path(output), json.dumps(description, indent=2) + "\n")
    return output


def _model_and_output(
    model_or_dir: GoogLeNet | str | Path, output: str | Path | None, format: str
) -> tuple[GoogLeNet, Path]:
    """A copy of the model to export (loaded, if a directory) and where the export goes."""
    if isinstance(model_or_dir, (str, Path)):
        from googlenet.weights.model_dir import from_pretrained
        from googlenet.weights.sources import locate_model

        location = locate_model(model_or_dir)
        if location.hub_name is not None and output is None:  # never into the Hugging Face cache
            raise ValueError(f"{location.hub_name} is read from the Hugging Face cache: give the export an output path")
        directory = location.model_dir
        model = from_pretrained(directory)
        return model, Path(directory / EXPORT_FORMATS[format] if output is None else output)
    if not isinstance(model_or_dir, GoogLeNet):
        raise TypeError(f"export takes a GoogLeNet, a model directory or a run directory, got "
                        f"{type(model_or_dir).__name__}")
    if output is None:
        raise ValueError("export needs an output path when given a model object")
    return copy.deepcopy(model_or_dir), Path(output)


def sidecar_path(output: str | Path) -> Path:
    """Where `export` writes the description of an export: `<output>.json`."""
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


def _example_batch(example: Tensor) -> Tensor:
    # torch.export would fix a batch dimension of 1 (it specialises sizes 0 and 1): a batch of 2.
    return example[:1].expand(EXAMPLE_BATCH, *example.shape[1:]).contiguous()


def _dynamic_batch() -> tuple[dict[int, Any]]:
    return ({0: torch.export.Dim("batch")},)


def exported_program(network: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
    """`network` under torch.export with a dynamic batch size; `example` gives the image shape."""
    return torch.export.export(network, (_example_batch(example),), dynamic_shapes=_dynamic_batch())


def onnx_program(network: nn.Module, example: Tensor) -> Any:
    """`network` as a torch.onnx.ONNXProgram: torch's exporter based on torch.export (the default since
    torch 2.9; the TorchScript-based one is deprecated), opset `ONNX_OPSET`, input `input`, output
    `logits`, dynamic batch; `example` gives the image shape."""
    return torch.onnx.export(
        network, (_example_batch(example),), dynamo=True, opset_version=ONNX_OPSET, input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME], dynamic_shapes=_dynamic_batch(), verbose=False,
    )


def onnx_bytes(network: nn.Module, example: Tensor) -> bytes:
    """`onnx_program(network, example)` as the bytes of an .onnx file (for ONNX Runtime sessions)."""
    buffer = io.BytesIO()
    onnx_program(network, example).save(buffer)
    return buffer.getvalue()
