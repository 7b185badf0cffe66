"""`googlenet dream MODEL IMAGE`: DeepDream, the patterns an Inception module responds to amplified in a photo."""

from __future__ import annotations

import argparse

from googlenet.cli.common import add_model_argument, add_option
from googlenet.cli.visualise import add_unit_options, unit_name

HELP = "DeepDream: amplify in an image what an Inception module (or one channel) responds to, as a PNG"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    add_unit_options(parser, many=False)
    add_option(parser, "--channel", type=int, shown_default="the whole module or branch", help="amplify this channel only")
    parser.add_argument("--octaves", type=int, default=4, help="scales, each 1.4 times smaller than the next")
    parser.add_argument("--steps", type=int, default=10, help="gradient steps per octave")
    parser.add_argument("--seed", type=int, default=0, help="the random jitter; the same seed gives the same image")
    parser.add_argument("--output", default="dream.png", help="the PNG to write")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from googlenet.atomic_files import write_with
    from googlenet.evaluation.model_source import find_model
    from googlenet.visualise.dream import deep_dream
    from googlenet.visualise.sheet import as_pil
    from googlenet.weights.model_dir import from_pretrained

    if not Path(args.image).is_file():
        raise FileNotFoundError(f"{args.image} does not exist (or is not a file)")
    model = from_pretrained(find_model(args.model).model_dir)
    unit = unit_name(args.module, getattr(args, "branch", None))
    channel = getattr(args, "channel", None)
    dreamed = deep_dream(model, args.image, unit, channel=channel, octaves=args.octaves, steps=args.steps,
                         seed=args.seed)
    write_with(args.output, lambda file: as_pil(dreamed).save(file, format="PNG"))
    print(f"{unit}{'' if channel is None else f' channel {channel}'}, {args.octaves} octaves: wrote {args.output}")
    return 0
