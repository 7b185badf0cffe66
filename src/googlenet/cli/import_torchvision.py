"""`googlenet import-torchvision`: a torchvision googlenet checkpoint (.pth) as a model directory."""

from __future__ import annotations

import argparse

from googlenet.cli.common import EXIT_OK

HELP = "turn a torchvision googlenet checkpoint (.pth) into a model directory"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="PATH.pth",
                        help="torchvision's googlenet state_dict, e.g. its ImageNet googlenet-1378be20.pth")
    parser.add_argument("output_dir", metavar="OUT_DIR",
                        help="the model directory to write: a new path, an empty directory or a model directory "
                        "(never a training run directory)")
    parser.add_argument("--aux-logits", action="store_true",
                        help="keep the aux heads (torchvision's ImageNet ones were never trained)")
    parser.add_argument("--no-transform-input", dest="transform_input", action="store_false",
                        help="for a torchvision googlenet trained without transform_input (not the ImageNet one)")


def run(args: argparse.Namespace) -> int:
    from googlenet.weights.imagenet import import_torchvision

    directory = import_torchvision(args.checkpoint, args.output_dir, aux_logits=args.aux_logits,
                                   transform_input=args.transform_input)
    print(f"wrote {directory} (torchvision flavour; try: googlenet predict {directory} IMAGE)")
    return EXIT_OK
