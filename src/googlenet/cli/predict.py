"""`googlenet predict`: the top-k classes of image files, one entry per input, failures included."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from googlenet.cli.common import (
    EXIT_OK,
    EXIT_SOME_INPUTS_FAILED,
    add_backend_option,
    add_json_option,
    add_model_argument,
    fast_model,
    model_source,
    print_json,
)

HELP = "top-k classes of images (files or directories of images)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image files, or directories whose image files are all predicted (not recursive)")
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="how many classes to show per image")
    add_backend_option(parser)
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from googlenet.evaluation.predict import collect_images, load_model, predict

    source = model_source(args.model)
    model = fast_model(load_model(source.model_dir), args.backend, "predict")
    found: list[tuple[str, list[Path] | str]] = []  # each input: its image files, or why it has none
    for item in args.images:
        try:
            found.append((item, collect_images([item])))
        except (FileNotFoundError, ValueError) as error:
            found.append((item, "no such file or directory" if isinstance(error, FileNotFoundError) else str(error)))
    files = [path for _, paths in found if not isinstance(paths, str) for path in paths]
    predictions, errors = predict(model, files, top_k=args.top_k)
    done = {prediction.path: prediction.top_k for prediction in predictions}
    entries: list[dict[str, Any]] = []
    for item, paths in found:
        if isinstance(paths, str):
            entries.append({"path": item, "error": paths})
            continue
        for path in map(str, paths):
            reason = next((error for error in errors if error.startswith(f"{path}: ")), f"{path}: failed")
            entries.append({"path": path, "top_k": done[path]} if path in done
                           else {"path": path, "error": reason.removeprefix(f"{path}: ")})
    failed = [entry for entry in entries if "error" in entry]
    if args.json:
        print_json({"model": source.to_dict(), "backend": args.backend, "predictions": entries})
    else:
        _print_text(source.describe(), entries)
    for entry in failed:
        print(f"googlenet predict: {entry['path']}: {entry['error']}", file=sys.stderr)
    return EXIT_SOME_INPUTS_FAILED if failed else EXIT_OK


def _print_text(model: str, entries: list[dict[str, Any]]) -> None:
    print(f"model: {model}")
    for entry in entries:
        if "top_k" in entry:
            print(entry["path"])
            for guess in entry["top_k"]:
                print(f"  {guess['probability']:7.2%}  {guess['class_name']}")
