"""The `googlenet` command line (also `python -m googlenet`): a thin layer over the library.

One module per command, each with `HELP` (its line in `googlenet --help`), `configure(parser)` (its
options) and `run(args) -> int` (the library call). `main` builds the options of the command being
run only, so that `googlenet summary` never imports the training or data code; the commands' own
imports happen inside `configure` and `run`.

Exit statuses, the same for every command (`googlenet --help` lists them):
    0    success
    1    the command ran, but some inputs failed (each is named; e.g. unreadable images)
    2    bad usage or bad input (nothing was done); argparse's own usage errors are 2 as well
    3    an unexpected failure (GOOGLENET_TRACEBACK=1 shows the traceback)
    130  interrupted by Ctrl-C
    143  stopped by SIGTERM
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import warnings
from types import ModuleType
from typing import Any

from googlenet.cli import (benchmark, dream, evaluate, explain, export, import_torchvision, predict, serve, summary,
                           train, visualise)
from googlenet.atomic_files import AtomicWriteError
from googlenet.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    CommandError,
    HelpFormatter,
    Parser,
    Terminated,
    sigterm_raises_terminated,
)

# command name -> its module, in the order `googlenet --help` lists them
COMMANDS: dict[str, ModuleType] = {
    "summary": summary,
    "train": train,
    "evaluate": evaluate,
    "predict": predict,
    "export": export,
    "import-torchvision": import_torchvision,
    "benchmark": benchmark,
    "serve": serve,
    "explain": explain,
    "visualise": visualise,
    "dream": dream,
}

# Bad input: the file, option or value named in the message is wrong, or an optional dependency is
# missing. Anything else is unexpected (EXIT_FAILED).
BAD_INPUT_ERRORS = (CommandError, ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                    PermissionError, ImportError, AtomicWriteError)


def _is_bad_input(error: Exception) -> bool:
    # A module of this package that cannot be imported is a broken installation, not a missing extra.
    broken_install = isinstance(error, ImportError) and (error.name or "").split(".")[0] == "googlenet"
    return isinstance(error, BAD_INPUT_ERRORS) and not broken_install


def _version() -> str:
    import torch

    from googlenet import __version__

    return f"googlenet {__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with `only`, of that command alone (the others listed by name)."""
    parser = Parser(
        prog="googlenet", formatter_class=HelpFormatter,
        description="Inception v1 (GoogLeNet): build, inspect, train, evaluate, run and export the network.",
        epilog="exit status:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
        + "\n\n`googlenet COMMAND --help` shows a command's options and their defaults.",
    )
    parser.add_argument("--version", action="version", version=_version(),
                        help="print the versions of googlenet, torch and Python, and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        description = textwrap.fill(getattr(module, "DESCRIPTION", module.HELP), width=100)
        command = commands.add_parser(name, help=module.HELP, description=description, formatter_class=HelpFormatter)
        if only is None or only == name:
            module.configure(command)
            command.set_defaults(run=module.run)
    parser.command_parsers = commands.choices  # type: ignore[attr-defined]
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """The parsed command line; a word no command takes is refused by that command's parser, so the
    error names the command and its --help (argparse's own top-level message names neither)."""
    name = _command_named(argv)
    parser = build_parser(only=name if name in COMMANDS else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _command_named(argv: list[str]) -> str | None:
    # The top-level options (--help, --version) take no value, so the first other word is the command.
    return next((word for word in argv if not word.startswith("-")), None)


def _show_warning(command: str) -> Any:
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"googlenet {command}: warning: {message}", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parse(argv)
    prefix = f"googlenet {args.command}"
    with warnings.catch_warnings(), sigterm_raises_terminated():
        warnings.showwarning = _show_warning(args.command)
        try:
            return args.run(args)
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Terminated:
            print(f"{prefix}: stopped by SIGTERM", file=sys.stderr)
            return EXIT_TERMINATED
        except Exception as error:  # noqa: BLE001 - the command line's promise: one line, never a traceback
            from googlenet.distributed import shared_failure  # here: torch is not imported by every command

            shared = shared_failure(error)
            if shared is not None:  # under torchrun, every rank stopped: rank 0 says why, once
                message, cause = shared
                if os.environ.get("RANK", "0") == "0":
                    print(f"{prefix}: error: {message}", file=sys.stderr)
                return EXIT_BAD_INPUT if issubclass(cause, BAD_INPUT_ERRORS) else EXIT_FAILED
            if _is_bad_input(error):
                print(f"{prefix}: error: {error} (see {prefix} --help)", file=sys.stderr)
                return EXIT_BAD_INPUT
            if os.environ.get("GOOGLENET_TRACEBACK"):
                raise
            print(f"{prefix}: error: {type(error).__name__}: {error} (GOOGLENET_TRACEBACK=1 shows where)",
                  file=sys.stderr)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
