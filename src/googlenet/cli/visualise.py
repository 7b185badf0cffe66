"""`googlenet visualise MODEL --module inception4c`: what each channel responds to, as one PNG sheet per
module (each channel's feature visualisation beside the dataset images that excite it most)."""

from __future__ import annotations

import argparse

from googlenet.cli.common import CommandError, add_model_argument, add_option

HELP = "what each channel of an Inception module responds to: feature visualisations and dataset examples, as PNGs"
DESCRIPTION = ("For each module given, write one PNG sheet: for each channel, the image optimised to excite it "
               "most beside the images of the run's data that excite it most. The dataset examples are found in "
               "one pass over the split and cached in the model directory.")


def parse_channels(text: str) -> list[int]:
    """"0-15" or "3,7,9-11" as a list of channel indices."""
    channels: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            channels.extend(range(int(first), int(last) + 1) if dash else [int(first)])
        except ValueError:
            raise CommandError(f"--channels {text!r}: give indices and ranges such as 0-15 or 3,7,9-11") from None
    return channels


def add_unit_options(parser: argparse.ArgumentParser, many: bool) -> None:
    parser.add_argument("--module", default="inception4c", metavar="MODULE[,MODULE...]" if many else "MODULE",
                        help="the Inception module" + ("s, comma-separated" if many else "") + " (inception3a ... "
                        "inception5b)")
    add_option(parser, "--branch", type=int, choices=(1, 2, 3, 4), metavar="N",
               shown_default="the whole module, its channels numbered across the four branches",
               help="one branch of the module: 1 (1x1), 2 (3x3), 3 (5x5), 4 (pool projection)")


def unit_name(module: str, branch: int | None) -> str:
    return module if branch is None else f"{module}.branch{branch}"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_unit_options(parser, many=True)
    parser.add_argument("--channels", default="0-15", help="the channels to show, e.g. 0-15 or 3,7,9-11")
    parser.add_argument("--output", default="visualise", metavar="DIR",
                        help="the folder for the sheets (MODULE.png, or MODULE.branchN.png)")
    from googlenet.visualise.optimise import STEPS

    parser.add_argument("--steps", type=int, default=STEPS, help="optimisation steps per image")
    parser.add_argument("--seed", type=int, default=0, help="the random start; the same seed gives the same images")
    parser.add_argument("--examples", type=int, default=6, metavar="K",
                        help="dataset examples per channel (0: none)")
    parser.add_argument("--split", choices=("validation", "train", "test"), default="validation",
                        help="where dataset examples come from (train: the training images, not augmented)")
    add_option(parser, "--data", shown_default="the data set the run trained on",
               help="the data set of the dataset examples: a built-in name or an image folder")
    add_option(parser, "--data-dir", shown_default="the run's", help="the folder holding a built-in data set's files")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from googlenet.evaluation.model_source import find_model
    from googlenet.visualise.examples import TOP_K, dataset_examples
    from googlenet.visualise.optimise import visualise_channels
    from googlenet.visualise.sheet import SheetRow, save_sheet
    from googlenet.visualise.units import check_channels, resolve_unit
    from googlenet.weights.model_dir import from_pretrained

    source = find_model(args.model)
    model = from_pretrained(source.model_dir).eval()
    channels = parse_channels(args.channels)
    data, data_dir, branch = (getattr(args, name, None) for name in ("data", "data_dir", "branch"))
    units = [resolve_unit(model, unit_name(module.strip(), branch)) for module in args.module.split(",")]
    for unit in units:
        check_channels(unit, channels)
    if not 0 <= args.examples <= TOP_K:
        raise CommandError(f"--examples {args.examples}: choose 0 to {TOP_K}")
    examples = None
    if args.examples and (data or source.data):
        print(f"dataset examples: the {args.split} split of {data or source.data} (cached in "
              f"{source.model_dir / 'dataset_examples'})")
        examples = dataset_examples(source.model_dir, split=args.split, data=data, data_dir=data_dir)
    elif args.examples:
        print(f"no dataset examples: {source.model_dir} records no data set; pass --data")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    for unit in units:
        images = visualise_channels(model, unit, channels, steps=args.steps, seed=args.seed)
        rows = [SheetRow(channel, image, examples.images(unit, channel)[:args.examples] if examples else None)
                for channel, image in zip(channels, images)]
        split = f", {args.split} split" if examples else ""
        path = save_sheet(output / f"{unit.name}.png", f"{unit.label}: channel, visualisation, dataset examples{split}",
                          rows)
        print(f"{unit.label}: wrote {path}")
    return 0
