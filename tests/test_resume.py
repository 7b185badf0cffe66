"""What --resume accepts and refuses, and what an output directory may already hold (no training here)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from googlenet.training.config import TrainConfig
from googlenet.training.outputs import RunOutputs
from googlenet.training.resume import check_resume_processes, resolve_for_resume, resume_config
from googlenet.training.setup import check_output_dir


def started_run(tmp_path: Path, **options) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(output_dir=str(run), **options).resolved()
    RunOutputs(run, tensorboard=False).write_config(config)
    return run


def test_resume_config_is_the_runs_config_with_safe_changes(tmp_path):
    run = started_run(tmp_path, batch_size=64, seed=5, workers=0)
    config = resume_config(run, {"workers": 2, "progress": False, "epochs": 12, "batch_size": 64})
    assert (config.batch_size, config.seed, config.workers, config.progress, config.epochs) == (64, 5, 2, False, 12)
    assert config.output_dir == str(run)
    assert resume_config(run / "checkpoint_previous.pt").seed == 5  # a checkpoint file names its run


def test_resume_config_lists_every_change_that_would_alter_the_run(tmp_path):
    run = started_run(tmp_path, batch_size=64, seed=5)
    with pytest.raises(ValueError) as refused:
        resume_config(run, {"batch_size": 32, "seed": 1, "input_size": 64, "workers": 3})
    message = str(refused.value)
    assert "--batch-size 32 (the run has 64)" in message and "--seed 1 (the run has 5)" in message
    assert "--input-size 64 (the run has none)" in message and "--workers 3" not in message.split(". Options")[0]
    assert "--workers" in message.split("Options safe to change on resume:")[1]


def test_resume_config_names_a_missing_or_broken_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="is .* a training run directory"):
        resume_config(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        resume_config(tmp_path)


def checkpoint_of(config: TrainConfig) -> dict:
    return {"version": 2, "train_config": config.resolved().to_dict()}


def test_resuming_from_python_takes_the_runs_length_and_flavour_unless_given(tmp_path):
    saved = TrainConfig(epochs=11, flavour="paper", seed=4)
    config = resolve_for_resume(TrainConfig(seed=4, workers=2), checkpoint_of(saved), tmp_path)
    assert (config.epochs, config.flavour, config.workers) == (11, "paper", 2)
    assert resolve_for_resume(TrainConfig(seed=4, epochs=14), checkpoint_of(saved), tmp_path).epochs == 14
    with pytest.raises(ValueError, match=r"--flavour bn \(the run has paper\)"):
        resolve_for_resume(TrainConfig(seed=4, flavour="bn"), checkpoint_of(saved), tmp_path)


def test_resuming_from_python_continues_a_run_started_with_any_options(tmp_path):
    # Options that change the run, left at their defaults, are the run's own (as on the command line).
    saved = TrainConfig(data=str(tmp_path / "images"), batch_size=16, lr=0.05, seed=4, train_preset="small",
                        workers=2, epochs=5).resolved()
    expected = TrainConfig.from_dict({**saved.to_dict(), "output_dir": str(tmp_path), "overwrite": False})
    assert resolve_for_resume(None, checkpoint_of(saved), tmp_path) == expected  # train(resume=RUN)
    # A config's safe options are its own (where and how the run goes), the rest the run's.
    assert resolve_for_resume(TrainConfig(), checkpoint_of(saved), tmp_path) == replace(expected, workers=0)
    changed = resolve_for_resume(TrainConfig(epochs=9, workers=1, progress=False), checkpoint_of(saved), tmp_path)
    assert changed == replace(expected, epochs=9, workers=1, progress=False)
    with pytest.raises(ValueError, match=r"--lr 0.2 \(the run has 0.05\)"):
        resolve_for_resume(TrainConfig(lr=0.2), checkpoint_of(saved), tmp_path)


def test_another_number_of_processes_is_refused_mid_epoch_and_announced_at_a_boundary(tmp_path):
    assert check_resume_processes(2, 2, epoch=3, step_in_epoch=17, run_dir=tmp_path) is None
    with pytest.raises(ValueError, match=r"middle of epoch 4 running 2.*--nproc_per_node=2"):
        check_resume_processes(2, 1, epoch=3, step_in_epoch=17, run_dir=tmp_path)
    message = check_resume_processes(2, 1, epoch=3, step_in_epoch=0, run_dir=tmp_path)
    assert "start of epoch 4" in message and "sample order differs" in message


def test_an_output_dir_holding_a_run_is_refused_unless_overwrite(tmp_path):
    run = started_run(tmp_path)
    (run / "metrics.json").write_text("[]")
    (run / "model").mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"already holds a training run.*--resume.*--overwrite"):
        check_output_dir(run, overwrite=False, is_main=True)
    assert (run / "config.json").exists()
    check_output_dir(run, overwrite=True, is_main=True)
    assert sorted(path.name for path in run.iterdir()) == ["notes.txt"]  # only the run's own files go
    check_output_dir(tmp_path / "new", overwrite=False, is_main=True)  # a new or unrelated directory is fine
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("x")
    check_output_dir(tmp_path / "plain", overwrite=False, is_main=True)


def test_an_output_dir_that_is_a_file_is_named(tmp_path):
    file = tmp_path / "run"
    file.write_text("")
    with pytest.raises(ValueError, match="--output-dir .*run is a file, not a directory"):
        check_output_dir(file, overwrite=False, is_main=True)


def test_the_written_config_marks_its_format(tmp_path):
    run = started_run(tmp_path)
    assert json.loads((run / "config.json").read_text())["run_format"] == 2
