"""Run outputs: every writer, interrupted half-way, leaves the previous version whole and loadable; plots
never switch the caller's matplotlib backend (no training here)."""

import errno
import json
import os

import pytest
import torch

from googlenet.atomic_files import AtomicWriteError
from googlenet.models.network import googlenet
from googlenet.training.outputs import RunOutputs

ROWS = [{"epoch": 1, "train_loss": 2.0, "train_top1": 20.0, "validation_loss": 1.9, "validation_top1": 25.0,
         "test_loss": 1.95, "test_top1": 24.0, "test_weights": "raw"}]


def half_written_then_full_disk(monkeypatch):
    """Every write (googlenet's writers all go through os.write) writes half its bytes, then fails."""
    real = os.write

    def dies(descriptor, data):
        real(descriptor, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", dies)


def test_metrics_files_survive_a_failed_write(tmp_path, monkeypatch):
    outputs = RunOutputs(tmp_path, tensorboard=False)
    outputs.log_epochs(ROWS)
    before = {name: (tmp_path / name).read_bytes() for name in ("metrics.json", "metrics.csv", "curves.png")}
    half_written_then_full_disk(monkeypatch)
    with pytest.raises(AtomicWriteError, match=r"cannot write .*metrics.json: No space left on device"):
        outputs.log_epochs(ROWS + [{**ROWS[0], "epoch": 2}])
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert json.loads((tmp_path / "metrics.json").read_text()) == ROWS
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_plot_survives_a_failed_write_and_the_backend_is_left_alone(tmp_path, monkeypatch):
    import matplotlib
    from matplotlib.figure import Figure
    from PIL import Image

    backend = matplotlib.get_backend()
    outputs = RunOutputs(tmp_path, tensorboard=False)
    outputs.log_epochs(ROWS)
    assert matplotlib.get_backend() == backend
    before = (tmp_path / "curves.png").read_bytes()
    real_savefig = Figure.savefig

    def dies(self, file, **kwargs):
        real_savefig(self, file, **kwargs)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Figure, "savefig", dies)
    with pytest.raises(AtomicWriteError, match="curves.png"):
        outputs.log_epochs(ROWS + [{**ROWS[0], "epoch": 2}])
    assert (tmp_path / "curves.png").read_bytes() == before
    Image.open(tmp_path / "curves.png").verify()


def test_the_model_directory_survives_a_failed_write(tmp_path, monkeypatch):
    import googlenet.weights.model_dir as model_dir
    from googlenet.weights.model_dir import from_pretrained

    outputs = RunOutputs(tmp_path, tensorboard=False)
    first = googlenet("bn", num_classes=3, in_chans=1, aux_logits=False)
    first.class_names = ["a", "b", "c"]
    outputs.write_model(first, {"epoch": 1, "validation": {"top1": 50.0}})
    second = googlenet("bn", num_classes=3, in_chans=1, aux_logits=False)
    real_write_text = model_dir.write_text

    def dies(path, *args, **kwargs):
        if path.name == "config.json":  # the new weights are written by then
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(path, *args, **kwargs)

    monkeypatch.setattr(model_dir, "write_text", dies)
    with pytest.raises(AtomicWriteError, match=r"cannot write .*model: No space left on device"):
        outputs.write_model(second, {"epoch": 2})
    kept = from_pretrained(tmp_path / "model")
    assert kept.class_names == ["a", "b", "c"]
    for name, tensor in first.state_dict().items():
        assert torch.equal(kept.state_dict()[name], tensor), name
    assert json.loads((tmp_path / "model" / "evaluation.json").read_text())["epoch"] == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]


def test_an_unwritable_run_directory_is_one_line_naming_it(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    outputs = RunOutputs(blocker / "run", tensorboard=False)
    with pytest.raises(AtomicWriteError) as failed:
        outputs.log_epochs(ROWS)
    assert str(failed.value).startswith(f"cannot write {blocker / 'run'}") and "\n" not in str(failed.value)
