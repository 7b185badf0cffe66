"""What --resume accepts and refuses, and what an output directory may already hold (no training here)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from googlenet.training.config import TrainConfig
from googlenet.training.outputs import RunOutputs
from googlenet.training.resume import ResumePoint, check_resume_processes, read_resume_point, resume_config
from googlenet.training.setup import check_output_dir


def started_run(tmp_path: Path, **options) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(output_dir=str(run), **options).resolved()
    RunOutputs(run, tensorboard=False).write_config(config)
    return run


def point_of(config: TrainConfig, run_dir: Path) -> ResumePoint:
    return ResumePoint(run_dir, run_dir / "checkpoint_last.pt", {"version": 2, "train_config": config.to_dict()})


def test_the_command_lines_options_are_compared_each_as_given(tmp_path):
    # The command line gives exactly the options typed: one typed at its default value is still compared.
    point = point_of(TrainConfig(batch_size=64, seed=5, lr=0.05, workers=0).resolved(), tmp_path)
    config = resume_config(point, {"workers": 2, "progress": False, "epochs": 12, "batch_size": 64})
    assert (config.batch_size, config.seed, config.workers, config.progress, config.epochs) == (64, 5, 2, False, 12)
    assert config.output_dir == str(tmp_path) and config.overwrite is False
    with pytest.raises(ValueError) as refused:
        resume_config(point, {"batch_size": 32, "seed": 1, "input_size": 64, "workers": 3, "lr": 0.1})
    message = str(refused.value)
    assert "--batch-size 32 (the run has 64)" in message and "--seed 1 (the run has 5)" in message
    assert "--input-size 64 (the run has none)" in message and "--workers 3" not in message.split(". Options")[0]
    assert "--lr 0.1 (the run has 0.05)" in message  # 0.1 is the default, but it was typed
    assert "--workers" in message.split("Options safe to change on resume:")[1]
    with pytest.raises(ValueError, match="^unknown training option\\(s\\): batch$"):
        resume_config(point, {"batch": 32})


def test_resuming_from_python_takes_the_runs_length_and_flavour_unless_given(tmp_path):
    point = point_of(TrainConfig(epochs=11, flavour="paper", seed=4), tmp_path)
    config = resume_config(point, TrainConfig(seed=4, workers=2))
    assert (config.epochs, config.flavour, config.workers) == (11, "paper", 2)
    assert resume_config(point, TrainConfig(seed=4, epochs=14)).epochs == 14
    with pytest.raises(ValueError, match=r"--flavour bn \(the run has paper\)"):
        resume_config(point, TrainConfig(seed=4, flavour="bn"))


def test_resuming_from_python_continues_a_run_started_with_any_options(tmp_path):
    # Options that change the run, left at their defaults, are the run's own (as on the command line).
    saved = TrainConfig(data=str(tmp_path / "images"), batch_size=16, lr=0.05, seed=4, train_preset="small",
                        workers=2, epochs=5).resolved()
    point = point_of(saved, tmp_path)
    expected = TrainConfig.from_dict({**saved.to_dict(), "output_dir": str(tmp_path), "overwrite": False})
    assert resume_config(point) == expected  # train(resume=RUN)
    # A config's safe options are its own (where and how the run goes), the rest the run's.
    assert resume_config(point, TrainConfig()) == replace(expected, workers=0)
    changed = resume_config(point, TrainConfig(epochs=9, workers=1, progress=False))
    assert changed == replace(expected, epochs=9, workers=1, progress=False)
    with pytest.raises(ValueError, match=r"--lr 0.2 \(the run has 0.05\)"):
        resume_config(point, TrainConfig(lr=0.2))


def test_resume_names_a_missing_run_or_something_else_in_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^cannot resume: \S*nowhere does not exist: give a training run directory$"):
        read_resume_point(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"^cannot resume: \S*plain is not a training run directory") as refused:
        read_resume_point(tmp_path / "plain")
    assert "\n" not in str(refused.value)
    run = started_run(tmp_path)  # started, stopped before its first checkpoint
    with pytest.raises(FileNotFoundError, match=r"checkpoint_last.pt does not exist; this run has no older"):
        read_resume_point(run)


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


def test_the_command_line_refuses_an_option_typed_at_its_default_that_differs_from_the_runs(tmp_path, capsys):
    import torch

    from googlenet.cli import main
    from googlenet.training.config import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

    run = tmp_path / "run"
    run.mkdir()
    saved = TrainConfig(lr=0.05, output_dir=str(run)).resolved().to_dict()
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "train_config": saved},
               run / "checkpoint_last.pt")
    assert main(["train", "--resume", str(run), "--lr", "0.1"]) == 2  # 0.1: the default, typed
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "--lr 0.1 (the run has 0.05)" in error
