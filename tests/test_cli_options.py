"""Every command's options: each shows its default, choices come from the registries, and `googlenet
train`'s options are TrainConfig's fields, one to one."""

import argparse
import dataclasses
import typing

import pytest

from googlenet.cli import COMMANDS, build_parser
from googlenet.cli.common import HelpFormatter


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    subparsers = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return dict(subparsers.choices)


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions
            if action.option_strings and not isinstance(action, argparse._HelpAction)]


def shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    return parser._get_formatter()._expand_help(action)


def train_config() -> type:
    from googlenet.training.config import TrainConfig

    return TrainConfig


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_says_what_it_does_and_shows_its_default(command):
    parser = command_parsers()[command]
    assert parser.formatter_class is HelpFormatter
    for action in options_of(parser):
        text = shown_help(parser, action)
        flag = action.option_strings[-1]
        assert len(text.split("(default:")[0].strip()) >= 4, f"googlenet {command} {flag}: no help"
        assert "(default: " in text, f"googlenet {command} {flag} hides its default: {text!r}"
        for raw in ("(default: None)", "(default: True)", "(default: False)", "(default: ==SUPPRESS==)"):
            assert raw not in text, f"googlenet {command} {flag}: {raw} is Python, not what a user types"
    help_text = parser.format_help()
    assert help_text.count("(default:") >= len(options_of(parser))


def test_the_formatter_shows_defaults_as_a_user_types_them():
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--on", action=argparse.BooleanOptionalAction, default=True, help="a switch")
    parser.add_argument("--flag", action="store_true", help="a flag")
    parser.add_argument("--sizes", nargs="*", type=int, default=[1, 32], help="sizes")
    parser.add_argument("--limit", type=int, help="a limit; none: all")
    parser.add_argument("--share", default="10%", help="a share")
    text = " ".join(parser.format_help().split())
    for expected in ("a switch (default: on)", "a flag (default: off)", "sizes (default: 1 32)",
                     "a limit; none: all (default: none)", "a share (default: 10%)"):
        assert expected in text


def test_choices_come_from_the_registries():
    from googlenet.evaluation.tta import TTA_MODES
    from googlenet.inference.optimize import BACKENDS
    from googlenet.models.table import FLAVOURS
    from googlenet.weights.export import EXPORT_FORMATS

    parsers = command_parsers()

    def choices(command: str, flag: str) -> tuple:
        return tuple(next(a for a in options_of(parsers[command]) if flag in a.option_strings).choices)

    assert choices("evaluate", "--tta") == tuple(TTA_MODES)
    assert choices("evaluate", "--backend") == ("plain", "auto", *BACKENDS)
    assert choices("predict", "--backend") == ("plain", "auto", *BACKENDS)
    assert choices("export", "--format") == tuple(EXPORT_FORMATS)
    assert choices("summary", "--flavour") == tuple(FLAVOURS)


# --- googlenet train: generated from TrainConfig ------------------------------------------------------


def train_options() -> dict[str, argparse.Action]:
    return {action.dest: action for action in options_of(command_parsers()["train"]) if action.dest != "resume"}


def test_train_options_are_train_config_fields_one_to_one():
    config = train_config()
    on_command_line = [field for field in dataclasses.fields(config) if field.metadata.get("cli", True)]
    options = train_options()
    assert sorted(options) == sorted(field.name for field in on_command_line)
    hints = typing.get_type_hints(config)
    defaults = config()
    for field in on_command_line:
        action = options[field.name]
        assert action.option_strings[0] == "--" + field.name.replace("_", "-")
        assert field.metadata.get("help"), f"TrainConfig.{field.name} has no help"
        assert action.help == field.metadata["help"]
        assert action.shown_default == getattr(defaults, field.name)
        assert action.default is argparse.SUPPRESS  # so that --resume keeps what was not given
        if hints[field.name] is bool:
            assert isinstance(action, argparse.BooleanOptionalAction)
            assert "--no-" + field.name.replace("_", "-") in action.option_strings


def test_train_parses_only_what_was_given_with_none_and_no_switches():
    parser = command_parsers()["train"]
    args = vars(parser.parse_args(["--epochs", "3", "--ema-decay", "none", "--no-aux-logits",
                                   "--flavour", "torchvision"]))
    args.pop("run")
    assert args == {"epochs": 3, "ema_decay": None, "aux_logits": False, "flavour": "torchvision", "resume": None}


def test_train_refuses_a_value_outside_the_field_choices(capsys):
    parser = command_parsers()["train"]
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--schedule", "linear"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'linear'" in capsys.readouterr().err


def test_train_help_explains_the_preset_and_random_erasing():
    parser = command_parsers()["train"]
    options = train_options()
    erase = shown_help(parser, options["random_erase"])
    assert "long preset" not in erase and "probability" in erase
    preset = shown_help(parser, options["train_preset"])
    assert "auto" in preset and "paper" in preset and "small" in preset
    from googlenet.data.transforms import TRAIN_PRESET_SUMMARIES

    flat = " ".join(preset.split())
    assert all(f"{name}: {' '.join(summary.split())}" in flat for name, summary in TRAIN_PRESET_SUMMARIES.items())
