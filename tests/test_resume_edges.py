"""Resuming the runs the other resume tests leave out: a fine-tuned run (`--init` with `--freeze-to` and
`--pretrained-lr-scale`) and a bf16 autocast run, each stopped mid-epoch, resumed with `train(resume=RUN)`,
and compared bit for bit with the run never stopped."""

import pytest
import torch
from torch import nn

import googlenet.training.loop as loop
from googlenet.training.trainer import LAST_CHECKPOINT, TrainConfig
from helpers import write_model_dir
from test_resume_property import OPTIONS, Interruptions, assert_same_run, images  # noqa: F401 - images: a fixture

FROZEN_THROUGH = "inception3b"


@pytest.mark.slow
def test_a_fine_tuned_run_resumed_keeps_its_frozen_stages_and_learning_rates(images, tmp_path, monkeypatch):
    pretrained = write_model_dir(tmp_path / "pretrained", ["w", "x", "y", "z"], input_size=32)
    stages = [name for name, _ in pretrained.stages()]
    frozen = stages[:stages.index(FROZEN_THROUGH) + 1]
    options = {**OPTIONS, "data": str(images), "init": str(tmp_path / "pretrained"), "freeze_to": FROZEN_THROUGH,
               "pretrained_lr_scale": 0.1}
    interruptions = Interruptions(monkeypatch)
    straight = interruptions.run(TrainConfig(**options, output_dir=str(tmp_path / "straight")))
    stopped = interruptions.run(TrainConfig(**options, output_dir=str(tmp_path / "stopped")), stop=("after step", 5))
    assert straight.status == "finished" and stopped.status == "interrupted"

    seen = []  # how each resumed step ran
    step = loop.train_step

    def train_step(network, criterion, optimizer, *args, **kwargs):
        model = interruptions.trainer.state.model
        parts = [getattr(model, name) for name in frozen]
        seen.append({
            "frozen BatchNorm in training mode": [module.training for part in parts for module in part.modules()
                                                  if isinstance(module, nn.modules.batchnorm._BatchNorm)],
            "frozen weights needing gradients": [weight.requires_grad for part in parts for weight in part.parameters()],
            "peak rates": sorted({group["initial_lr"] for group in optimizer.param_groups}),
            "rates": sorted({group["lr"] for group in optimizer.param_groups}),
        })
        return step(network, criterion, optimizer, *args, **kwargs)

    monkeypatch.setattr(loop, "train_step", train_step)
    resumed = interruptions.run(None, resume=tmp_path / "stopped")
    assert resumed.status == "finished" and len(seen) == 3
    peak = OPTIONS["batch_size"] / 128 * 0.1  # --lr 0.1 for a batch of 128, scaled linearly
    for record in seen:
        assert not any(record["frozen BatchNorm in training mode"]) and record["frozen BatchNorm in training mode"]
        assert not any(record["frozen weights needing gradients"]) and record["frozen weights needing gradients"]
        assert record["peak rates"] == pytest.approx([0.1 * peak, peak])  # pretrained layers, new classifier
        assert record["rates"][0] == pytest.approx(0.1 * record["rates"][1])
    # The frozen stages, BatchNorm statistics included, are still the pretrained ones.
    weights = torch.load(tmp_path / "stopped" / LAST_CHECKPOINT, weights_only=True)["model"]
    start = pretrained.state_dict()
    frozen_keys = [key for key in start if key.split(".")[0] in frozen and "num_batches_tracked" not in key]
    assert frozen_keys and all(torch.equal(weights[key], start[key]) for key in frozen_keys)
    assert_same_run(tmp_path / "straight", tmp_path / "stopped")


@pytest.mark.slow
def test_a_bf16_autocast_run_resumed_ends_bit_for_bit_as_the_straight_run(images, tmp_path, monkeypatch):
    # bf16 autocast on the CPU is deterministic: the same kernels on the same inputs round the same way.
    options = {**OPTIONS, "data": str(images), "amp": "bf16"}
    interruptions = Interruptions(monkeypatch)
    straight = interruptions.run(TrainConfig(**options, output_dir=str(tmp_path / "straight")))
    stopped = interruptions.run(TrainConfig(**options, output_dir=str(tmp_path / "stopped")), stop=("after step", 5))
    assert straight.status == "finished" and stopped.status == "interrupted"
    resumed = interruptions.run(None, resume=tmp_path / "stopped")
    assert resumed.status == "finished"
    assert torch.load(tmp_path / "stopped" / LAST_CHECKPOINT, weights_only=True, mmap=True)["train_config"]["amp"] == "bf16"
    assert_same_run(tmp_path / "straight", tmp_path / "stopped")
