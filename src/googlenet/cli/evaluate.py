"""`googlenet evaluate`: loss, top-1/top-5, per-class accuracy and the confusion matrix of a model."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from googlenet.cli.common import (
    EXIT_OK,
    CommandError,
    add_backend_option,
    add_json_option,
    add_model_argument,
    fast_model,
    model_source,
    print_json,
)

HELP = "loss, top-1/top-5, per-class accuracy and confusion matrix on a data set (default: the model's own)"


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.evaluation.tta import TTA_MODES

    add_model_argument(parser)
    parser.add_argument("--data", metavar="DATA",
                        help="a built-in data set name or an image folder; none: the data set the run recorded "
                        "(its test split for built-in sets, its validation images for folders)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where a built-in data set's files are; none: the run's recorded --data-dir, "
                        "else the system location or cache")
    parser.add_argument("--tta", choices=TTA_MODES, default="center",
                        help="test-time augmentation: center (resize + centre crop), 10crop (torchvision's ten "
                        "crops) or 144crop (the paper's section 7), softmax averaged over the crops")
    parser.add_argument("--batch-size", type=int, default=256, metavar="N", help="images per forward pass")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate the first N images only; none: all")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="data loading processes; 0 loads in this process")
    parser.add_argument("--device", default="auto",
                        help="auto (the GPU where there is one, else the CPU), cpu, cuda, cuda:1, ...; "
                        "the plain backend only")
    add_backend_option(parser)
    parser.add_argument("--int8", action="store_true",
                        help="int8 post-training quantization (ONNX Runtime), calibrated on 512 training images")
    add_json_option(parser)


def _device(args: argparse.Namespace) -> Any:
    import torch

    from googlenet.distributed import resolve_device

    if args.int8 and args.backend != "plain":
        raise CommandError("--int8 runs on ONNX Runtime; leave out --backend")
    # The other backends and int8 run where their runtimes put them: on this process's CPU.
    if args.int8 or args.backend != "plain":
        if args.device not in ("auto", "cpu"):
            what = "--int8" if args.int8 else f"--backend {args.backend}"
            raise CommandError(f"--device {args.device} is for the plain backend; {what} runs on the CPU")
        return torch.device("cpu")
    return resolve_device(args.device)


def run(args: argparse.Namespace) -> int:
    import torch

    from googlenet.data.datasets import load_data
    from googlenet.evaluation.evaluate import evaluate_model
    from googlenet.evaluation.predict import load_model

    source = model_source(args.model)
    data_name = args.data or source.data
    if data_name is None:
        raise CommandError(f"{source.model_dir} records no data set (no run config.json or evaluation.json): "
                           "give --data")
    data_dir = args.data_dir or (source.data_dir if args.data is None else None)
    device = _device(args)
    model = load_model(source.model_dir)
    data = load_data(data_name, data_dir=data_dir,
                     input_size=model.preprocessing.input_size if model.preprocessing else None)
    if model.class_names and list(data.classes) != list(model.class_names):
        raise CommandError(f"{data_name} has classes {list(data.classes)[:10]}..., the model was trained on "
                           f"{model.class_names[:10]}...: they must match in name and order")
    images = data.val_images
    if args.limit:
        images = torch.utils.data.Subset(images, range(min(args.limit, len(images))))
    if args.int8:
        from googlenet.inference.quantize import calibration_images, quantize

        model = quantize(model, calibration_images(data, preprocessing=model.preprocessing))
    else:
        model = fast_model(model, args.backend, "evaluate")
    backend = "int8" if args.int8 else args.backend
    result = evaluate_model(model, images, model.preprocessing or data.preprocessing, model.num_classes,
                            tta=args.tta, batch_size=args.batch_size, workers=args.workers,
                            device=device, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print_json({"model": source.to_dict(), "data": data_name, "tta": args.tta, "backend": backend,
                    **result.to_dict()})
        return EXIT_OK
    names = model.class_names or [str(i) for i in range(model.num_classes)]
    how = args.tta if backend == "plain" else f"{args.tta}, {backend}"
    print(f"model: {source.describe()}")
    print(f"{data_name} ({result.count} images, {how}): loss {result.loss:.4f}, "
          f"top-1 {result.top1:.2f}%, top-5 {result.top5:.2f}%")
    for name, accuracy in zip(names, result.per_class_accuracy):
        print(f"  {name:>24}: {accuracy:6.2f}%")
    return EXIT_OK
