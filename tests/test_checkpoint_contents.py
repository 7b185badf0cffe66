"""What a checkpoint holds and how `--resume` reads it, piece by piece without training: the payload's
named entries, the version rule, the path `--resume` names, the fit check, and the note on a new length."""

from pathlib import Path

import pytest
import torch

from googlenet.training.checkpoint import CheckpointError, build_payload, check_fits, checkpoint_path, read_checkpoint
from googlenet.training.config import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, TrainConfig
from googlenet.training.resume import _length_note, exactness_note
from googlenet.training.schedule import LearningRateSchedule
from test_checkpoint import ALONE, payload_of, small_state


def test_the_payload_names_every_entry_resume_reads():
    state = small_state()
    payload = payload_of(state)
    assert payload["format"] == CHECKPOINT_FORMAT and payload["version"] == CHECKPOINT_VERSION
    assert payload["train_config"] == TrainConfig(epochs=3).to_dict()
    assert payload["world_size"] == 1 and len(payload["rng_by_rank"]) == len(payload["totals_by_rank"]) == 1
    assert payload["ema_warmup"] == state.ema.warmup and payload["ema"] is not None
    assert payload["model_config"] == {} and payload["class_names"] == []
    state.ema = None
    without = build_payload(state, TrainConfig(epochs=3), [{"rng": {}, "totals": {}}] * 2, {})
    assert without["ema"] is None and without["ema_warmup"] is None and without["world_size"] == 2


def test_a_checkpoint_without_a_version_is_a_development_ones(tmp_path):
    path = tmp_path / "checkpoint_last.pt"
    torch.save({"format": CHECKPOINT_FORMAT}, path)
    with pytest.raises(CheckpointError, match=r"development version before googlenet 0\.1\.0 \(checkpoint version 1\)"):
        read_checkpoint(path)


def test_a_missing_run_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^cannot resume: .*nowhere does not exist$"):
        read_checkpoint(tmp_path / "nowhere" / "checkpoint_last.pt")


@pytest.mark.parametrize("given, path", [("runs/a", "runs/a/checkpoint_last.pt"), ("runs/a/epoch3.pt", "runs/a/epoch3.pt"),
                                         ("runs/a/old.pth", "runs/a/old.pth"), ("runs/a.v2", "runs/a.v2/checkpoint_last.pt")])
def test_resume_names_a_run_directory_or_a_checkpoint_file(given, path):
    assert checkpoint_path(given) == Path(path)


def fits(saved: dict, **run) -> None:
    """check_fits of `saved` against a run that differs from it in `run` (model config keys, class_names,
    preprocessing)."""
    from googlenet.models.preprocessing import Preprocessing

    model_config = {key: run.pop(key, value) for key, value in saved["model_config"].items()}
    check_fits(saved, Path("c.pt"), model_config=model_config, class_names=run.pop("class_names", ["a", "b"]),
               preprocessing=run.pop("preprocessing", Preprocessing(**saved["preprocessing"])))


def test_a_checkpoint_of_another_network_or_other_classes_does_not_fit():
    from googlenet.models.preprocessing import Preprocessing

    gray = Preprocessing(input_size=32, resize_size=32, mean=(0.286,), std=(0.353,), channel_order="L")
    saved = {"model_config": {"flavour": "paper", "num_classes": 2, "in_chans": 1, "aux_logits": True},
             "class_names": ["a", "b"], "preprocessing": gray.to_dict()}
    fits(saved)
    fits({**saved, "class_names": None})  # an older checkpoint without names
    for key, value in (("flavour", "torchvision"), ("num_classes", 5), ("in_chans", 3), ("aux_logits", False)):
        with pytest.raises(ValueError, match=rf"^checkpoint c\.pt does not fit this run \({key}: checkpoint "):
            fits(saved, **{key: value})
    with pytest.raises(ValueError, match=r"^checkpoint c\.pt was trained on classes \['a', 'b'\], this data set has \['x', 'y'\]$"):
        fits(saved, class_names=["x", "y"])
    message = "checkpoint c.pt does not fit this run (num_classes: checkpoint 2 vs this run 5, in_chans: checkpoint 1 vs this run 3)"
    with pytest.raises(ValueError) as refused:
        fits(saved, num_classes=5, in_chans=3)
    assert str(refused.value) == message


@pytest.mark.parametrize("change, named", [
    ({"input_size": 64}, "input_size: checkpoint 32 vs this run 64"),
    ({"resize_size": 36}, "resize_size: checkpoint 32 vs this run 36"),
    ({"mean": (0.5,)}, "mean: checkpoint (0.286,) vs this run (0.5,)"),
    ({"std": (0.25,)}, "std: checkpoint (0.353,) vs this run (0.25,)"),
    ({"mean": (0.286,) * 3, "std": (0.353,) * 3, "channel_order": "RGB"}, "channels: checkpoint 1 vs this run 3"),
])
def test_a_checkpoint_whose_images_were_prepared_otherwise_does_not_fit(change, named):
    from dataclasses import replace

    from googlenet.models.preprocessing import Preprocessing

    gray = Preprocessing(input_size=32, resize_size=32, mean=(0.286,), std=(0.353,), channel_order="L")
    saved = {"model_config": {"num_classes": 2}, "class_names": ["a", "b"], "preprocessing": gray.to_dict()}
    with pytest.raises(ValueError) as refused:
        fits(saved, preprocessing=replace(gray, **change))
    message = str(refused.value)
    assert message.startswith("checkpoint c.pt does not fit this run: the images would be prepared otherwise (")
    assert named in message and "\n" not in message


def test_the_note_on_a_new_length_says_where_the_learning_rate_goes():
    paper = LearningRateSchedule.for_run("paper", 10, 4, 0)
    assert _length_note(paper, paper, 15, 9) == "--epochs 9: the paper's schedule (x0.96 every 8 epochs) goes on to epoch 9"
    cosine = LearningRateSchedule.for_run("cosine", 10, 4, 0)
    assert _length_note(cosine, cosine, 20, 8) == ("--epochs 8: the cosine continues from the current learning rate "
                                                   "(x0.5000 of the peak) down to 0 at the end of epoch 8; it never rises")
    finished = _length_note(cosine, cosine, 40, 6)
    assert finished.startswith("--epochs 6: warning: this run's cosine schedule has reached learning rate 0")
    assert "start a new run with --init on this run directory" in finished


def test_a_checkpoint_from_a_newer_googlenet_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "checkpoint_last.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION + 1}, path)
    with pytest.raises(CheckpointError, match=rf"newer googlenet \(checkpoint version {CHECKPOINT_VERSION + 1}\); upgrade googlenet$"):
        read_checkpoint(path)


def test_restore_gives_back_the_schedule_and_the_averages_warm_up_and_says_whether_it_restored_the_ranks():
    from googlenet.distributed import DistributedContext
    from googlenet.training.checkpoint import restore

    state = small_state()
    state.schedule = LearningRateSchedule.for_run("paper", 7, 5, 1)
    state.ema.warmup = False
    payload = payload_of(state)
    fresh = small_state(seed=1)
    assert restore(fresh, payload, ALONE) is True
    assert fresh.schedule == state.schedule and fresh.ema.warmup is False
    older = {key: value for key, value in payload.items() if key != "ema_warmup"}
    assert restore(fresh, older, ALONE) is True and fresh.ema.warmup is True  # written before the entry existed
    two = DistributedContext(rank=1, world_size=2)
    assert restore(fresh, payload, two) is False  # another number of processes: the sums and random state stay


def test_resume_config_is_the_runs_own_directory_never_overwritten(tmp_path):
    from googlenet.training.resume import ResumePoint, resume_config, run_directory

    run = tmp_path / "run"
    saved = {**TrainConfig(epochs=3).to_dict(), "output_dir": "elsewhere", "overwrite": True}
    config = resume_config(ResumePoint(run, run / "checkpoint_best.pth", {"train_config": saved}))
    assert config.output_dir == str(run) and config.overwrite is False and config.epochs == 3
    assert run_directory(run / "old.pth") == run and run_directory(run / "a.b") == run / "a.b"


def test_resume_promises_bit_for_bit_on_the_cpu_and_says_so_elsewhere():
    assert exactness_note("cpu") is None
    for device in ("cuda", "mps"):
        note = exactness_note(device)
        assert note.startswith(f"resumed on {device}: the same samples") and "on the CPU only" in note
