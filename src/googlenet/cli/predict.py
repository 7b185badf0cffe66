"""`googlenet predict`: the top-k classes of image files, one entry per input, failures included."""

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

HELP = "top-k classes of images (files or directories of images)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image files, or directories whose files are all predicted (not recursive)")
    parser.add_argument("--top-k", type=int, default=None, metavar="K",
                        help="how many classes to show per image, from 1 to the model's number of classes "
                        "(default: 5, or every class of a model with fewer)")
    add_backend_option(parser)
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from googlenet.evaluation.model_source import find_model
    from googlenet.evaluation.predict import predict
    from googlenet.weights.model_dir import from_pretrained

    from googlenet.evaluation.predict import check_top_k

    source = find_model(args.model)
    model = from_pretrained(source.model_dir)
    try:
        top_k = check_top_k(args.top_k, model.num_classes)
    except ValueError as error:
        raise CommandError(str(error).replace("top_k", "--top-k", 1)) from None
    model = fast_model(model, args.backend, "predict")
    report = predict(model, args.images, top_k=top_k, source=source)
    if args.json:
        print_json({**report.to_dict(), "run_dir": _text(source.run_dir), "backend": args.backend})
    else:
        print(f"model: {source.describe()}")
        for entry in report.predictions:
            if entry.error is None:
                print(entry.path)
                for guess in entry.top_k:
                    print(f"  {guess['probability']:7.2%}  {guess['class_name']}")
    for entry in report.failed:
        print(f"googlenet predict: {entry.path}: {entry.error}", file=sys.stderr)
    return EXIT_SOME_INPUTS_FAILED if report.failed else EXIT_OK


def _text(path: Any) -> str | None:
    return None if path is None else str(path)
