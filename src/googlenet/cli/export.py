"""`googlenet export`: the inference network for another runtime (ONNX, torch.export, TorchScript)."""

from __future__ import annotations

import argparse

from googlenet.cli.common import EXIT_OK, CommandError, add_model_argument

HELP = "inference model for another runtime: ONNX, torch.export (.pt2), TorchScript"


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.weights.export import EXPORT_FORMATS

    add_model_argument(parser)
    parser.add_argument("--format", choices=tuple(EXPORT_FORMATS), default="onnx",
                        help="onnx (needs the export extra), exported-program (for torch.export.load) or "
                        "torchscript (traced; for torch.jit.load)")
    parser.add_argument("--output", metavar="FILE",
                        help="the file to write; its description (preprocessing, class names) goes to FILE.json. "
                        "none: " + ", ".join(EXPORT_FORMATS.values()) + " in the model directory")


def run(args: argparse.Namespace) -> int:
    from googlenet.evaluation.model_source import find_model
    from googlenet.weights.export import export, sidecar_path

    source = find_model(args.model)
    if source.hub_name is not None and args.output is None:  # never into the Hugging Face cache
        raise CommandError(f"{source.hub_name} is read from the Hugging Face cache: give --output")
    path = export(source.model_dir, args.output, args.format)
    print(f"wrote {path} and {sidecar_path(path)} from {source.describe()}")
    return EXIT_OK
