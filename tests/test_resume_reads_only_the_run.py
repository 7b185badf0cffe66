"""A resumed run reads only the run: its --init source (another run, or torchvision's cached ImageNet file)
is not read again, so the resume works once the source is gone; the network, preprocessing and
evaluation batch come from the checkpoint."""

import shutil

import pytest
import torch

from googlenet.cli import main
from googlenet.training.config import LAST_CHECKPOINT, TrainConfig
from googlenet.training.trainer import Trainer
from helpers import image_tree, write_run_dir

OPTIONS = dict(epochs=1, batch_size=2, amp="off", progress=False, tensorboard=False, val_fraction=0.25,
               aux_logits=False, seed=1)


@pytest.fixture
def images(tmp_path):
    image_tree(tmp_path / "images", classes=("ants", "bees"), per_class=6, size=(20, 20), mode="L")
    return tmp_path / "images"


def stopped_before_its_first_step(config: TrainConfig) -> Trainer:
    trainer = Trainer(config)
    trainer.stop.request()  # Ctrl-C before the first step: a checkpoint of the start is written
    assert trainer.run().status == "interrupted"
    return trainer


@pytest.mark.parametrize("kind", ["run", "torchvision"])
def test_a_run_started_from_weights_resumes_once_their_source_is_gone(kind, images, tmp_path, request):
    run = tmp_path / "run"
    if kind == "torchvision":
        source, cached = "torchvision-imagenet", request.getfixturevalue("torchvision_release_cached")
    else:
        write_run_dir(tmp_path / "earlier", {"data": "elsewhere"}, ["x", "y", "z"], in_chans=1, input_size=32)
        source = str(tmp_path / "earlier")
    started = stopped_before_its_first_step(TrainConfig(data=str(images), init=source, output_dir=str(run),
                                                        input_size=32, **OPTIONS))
    expected = started.state.model.state_dict()
    shutil.rmtree(tmp_path / "earlier") if kind == "run" else cached.unlink()
    resumed = Trainer(resume=run)  # reading the source would fail now (and a download fails the test)
    assert resumed.config.init == source  # still the run's record of where it began
    assert resumed.data.preprocessing == started.data.preprocessing  # the initial weights' mean and std
    assert "as the run started (its checkpoint)" in " ".join(resumed.data.decisions)
    assert resumed.state.model.config == started.state.model.config
    assert all(torch.equal(tensor, expected[name]) for name, tensor in resumed.state.model.state_dict().items())
    assert not any(note.startswith("initial weights") for note in resumed.notes)


@pytest.mark.slow
def test_a_run_started_from_torchvisions_weights_finishes_on_the_command_line_once_the_file_is_gone(
        images, torchvision_release_cached, tmp_path, capsys):
    run = tmp_path / "run"
    config = TrainConfig(data=str(images), init="torchvision-imagenet", output_dir=str(run), input_size=32,
                         **OPTIONS)
    stopped_before_its_first_step(config)
    torchvision_release_cached.unlink()  # and a download fails the test (the fixture)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "initial weights:" not in out and "as the run started (its checkpoint)" in out
    assert torch.load(run / LAST_CHECKPOINT, weights_only=True, mmap=True)["position"]["epoch"] == 1


def test_a_resume_whose_data_no_longer_fits_the_checkpoint_names_the_difference(images, tmp_path):
    run = tmp_path / "run"
    stopped_before_its_first_step(TrainConfig(data=str(images), output_dir=str(run), **OPTIONS))
    shutil.rmtree(images)
    image_tree(images, classes=("ants", "bees"), per_class=6, size=(20, 20), mode="RGB")  # now in colour
    with pytest.raises(ValueError) as refused:
        Trainer(resume=run)
    message = str(refused.value)
    assert message.startswith(f"checkpoint {run / LAST_CHECKPOINT} does not fit this run (in_chans: checkpoint 1 "
                              "vs this run 3)"), message
