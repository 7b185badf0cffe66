"""The `googlenet` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import json
import sys

from googlenet.architecture import FLAVOURS


def _summary(args: argparse.Namespace) -> int:
    from googlenet.summary import format_report, summarize

    report = summarize(args.flavour, args.input_size, args.naive, args.in_chans)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="googlenet", description="Inception v1 (GoogLeNet): build, inspect, train, run.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    summary = commands.add_parser("summary", help="Table 1 measured on the built model, and the module comparison")
    summary.add_argument("--flavour", choices=sorted(FLAVOURS), default="paper",
                         help="which network to measure (default: paper, to compare with Table 1)")
    summary.add_argument("--input-size", type=int, default=224, help="square input side (default 224)")
    summary.add_argument("--in-chans", type=int, default=3, help="image channels (default 3)")
    summary.add_argument("--naive", action="store_true", help="naive Inception modules instead of reduced ones")
    summary.add_argument("--json", action="store_true", help="machine-readable output")
    summary.set_defaults(run=_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"googlenet {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
