"""`googlenet summary`: Table 1 measured on the built network, and the Inception module comparison."""

from __future__ import annotations

import argparse

from googlenet.cli.common import EXIT_OK, add_json_option, print_json

HELP = "Table 1 measured on the built network, and the naive/reduced Inception module comparison"


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.models.table import FLAVOURS

    parser.add_argument("--flavour", choices=tuple(FLAVOURS), default="paper",
                        help="which network to measure; paper compares with Table 1 as printed")
    parser.add_argument("--input-size", type=int, default=224, metavar="SIZE", help="square input side in pixels")
    parser.add_argument("--in-chans", type=int, default=3, metavar="N", help="image channels (1: grayscale)")
    parser.add_argument("--num-classes", type=int, default=1000, metavar="N",
                        help="classifier outputs (a trained model's parameters and multiply-adds)")
    parser.add_argument("--naive", action="store_true", help="naive Inception modules instead of reduced ones")
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from googlenet.models.summary import format_report, summarize

    report = summarize(args.flavour, args.input_size, args.naive, args.in_chans, args.num_classes)
    if args.json:
        print_json(report.to_dict())
    else:
        print(format_report(report))
    return EXIT_OK
