"""Training on real Fashion-MNIST images (a few of them): files written, exact resume, Ctrl-C, NaN,
mismatched checkpoints, and evaluate/predict on the result."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from googlenet.training.config import LAST_CHECKPOINT, LR_FROM_SCRATCH, TrainConfig
from googlenet.training.loop import TrainingDiverged
from googlenet.training.trainer import Trainer, train

TINY = dict(train_subset=64, val_subset=48, test_subset=32, batch_size=16, epochs=2, workers=0, amp="off", progress=False,
            tensorboard=True, seed=3)


def tiny_config(tmp_path: Path, **overrides) -> TrainConfig:
    return TrainConfig(output_dir=str(tmp_path / "run"), **{**TINY, **overrides})


@pytest.mark.slow
def test_a_run_writes_everything_and_names_the_split_of_every_figure(tmp_path, capsys):
    result = train(tiny_config(tmp_path, test_every_epoch=True))
    run = result.run_dir
    assert result.status == "finished" and result.epochs_done == 2
    for name in ("config.json", "checkpoint_last.pt", "checkpoint_previous.pt", "checkpoint_best.pt", "metrics.csv",
                 "metrics.json", "curves.png", "confusion_matrix.png", "model/config.json", "model/model.safetensors",
                 "model/evaluation.json"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").iterdir())
    history = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert {"train_loss", "validation_top1", "validation_top5", "ema_validation_top1", "test_top1", "test_weights",
            "images_per_second", "data_seconds_per_step"} <= set(history[0])
    assert not [key for key in history[0] if key.startswith(("val_", "ema_val_"))]
    assert (run / "metrics.csv").read_text().count("\n") == 3
    # The kept weights are the best on validation: that epoch's better of raw and EMA.
    scores = {(row["epoch"], weights): row[key] for row in history
              for weights, key in (("raw", "validation_top1"), ("ema", "ema_validation_top1"))}
    assert scores[(result.selected_epoch, result.selected_weights)] == max(scores.values())
    evaluation = json.loads((run / "model/evaluation.json").read_text())
    assert evaluation["selected_by"] == "validation top-1" == result.selected_by
    assert evaluation["validation"]["count"] == 48 and evaluation["test"]["count"] == 32
    assert evaluation["validation"]["top1"] == pytest.approx(max(scores.values()), abs=1e-3)
    assert result.test["top1"] == pytest.approx(evaluation["test"]["top1"])
    kept_row = history[result.selected_epoch - 1]
    assert kept_row["test_weights"] == result.selected_weights
    assert kept_row["test_top1"] == pytest.approx(result.test["top1"], abs=1e-3)  # the same weights, read back
    out = capsys.readouterr().out
    assert "validation accuracy (top-1)" in out and "test accuracy (top-1)" in out and "on 32 images" in out


@pytest.mark.slow
def test_without_a_validation_split_the_final_averaged_weights_are_kept(tmp_path):
    result = train(tiny_config(tmp_path, val_fraction=0.0, epochs=1))
    assert (result.selected_epoch, result.selected_weights) == (1, "ema")
    assert result.selected_by.startswith("final epoch") and result.validation is None
    row = json.loads((result.run_dir / "metrics.json").read_text())[0]
    assert not [key for key in row if "validation" in key or "test" in key]  # the test split: once, at the end
    evaluation = json.loads((result.run_dir / "model" / "evaluation.json").read_text())
    assert "validation" not in evaluation and evaluation["test"]["count"] == 32 == result.test["count"]


def run_with_stop_at(config: TrainConfig, stop_at_step: int, monkeypatch, resume=None):
    """Run as if Ctrl-C came during optimizer step `stop_at_step` (counting from 1 over the whole run)."""
    import googlenet.training.loop as loop

    trainer = Trainer(config, resume=resume)
    original = loop.train_step

    def train_step(*args, **kwargs):
        out = original(*args, **kwargs)
        if trainer.state.position.global_step + 1 == stop_at_step:
            trainer.stop.request()  # what Ctrl-C does
        return out

    monkeypatch.setattr(loop, "train_step", train_step)
    return trainer.run()


def final_weights(run_dir: Path) -> dict:
    return torch.load(run_dir / LAST_CHECKPOINT, weights_only=True)


@pytest.mark.slow
def test_an_interrupted_run_resumed_ends_with_the_same_weights(tmp_path, monkeypatch):
    straight = train(tiny_config(tmp_path / "a"))
    interrupted = run_with_stop_at(tiny_config(tmp_path / "b"), 6, monkeypatch)  # mid-epoch 2 (4 steps/epoch)
    assert interrupted.status == "interrupted"
    position = final_weights(interrupted.run_dir)["position"]
    assert (position["epoch"], position["step_in_epoch"]) == (1, 2)
    resumed = train(tiny_config(tmp_path / "b"), resume=interrupted.run_dir)
    assert resumed.status == "finished"
    expected, got = final_weights(straight.run_dir), final_weights(resumed.run_dir)
    for key in expected["model"]:
        assert torch.equal(expected["model"][key], got["model"][key]), key
    for key in expected["ema"]:
        assert torch.equal(expected["ema"][key], got["ema"][key]), key
    assert expected["history"][-1]["validation_top1"] == got["history"][-1]["validation_top1"]
    assert expected["history"][-1]["train_loss"] == got["history"][-1]["train_loss"]


@pytest.mark.slow
def test_the_learning_rate_across_a_resume_with_more_epochs_is_continuous_and_never_rises(tmp_path, monkeypatch):
    import googlenet.training.loop as loop
    from googlenet.training.schedule import LearningRateSchedule

    rates = []
    original = loop.train_step

    def recording(model, criterion, optimizer, *args, **kwargs):
        rates.append(optimizer.param_groups[0]["lr"])
        return original(model, criterion, optimizer, *args, **kwargs)

    monkeypatch.setattr(loop, "train_step", recording)
    interrupted = run_with_stop_at(tiny_config(tmp_path, epochs=2), 6, monkeypatch)  # 4 steps an epoch
    assert interrupted.status == "interrupted" and len(rates) == 6
    resumed = train(tiny_config(tmp_path, epochs=3), resume=interrupted.run_dir)
    assert resumed.status == "finished" and len(rates) == 12
    peak = TINY["batch_size"] / 128 * LR_FROM_SCRATCH  # --lr for a batch of 128, scaled linearly
    two_epochs = LearningRateSchedule.for_run("cosine", 4, epochs=2, warmup_epochs=0.5)
    assert rates[:6] == pytest.approx([peak * two_epochs.factor(step) for step in range(6)])
    assert rates[6] == pytest.approx(peak * two_epochs.factor(6))  # continuous across the resume
    after_warmup = rates[2:]
    assert all(later <= earlier for earlier, later in zip(after_warmup, after_warmup[1:]))
    assert rates[7] > peak * two_epochs.factor(7)  # stretched over the longer run, not cut short


@pytest.mark.slow
def test_a_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = tiny_config(tmp_path, epochs=3)
    trainer = Trainer(config)
    original = trainer.session.criterion.forward
    calls = {"n": 0}

    def poisoned(outputs, target):
        calls["n"] += 1
        loss = original(outputs, target)
        return loss * float("nan") if calls["n"] == 6 else loss

    monkeypatch.setattr(trainer.session.criterion, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 2.*last good checkpoint"):
        trainer.run()
    kept = final_weights(Path(config.output_dir))
    assert (kept["position"]["epoch"], kept["position"]["step_in_epoch"]) == (1, 0)
    assert all(torch.isfinite(value).all() for value in kept["model"].values() if value.is_floating_point())


def test_bad_training_options_are_named(tmp_path):
    with pytest.raises(ValueError, match="--batch-size must be at least 2"):
        train(tiny_config(tmp_path, batch_size=1))
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        train(tiny_config(tmp_path, schedule="linear"))
    with pytest.raises(ValueError, match=r"--random-erase must be in \[0, 1\], got 1.5"):
        train(tiny_config(tmp_path, random_erase=1.5))
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        train(tiny_config(tmp_path), resume=tmp_path / "nowhere")


def test_device_names_are_checked_before_use(monkeypatch):
    from googlenet.distributed import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    with pytest.raises(ValueError, match="'gpu' is not a device name"):
        resolve_device("gpu")


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "googlenet", *args], capture_output=True, text=True, timeout=600,
                          **kwargs)


TINY_ARGS = ["--train-subset", "64", "--val-subset", "48", "--test-subset", "32", "--batch-size", "16", "--amp", "off", "--no-progress"]


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_leaves_a_resumable_checkpoint_and_resume_finishes(tmp_path, stop, status):
    """Ctrl-C, or SIGTERM as a job scheduler or `docker stop` sends it: after the current step, with a
    checkpoint to resume from, status 130 or 143 (as every command, serve too: test_serve_process.py). A
    process that ignored the signal would train on (200 epochs) and time out here; one that left SIGTERM to
    Python's default would die with -15 and no checkpoint."""
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "googlenet", "train", "--output-dir", str(run), "--epochs", "200",
                                *TINY_ARGS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # as from a terminal: a suite run in the background (`make test &`) passes SIGINT on
                               # ignored, and Python then leaves Ctrl-C ignored in the child too
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 240
        while not (run / "metrics.json").exists() and time.time() < deadline:
            time.sleep(0.2)
        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == status, stderr
    assert "resumable checkpoint written" in stdout and "Traceback" not in stderr
    epochs_done = final_weights(run)["position"]["epoch"]
    assert 1 <= epochs_done < 200
    result = cli("train", "--resume", str(run), "--epochs", str(epochs_done + 1))
    assert result.returncode == 0, result.stderr
    assert "validation accuracy (top-1)" in result.stdout and "test accuracy (top-1)" in result.stdout
    assert len(json.loads((run / "metrics.json").read_text())) == epochs_done + 1


@pytest.mark.slow
def test_two_processes_with_gloo_train_and_agree(tmp_path):
    run = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "googlenet", "train", "--output-dir", str(run),
         "--epochs", "2", *TINY_ARGS, "--batch-size", "8"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = json.loads((run / "metrics.json").read_text())
    assert [row["ranks_in_sync"] for row in history] == [True, True]
    checkpoint = final_weights(run)
    assert checkpoint["world_size"] == 2 and checkpoint["position"]["global_step"] == 2 * 4  # 64 / (8 x 2) per epoch
    assert result.stdout.count("kept the") == 1  # only rank 0 prints the summary


@pytest.mark.slow
def test_evaluate_and_predict_on_a_trained_run(tmp_path):
    result = cli("train", "--output-dir", str(tmp_path / "run"), "--epochs", "1", *TINY_ARGS)
    assert result.returncode == 0, result.stderr
    evaluation = cli("evaluate", str(tmp_path / "run"), "--data", "fashion-mnist", "--limit", "20", "--json")
    assert evaluation.returncode == 0, evaluation.stderr
    report = json.loads(evaluation.stdout)
    assert report["count"] == 20 and len(report["confusion_matrix"]) == 10
    tta = cli("evaluate", str(tmp_path / "run"), "--data", "fashion-mnist", "--limit", "4", "--tta", "144crop", "--json")
    assert tta.returncode == 0, tta.stderr
    assert json.loads(tta.stdout)["count"] == 4
    device = "cuda" if torch.cuda.is_available() else "cpu"
    on_device = cli("evaluate", str(tmp_path / "run"), "--data", "fashion-mnist", "--limit", "4", "--device", device,
                    "--json")
    assert on_device.returncode == 0, on_device.stderr
    assert json.loads(on_device.stdout)["count"] == 4
    elsewhere = cli("evaluate", str(tmp_path / "run"), "--data", "fashion-mnist", "--device", "cuda",
                    "--backend", "eager")
    assert elsewhere.returncode == 2 and "--device cuda is for the plain backend" in elsewhere.stderr

    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("L", (28, 28), 200).save(images / "bright.png")
    Image.new("RGBA", (40, 30), (10, 20, 30, 255)).save(images / "rgba.png")
    (images / "broken.png").write_bytes(b"not an image")
    predicted = cli("predict", str(tmp_path / "run"), str(images), "--top-k", "3", "--json")
    assert predicted.returncode == 1  # one file could not be read ...
    assert "broken.png" in predicted.stderr
    entries = json.loads(predicted.stdout)["predictions"]  # one entry per input, in input order ...
    assert [(Path(p["path"]).name, p["error"] is None) for p in entries] == [
        ("bright.png", True), ("broken.png", False), ("rgba.png", True)]
    predictions = [entry for entry in entries if entry["error"] is None]  # ... the other two still predicted
    assert len(predictions[0]["top_k"]) == 3 and predictions[0]["top_k"][0]["class_name"] in (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.mark.slow
def test_training_on_an_image_folder_names_its_validation_and_test_folders(tmp_path, capsys):
    from PIL import Image

    from googlenet.data.splits import SkippedImagesWarning

    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 20), ("val", 4), ("test", 3)):
        for index_class, name in enumerate(("circles", "squares")):
            folder = tmp_path / "shapes" / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = (torch.rand(36, 40, 3, generator=generator) * 80 + 120 * index_class).byte().numpy()
                Image.fromarray(pixels, "RGB").save(folder / f"{index}.png")
    (tmp_path / "shapes" / "train" / "circles" / "zero.jpg").write_bytes(b"")
    config = TrainConfig(data=str(tmp_path / "shapes"), output_dir=str(tmp_path / "run"), input_size=32,
                         batch_size=8, epochs=1, amp="off", progress=False, tensorboard=False)
    with pytest.warns(SkippedImagesWarning, match="zero.jpg"):
        result = train(config)
    assert result.status == "finished" and result.selected_by == "validation top-1"
    assert result.validation["count"] == 8 and result.test["count"] == 6
    out = capsys.readouterr().out
    assert "validation: 8 images" in out and "test: 6 images" in out
    assert re.search(r"^machine: .*; training in float32$", out, re.M)  # --amp off
    assert "validation accuracy (top-1)" in out and "test accuracy (top-1)" in out
    row = json.loads((result.run_dir / "metrics.json").read_text())[0]
    assert "validation_top1" in row and "test_top1" not in row  # without --test-every-epoch
    from googlenet.weights.model_dir import from_pretrained

    model = from_pretrained(result.model_dir)
    assert model.class_names == ["circles", "squares"] and model.preprocessing.input_size == 32
