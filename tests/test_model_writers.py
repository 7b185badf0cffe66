"""Writers that know what they write into: a model directory is written into a model directory, an empty
directory or a new path, never over a training run (every file of the run stays as it was); and one rule for
exports everywhere: a save of new weights leaves out the exports of the old ones."""

import hashlib
import json

import pytest
import torch

from helpers import copy_linking_weights, uninitialised_googlenet, write_model_dir
from googlenet.cli import main
from googlenet.training.outputs import RunOutputs
from googlenet.weights.export import describe, sidecar_path
from googlenet.weights.model_dir import from_pretrained, read_model_config, save_pretrained


def hashes(root):
    """SHA-256 of every file under `root`, by relative path: any file added, removed or changed shows."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("saved") / "model"
    write_model_dir(directory, ["cat", "dog"])
    return directory


@pytest.fixture
def run(tmp_path, saved):
    """A training run directory as training leaves it: its config, a checkpoint, metrics, and model/."""
    run = tmp_path / "runs" / "fashion-mnist"
    copy_linking_weights(saved, run / "model")
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist", "epochs": 3, "run_format": 2}))
    (run / "checkpoint_last.pt").write_bytes(b"a checkpoint")
    (run / "metrics.csv").write_text("epoch,validation_top1\n1,50.0\n")
    return run


def test_saving_a_model_into_a_run_directory_is_refused_and_the_run_is_untouched(run, capsys):
    before = hashes(run.parent)
    with pytest.raises(ValueError, match=rf"^{run} is a training run directory: its model lives in {run / 'model'}/"):
        save_pretrained(uninitialised_googlenet("bn", num_classes=2), run)
    assert hashes(run.parent) == before

    checkpoint = run.parent / "googlenet-tv.pth"  # a real torchvision googlenet state_dict: only the target is wrong
    torch.save(uninitialised_googlenet("torchvision", aux_logits=False).state_dict(), checkpoint)
    before = hashes(run.parent)
    assert main(["import-torchvision", str(checkpoint), str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{run} is a training run directory: its model lives in {run / 'model'}/" in err
    assert hashes(run.parent) == before


def test_a_run_is_told_by_its_checkpoints_before_its_config_is_written(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint_best.pt").write_bytes(b"a checkpoint")
    with pytest.raises(ValueError, match="is a training run directory"):
        save_pretrained(uninitialised_googlenet("bn", num_classes=2), tmp_path / "run")
    assert [path.name for path in (tmp_path / "run").iterdir()] == ["checkpoint_best.pt"]


def test_a_model_directory_an_empty_one_and_a_new_path_are_written(run, tmp_path):
    model = uninitialised_googlenet("bn", num_classes=3)
    (tmp_path / "empty").mkdir()
    for directory in (run / "model", tmp_path / "empty", tmp_path / "new" / "model"):
        save_pretrained(model, directory, class_names=["a", "b", "c"])
        assert read_model_config(directory / "config.json")[1].class_names == ("a", "b", "c")


def fake_export(model, path, format):
    """An export file (its bytes do not matter here) and the description `googlenet export` writes beside it."""
    path.write_bytes(b"an export of these weights")
    sidecar_path(path).write_text(json.dumps(describe(model, format, 32)))


def exports_of(directory):
    return sorted(path.name for path in directory.iterdir() if path.name.startswith(("model.", "fast.")))


def test_a_save_of_new_weights_leaves_out_the_old_exports_and_keeps_the_rest(tmp_path, saved):
    directory = copy_linking_weights(saved, tmp_path / "model")
    model = from_pretrained(directory)
    fake_export(model, directory / "model.torchscript.pt", "torchscript")  # by the default name
    fake_export(model, directory / "fast.pt", "torchscript")  # any name: its description says what it is
    (directory / "README.md").write_text("my notes\n")
    assert exports_of(directory) == ["fast.pt", "fast.pt.json", "model.safetensors", "model.torchscript.pt",
                                     "model.torchscript.pt.json"]
    save_pretrained(uninitialised_googlenet("bn", num_classes=2), directory)
    assert exports_of(directory) == ["model.safetensors"]
    assert (directory / "README.md").read_text() == "my notes\n"


def test_a_runs_model_follows_the_same_rule(run):
    model = run / "model"
    network = from_pretrained(model)
    fake_export(network, model / "model.onnx", "onnx")
    (model / "README.md").write_text("my notes\n")
    RunOutputs(run, tensorboard=False).write_model(network, {"epoch": 2})
    assert exports_of(model) == ["model.safetensors"]
    assert (model / "README.md").read_text() == "my notes\n"
    assert json.loads((model / "evaluation.json").read_text()) == {"epoch": 2}
