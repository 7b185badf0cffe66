"""What every command shares: exit codes, the help format, the MODEL argument, --json, --backend.

Every command exits with one of `EXIT_CODES`. Problems are reported on stderr as one line,
`googlenet <command>: error: <message>`, and library warnings as `googlenet <command>: warning: ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import typing
from collections.abc import Iterator
from typing import Any

EXIT_OK = 0
EXIT_SOME_INPUTS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_FAILED = 3
# Ctrl-C and SIGTERM as a shell reports a process they stopped: 128 + the signal's number.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_SOME_INPUTS_FAILED: "the command ran, but some inputs failed (unreadable images: each one is named; "
    "a training run that diverged)",
    EXIT_BAD_INPUT: "bad usage or bad input: an unknown option, a missing or invalid model directory, data set "
    "or file, a missing optional dependency; nothing was done",
    EXIT_FAILED: "an unexpected failure (out of memory, a bug): the message says what; set GOOGLENET_TRACEBACK=1 "
    "to see where",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (SIGINT); a training run leaves a checkpoint to --resume from",
    EXIT_TERMINATED: "stopped by SIGTERM (kill, docker stop, a job scheduler); a training run leaves a checkpoint "
    "to --resume from, a server finishes the requests in flight first",
}


class Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt: its clean-up runs, and the
    command line ends with EXIT_TERMINATED. A BaseException for the same reason as KeyboardInterrupt: no
    `except Exception` on the way mistakes it for a failure."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises_terminated() -> Iterator[None]:
    """SIGTERM raises `Terminated` within the block (Python's default would end the process at once,
    skipping every clean-up), the handler before it restored after. What takes SIGTERM over inside (the
    training loop's stop requests, uvicorn's graceful shutdown, which raises it again once done) restores
    this one when it is through."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals are the main thread's to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class CommandError(Exception):
    """Bad usage or bad input found by a command itself: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (the usage is one --help away) and exit status 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default: "(default: 7)", "(default: on)", "(default: none)".

    An option added with `default=argparse.SUPPRESS` (so that the command can tell what was given) shows
    its `shown_default` attribute instead; see `add_option`.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = (action.help or "").replace(" (default: %(default)s)", "")  # BooleanOptionalAction's own
        if not action.option_strings or action.help == argparse.SUPPRESS or "(default:" in text:
            return text
        default = getattr(action, "shown_default", action.default)
        if default is argparse.SUPPRESS:
            return text
        return f"{text} (default: {show_default(default, action).replace('%', '%%')})"


def show_default(value: Any, action: argparse.Action | None = None) -> str:
    """A default as a user types it: on/off for switches, none, 1 32 for lists."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        value = bool(value) if isinstance(action, argparse._StoreTrueAction) else not value
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) if value else "none"
    return str(value)


def add_option(parser: argparse.ArgumentParser, *flags: str, shown_default: Any = argparse.SUPPRESS,
               **options: Any) -> argparse.Action:
    """An option absent from the parsed namespace unless given; its help shows `shown_default`."""
    action = parser.add_argument(*flags, default=argparse.SUPPRESS, **options)
    action.shown_default = shown_default  # type: ignore[attr-defined]
    return action


MODEL_HELP = ("a model directory (config.json + model.safetensors), a training run directory (its model/: the "
              "weights the run kept) or hf-hub:user/repo (a Hugging Face Hub repository)")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of text")


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    from googlenet.inference.optimize import BACKENDS

    parser.add_argument("--backend", choices=("plain", "auto", *BACKENDS), default="plain",
                        help="plain: the model as saved, in PyTorch; auto: the fastest fast path installed, "
                        "measured here; or one fast path of googlenet.optimize (folded BatchNorm, fused 1x1 "
                        "convolutions)")


def fast_model(model: Any, backend: str, command: str) -> Any:
    """`model` on `backend` (googlenet.optimize); says which backend on stderr."""
    if backend == "plain":
        return model
    from googlenet.inference.optimize import available_backends, backend_problem, optimize

    problem = None if backend == "auto" else backend_problem(backend)
    if problem is not None:  # optimize's own message lists its backends, which lack this option's plain
        choices = ", ".join(("plain (the default)", "auto", *available_backends()))
        raise CommandError(f"--backend {backend}: {problem}. Available here: {choices}")
    fast = optimize(model, backend)
    print(f"googlenet {command}: {fast.describe()}", file=sys.stderr)
    return fast


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2))
