"""`googlenet train`: its options are TrainConfig's fields, generated (help, defaults and choices live there)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from typing import Any, Callable

from googlenet.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_INPUTS_FAILED, EXIT_TERMINATED, add_option

HELP = "train on a built-in data set or an image folder (default: Fashion-MNIST)"
DESCRIPTION = (
    "Train GoogLeNet. Every option defaults to the value shown, which trains on Fashion-MNIST. With --resume, the "
    "defaults are the options the run started with instead, and an option given here overrides them (e.g. more "
    "--epochs). An option whose help mentions none takes the word none."
)
NONE_WORDS = ("none", "off")  # what a user types for None; "off" reads better for an optional feature


def configure(parser: argparse.ArgumentParser) -> None:
    from googlenet.training.config import TrainConfig

    add_config_options(parser, TrainConfig)
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue the run in RUN_DIR exactly where it stopped, from its checkpoint_last.pt (or give "
                             "a checkpoint file of the run, e.g. RUN_DIR/checkpoint_previous.pt); on the CPU it ends "
                             "with the same weights, bit for bit, as an uninterrupted run, on a GPU not promised")


def add_config_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One option per field of the dataclass `config_class` whose metadata does not say "cli": False.

    --name-with-dashes; a bool gets --name/--no-name; `X | None` takes X or the word none; the help, the
    choices and the metavar come from the field's metadata, the default shown from the dataclass; metadata
    "none_word": False keeps the word none out where None only means "chosen for you".
    """
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    for field in dataclasses.fields(config_class):
        if field.metadata.get("cli", True) is False:
            continue
        kind, optional, repeated = _unwrap(hints[field.name], field.name)
        # None chosen for the user (e.g. --flavour: the weights' own) is not a value to type
        optional = optional and field.metadata.get("none_word", True)
        options: dict[str, Any] = {"dest": field.name, "help": field.metadata.get("help", "")}
        if kind is bool and not repeated:
            options["action"] = argparse.BooleanOptionalAction
        else:
            choices = field.metadata.get("choices")
            options["type"] = _value_parser(kind, optional, choices)
            if choices is not None:
                shown = [*map(str, choices), *(NONE_WORDS[:1] if optional else ())]
                options["metavar"] = field.metadata.get("metavar", "{" + ",".join(shown) + "}")
            elif "metavar" in field.metadata:
                options["metavar"] = field.metadata["metavar"]
            if repeated:
                options["nargs"] = "+"
        add_option(parser, "--" + field.name.replace("_", "-"), shown_default=getattr(defaults, field.name),
                   **options)


def _unwrap(hint: Any, name: str) -> tuple[type, bool, bool]:
    """(the value type, whether None is allowed, whether it is a tuple/list of values) of a field's type."""
    optional = False
    arguments = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        optional = type(None) in arguments
        rest = [argument for argument in arguments if argument is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"TrainConfig.{name}: the command line cannot take a {hint}")
        hint, arguments = rest[0], typing.get_args(rest[0])
    if typing.get_origin(hint) in (tuple, list):
        return arguments[0], optional, True
    if typing.get_origin(hint) is typing.Literal:
        return type(arguments[0]), optional, False
    if hint not in (bool, int, float, str):
        raise TypeError(f"TrainConfig.{name}: the command line cannot take a {hint}")
    return hint, optional, False


def _value_parser(kind: type, optional: bool, choices: Any = None) -> Callable[[str], Any]:
    """str -> the field's value; None for the word none where the field allows it. Choices are checked
    here rather than by argparse, which would refuse None."""

    def parse(text: str) -> Any:
        if optional and text.lower() in NONE_WORDS:
            return None
        value = kind(text)
        if choices is not None and value not in choices:
            allowed = ", ".join(map(str, [*choices, *(NONE_WORDS[:1] if optional else ())]))
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {allowed})")
        return value

    parse.__name__ = kind.__name__  # argparse's message: "invalid int value: 'x'"
    return parse


def run(args: argparse.Namespace) -> int:
    from googlenet.training.loop import TrainingDiverged
    from googlenet.training.trainer import train

    # Only the options typed are in `given` (their defaults are suppressed): with --resume each one is
    # compared with the run's, the rest are the run's own.
    given = {key: value for key, value in vars(args).items() if key not in ("command", "run", "resume")}
    try:
        result = train(given, resume=args.resume)
    except TrainingDiverged as error:
        print(f"googlenet train: error: {error}", file=sys.stderr)
        return EXIT_SOME_INPUTS_FAILED
    # train() has printed the summary (on rank 0 only, under torchrun)
    if result.status != "interrupted":
        return EXIT_OK
    return EXIT_TERMINATED if result.stopped_by == "SIGTERM" else EXIT_INTERRUPTED
