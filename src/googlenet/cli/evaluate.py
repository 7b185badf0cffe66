"""`googlenet evaluate`: loss, top-1/top-5, per-class accuracy and the confusion matrix of a model."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from googlenet.cli.common import (
    EXIT_OK,
    EXIT_SOME_INPUTS_FAILED,
    CommandError,
    add_backend_option,
    add_json_option,
    add_model_argument,
    fast_model,
    print_json,
)

HELP = "loss, top-1/top-5, per-class accuracy and confusion matrix on a data set (default: the model's own)"
SPLITS = ("test", "validation")


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.evaluation.tta import TTA_MODES

    add_model_argument(parser)
    parser.add_argument("--data", metavar="DATA",
                        help="a built-in data set name or an image folder; none: the data set the run recorded, "
                        "with its data directory, validation share and seed")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where a built-in data set's files are; none: the run's recorded --data-dir, "
                        "else the system location or cache")
    parser.add_argument("--split", choices=SPLITS,
                        help="which split to measure; none: test where the data set has one, else validation")
    parser.add_argument("--tta", choices=TTA_MODES, default="center",
                        help="test-time augmentation: center (resize + centre crop), 10crop (torchvision's ten "
                        "crops) or 144crop (the paper's section 7), softmax averaged over the crops; no mirrored "
                        "crops for data sets that are not mirror-safe (mnist, kmnist: 5 and 72)")
    parser.add_argument("--batch-size", type=int, default=256, metavar="N", help="images per forward pass")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate the first N images only; none: all")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="data loading processes; 0 loads in this process")
    parser.add_argument("--device", default="auto",
                        help="auto (the GPU where there is one, else the CPU), cpu, cuda, cuda:1, ...; "
                        "the plain backend only")
    add_backend_option(parser)
    parser.add_argument("--int8", action="store_true",
                        help="int8 post-training quantization (googlenet.quantize), calibrated on 512 training images, "
                        "on the faster installed int8 runtime (ONNX Runtime or OpenVINO, measured here)")
    add_json_option(parser)


def _check_device(args: argparse.Namespace) -> str:
    if args.int8 and args.backend != "plain":
        raise CommandError("--int8 chooses its own runtime (the faster of ONNX Runtime and OpenVINO); "
                           "leave out --backend")
    # The other backends and int8 run where their runtimes put them: on this process's CPU.
    if args.int8 or args.backend != "plain":
        if args.device not in ("auto", "cpu"):
            what = "--int8" if args.int8 else f"--backend {args.backend}"
            raise CommandError(f"--device {args.device} is for the plain backend; {what} runs on the CPU")
        return "cpu"
    return args.device


def _int8(model: Any, source: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """(the int8 model, the data splits its calibration images came from, to evaluate on)."""
    from googlenet.evaluation.model_source import load_run_data
    from googlenet.inference.quantize import calibration_images, quantize

    if args.data is None and source.data is None:
        raise CommandError(f"{source.model_dir} records no data set: give --data")
    splits = load_run_data(source, args.data, args.data_dir,
                           input_size=model.preprocessing.input_size if model.preprocessing else None)
    return quantize(model, calibration_images(splits, preprocessing=model.preprocessing)), splits


def run(args: argparse.Namespace) -> int:
    from googlenet.evaluation.evaluate import evaluate
    from googlenet.evaluation.model_source import find_model
    from googlenet.weights.model_dir import from_pretrained

    device = _check_device(args)
    source = find_model(args.model)
    model, data = from_pretrained(source.model_dir), args.data
    if args.int8:
        model, data = _int8(model, source, args)
    else:
        model = fast_model(model, args.backend, "evaluate")
    backend = "int8" if args.int8 else args.backend
    result = evaluate(model, data, split=args.split, data_dir=args.data_dir, source=source, tta=args.tta,
                      batch_size=args.batch_size, workers=args.workers, device=device, limit=args.limit,
                      progress=not args.json and sys.stderr.isatty())
    if args.json:
        print_json({**result.to_dict(), "run_dir": None if source.run_dir is None else str(source.run_dir),
                    "backend": backend})
    else:
        _print_text(result, source, model, backend)
    for skipped in result.skipped:
        print(f"googlenet evaluate: {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    return EXIT_SOME_INPUTS_FAILED if result.skipped else EXIT_OK


def _print_text(result: Any, source: Any, model: Any, backend: str) -> None:
    names = model.class_names or [str(index) for index in range(model.num_classes)]
    how = result.tta if backend == "plain" else f"{result.tta}, {backend}"
    if result.tta_note:
        how += f": {result.tta_note}"
    skipped = f", {len(result.skipped)} unreadable skipped" if result.skipped else ""
    print(f"model: {source.describe()}")
    print(f"{result.data}, {result.split} split ({result.count} images{skipped}, {how}): loss {result.loss:.4f}, "
          f"top-1 {result.top1:.2f}%, top-5 {result.top5:.2f}%")
    for name, accuracy in zip(names, result.per_class_accuracy):
        print(f"  {name:>24}: {accuracy:6.2f}%")
