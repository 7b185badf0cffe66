"""TrainConfig: every field documented for the generated command line, defaults resolved from other
options, bad values named; TrainResult's summary names the split of every figure."""

import dataclasses
from pathlib import Path

import pytest

from googlenet.training.config import (
    EPOCHS_FROM_INIT,
    EPOCHS_FROM_SCRATCH,
    LR_FROM_INIT,
    LR_FROM_SCRATCH,
    TrainConfig,
    TrainResult,
)


def test_every_field_has_user_facing_help():
    for field in dataclasses.fields(TrainConfig):
        help_text = field.metadata.get("help", "")
        assert len(help_text) > 12, field.name
        assert "%" not in help_text, field.name  # argparse formats help with %
        assert "main job" not in help_text, field.name
        if "choices" in field.metadata:
            assert field.default is None or field.default in field.metadata["choices"], field.name


def test_epochs_and_flavour_default_from_init():
    assert TrainConfig().resolved().epochs == EPOCHS_FROM_SCRATCH == 5
    assert TrainConfig(init="run").resolved().epochs == EPOCHS_FROM_INIT < EPOCHS_FROM_SCRATCH
    assert TrainConfig(init="run", epochs=9).resolved().epochs == 9
    assert TrainConfig().resolved().flavour == "bn"
    assert TrainConfig().resolved().lr == LR_FROM_SCRATCH == 0.05 and TrainConfig(lr=0.3).resolved().lr == 0.3
    assert TrainConfig(init="run").resolved().lr == LR_FROM_INIT == 0.1  # fine-tuning's measured rate
    assert TrainConfig(init="run").resolved().flavour is None  # the weights' own, decided when they are read


def test_aux_heads_default_on_at_the_papers_224_px_and_off_below_with_the_reason_said():
    from googlenet.training.setup import default_aux_logits

    assert TrainConfig().aux_logits is None  # decided from the input size when the data is read
    assert default_aux_logits(32) == (False, "aux heads off below the paper's 224 px: --aux-logits turns them on")
    assert default_aux_logits(223)[0] is False
    on, why = default_aux_logits(224)
    assert on is True and "--no-aux-logits" in why and default_aux_logits(299)[0] is True


@pytest.mark.parametrize("options, message", [
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"batch_size": 1}, "--batch-size must be at least 2"),
    ({"val_fraction": 1.0}, r"--val-fraction must be in \[0, 1\)"),
    ({"freeze_to": "inception4e"}, "--freeze-to needs --init"),
    ({"init": "x", "pretrained_lr_scale": 0}, "--pretrained-lr-scale must be in"),
    ({"flavour": "resnet"}, "unknown flavour 'resnet'"),
    ({"test_subset": 0}, "--test-subset must be at least 1"),
])
def test_bad_values_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options).check()


def test_a_config_round_trips_through_its_dict_and_ignores_unknown_keys():
    config = TrainConfig(data="folder", epochs=3, ema_decay=None, hflip=False)
    assert TrainConfig.from_dict({**config.to_dict(), "run_format": 2, "retired_option": 1}) == config


def test_the_summary_names_the_split_of_every_figure():
    result = TrainResult("finished", Path("runs/x"), 5, selected_epoch=4, selected_weights="ema",
                         selected_by="validation top-1",
                         validation={"top1": 91.5, "top5": 99.6, "count": 6000},
                         test={"top1": 91.0, "top5": 99.7, "count": 10000})
    lines = result.summary().splitlines()
    assert "EMA weights of epoch 4" in lines[0] and "validation top-1" in lines[0]
    assert lines[1].startswith("validation accuracy (top-1): 91.50%") and "6000 images" in lines[1]
    assert lines[2].startswith("test accuracy (top-1): 91.00%")
    without_validation = dataclasses.replace(result, selected_by="final epoch (no validation split)",
                                             validation=None)
    assert "validation accuracy" not in without_validation.summary()

