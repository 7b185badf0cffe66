"""The `googlenet` command line: a thin layer over the library.

Each command has an `_add_<command>` function that declares its arguments and the library call
it runs; `build_parser` lists them. Library imports happen inside the commands so that
`googlenet --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from googlenet.architecture import FLAVOURS


def _add_summary(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("summary", help="Table 1 measured on the built model, and the module comparison")
    parser.add_argument("--flavour", choices=sorted(FLAVOURS), default="paper",
                        help="which network to measure (default: paper, to compare with Table 1)")
    parser.add_argument("--input-size", type=int, default=224, help="square input side (default 224)")
    parser.add_argument("--in-chans", type=int, default=3, help="image channels (default 3)")
    parser.add_argument("--naive", action="store_true", help="naive Inception modules instead of reduced ones")
    parser.add_argument("--json", action="store_true", help="machine-readable output")

    def run(args: argparse.Namespace) -> int:
        from googlenet.summary import format_report, summarize

        report = summarize(args.flavour, args.input_size, args.naive, args.in_chans)
        print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
        return 0

    parser.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="googlenet", description="Inception v1 (GoogLeNet): build, inspect, train, run.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary(commands)
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
