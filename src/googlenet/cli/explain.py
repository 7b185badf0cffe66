"""`googlenet explain MODEL IMAGE`: Grad-CAM and the branch shares of one image, as a PNG (and JSON)."""

from __future__ import annotations

import argparse
import json

from googlenet.cli.common import add_model_argument

HELP = "where the network looked (Grad-CAM) and which Inception branches carried the evidence, as a PNG"
DESCRIPTION = ("Write the Grad-CAM overlay and the branch shares of the nine Inception modules for one image as "
               "one PNG; with --json, print the numbers too.")


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    parser.add_argument("--class", dest="class_name", metavar="NAME",
                        help="the class to explain (default: the predicted one)")
    parser.add_argument("--layer", metavar="MODULE",
                        help="Grad-CAM's Inception module, e.g. inception4a (default: the deepest whose map is at "
                        "least 4x4 at the model's input size)")
    parser.add_argument("--output", default="explain.png", help="the PNG to write")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from googlenet.explain.attribution import explain
    from googlenet.explain.render import save_explanation_png

    if not Path(args.image).is_file():
        raise FileNotFoundError(f"{args.image} does not exist (or is not a file)")
    explanation = explain(args.model, args.image, class_name=args.class_name, layer=args.layer)
    path = save_explanation_png(explanation, args.output)
    if args.json:
        print(json.dumps({"model": args.model, "image": args.image, "output": str(path), **explanation.to_dict()},
                         indent=2))
        return 0
    print(f"{explanation.class_name} ({explanation.probability:.1%}); Grad-CAM on {explanation.gradcam_layer}; "
          f"wrote {path}")
    for module in explanation.modules:
        shares = ", ".join(f"{branch.label} {branch.share:.0%}" for branch in module.branches)
        print(f"  {module.name}: {shares}")
    return 0
