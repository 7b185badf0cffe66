"""Fine-tuning: --init from a model directory and from a run directory, --freeze-to keeping the early
stages and their BatchNorm statistics fixed, the flavour taken from the weights."""

import json

import pytest
import torch
from helpers import image_tree, real_scale_googlenet, write_model_dir

from googlenet.training.config import TrainConfig
from googlenet.training.trainer import train


def small_folder(root):
    image_tree(root / "train", classes=("ants", "bees", "wasps"), per_class=12, size=(40, 30))
    image_tree(root / "val", classes=("ants", "bees", "wasps"), per_class=3, size=(40, 30))
    return root


def test_a_flavour_contradicting_the_initial_weights_is_refused(tmp_path):
    write_model_dir(tmp_path / "weights", [str(index) for index in range(10)], in_chans=1)
    config = TrainConfig(data=str(tmp_path), init=str(tmp_path / "weights"), flavour="paper",
                         output_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="flavour 'bn'.*flavour 'paper' was asked for"):
        train(config)


@pytest.mark.slow
def test_fine_tuning_from_a_model_directory_then_from_its_run(tmp_path, capsys):
    initial = write_model_dir(tmp_path / "weights", [str(index) for index in range(10)], in_chans=1)
    data = small_folder(tmp_path / "insects")
    config = TrainConfig(data=str(data), init=str(tmp_path / "weights"), freeze_to="inception4e", epochs=1,
                         batch_size=8, output_dir=str(tmp_path / "run"), amp="off", progress=False,
                         tensorboard=False)
    result = train(config)
    assert result.status == "finished"
    out = capsys.readouterr().out
    assert "initial weights: model directory" in out and "adapted from 1 to 3 input channels" in out
    assert "input size 32: the initial weights were trained at that size" in out
    assert "normalised with mean (0.500, 0.500, 0.500), std (0.250, 0.250, 0.250): what the initial weights" in out
    assert "fixed: the network up to and including inception4e" in out
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["flavour"] == "bn" and saved["init"] == str(tmp_path / "weights")

    from googlenet.weights.model_dir import from_pretrained

    tuned = from_pretrained(result.model_dir)
    assert tuned.class_names == ["ants", "bees", "wasps"] and tuned.in_chans == 3
    assert tuned.preprocessing.mean == (0.5, 0.5, 0.5)  # the grayscale weights' statistics, per RGB channel
    before, after = initial.state_dict(), tuned.state_dict()
    for key in ("inception3a.branch1.conv.weight", "inception4e.branch4.1.conv.weight",
                "inception4e.branch2.1.bn.running_mean", "inception4e.branch2.1.bn.running_var"):
        assert torch.equal(before[key], after[key]), key  # fixed: weights and BatchNorm statistics
    assert not torch.equal(before["inception5b.branch1.conv.weight"], after["inception5b.branch1.conv.weight"])

    again = train(TrainConfig(data=str(data), init=str(result.run_dir), epochs=1, batch_size=8,
                              output_dir=str(tmp_path / "run2"), amp="off", progress=False, tensorboard=False))
    assert again.status == "finished"
    assert "initial weights: the model of run" in capsys.readouterr().out


def test_init_from_weights_with_transform_input_normalises_grayscale_data_as_the_weights_need(tmp_path, monkeypatch):
    # transform_input weights take (x - 0.5) / 0.5 per channel; on one channel that is mean 0.5, std 0.5,
    # not the average of ImageNet's RGB statistics (0.449, 0.226), which would feed them twice the scale.
    from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
    from googlenet.training.trainer import Trainer
    from googlenet.weights import init
    from googlenet.weights.model_dir import save_pretrained

    weights = real_scale_googlenet("torchvision", num_classes=10, aux_logits=False, transform_input=True)
    save_pretrained(weights, tmp_path / "weights", preprocessing=Preprocessing(
        input_size=32, resize_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD))
    image_tree(tmp_path / "digits", classes=("one", "seven"), per_class=6, size=(28, 28), mode="L")
    reads = []
    read = init._read
    monkeypatch.setattr(init, "_read", lambda *args: reads.append(args) or read(*args))
    trainer = Trainer(TrainConfig(data=str(tmp_path / "digits"), init=str(tmp_path / "weights"), epochs=1,
                                  batch_size=2, output_dir=str(tmp_path / "run"), amp="off", progress=False,
                                  tensorboard=False, val_fraction=0.2))
    assert trainer.data.in_chans == 1 and not trainer.state.model.config.transform_input
    assert trainer.data.preprocessing.mean == (0.5,) and trainer.data.preprocessing.std == (0.5,)
    assert "normalised with mean (0.500), std (0.500): what the initial weights" in " ".join(trainer.data.decisions)
    assert len(reads) == 1  # the weights are read once
