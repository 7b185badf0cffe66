"""Two processes (torchrun, gloo, CPU): an interrupted run, resumed, ends bit-identical to an
uninterrupted one, because every rank gets its own random state back; another number of processes is
refused mid-epoch and accepted at an epoch boundary."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from googlenet.training.config import TrainConfig
from googlenet.training.trainer import Trainer

SCRIPT = '''
import sys
import googlenet.training.loop as loop
from googlenet.training.config import TrainConfig
from googlenet.training.trainer import Trainer

run, stop_at, resume = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "resume"
config = TrainConfig(**{OPTIONS}, output_dir=run)
trainer = Trainer(config, resume=run if resume else None)
original = loop.train_step

def train_step(*args, **kwargs):
    loss = original(*args, **kwargs)
    if trainer.state.position.global_step + 1 == stop_at and trainer.context.rank == 1:
        trainer.stop.request()  # what Ctrl-C does, here on one rank only: every rank must stop with it
    return loss

loop.train_step = train_step
print("STATUS", trainer.run().status)
import torch
# The parameters: BatchNorm's running statistics are each rank's own (DDP copies rank 0's at each forward).
parameters = {name: parameter.detach() for name, parameter in trainer.state.model.named_parameters()}
torch.save(parameters, f"{run}/weights_rank{trainer.context.rank}.pt")
'''
# 64 images, 8 per process per step: 4 steps an epoch on 2 processes. The small preset draws random
# shifts and flips per image, and dropout draws masks, from each rank's own generators.
OPTIONS = dict(train_subset=64, val_subset=32, test_subset=16, batch_size=8, epochs=2, workers=0, amp="off",
               progress=False, tensorboard=False, seed=3)


def torchrun(script: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", str(script),
               *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_an_interrupted_two_process_run_resumed_is_bit_identical(tmp_path):
    script = tmp_path / "train_two.py"
    script.write_text(SCRIPT.replace("{OPTIONS}", repr(OPTIONS)))
    straight = torchrun(script, str(tmp_path / "straight"), "0", "start")
    assert straight.returncode == 0, straight.stderr[-3000:]
    interrupted = torchrun(script, str(tmp_path / "resumed"), "6", "start")  # mid-epoch 2
    assert "STATUS interrupted" in interrupted.stdout, interrupted.stderr[-3000:]
    stopped = torch.load(tmp_path / "resumed" / "checkpoint_last.pt", weights_only=True)
    assert stopped["position"] == {"epoch": 1, "step_in_epoch": 2, "global_step": 6}
    assert len(stopped["rng_by_rank"]) == 2
    assert not torch.equal(stopped["rng_by_rank"][0]["torch"], stopped["rng_by_rank"][1]["torch"])

    with pytest.raises(ValueError, match=r"middle of epoch 2 running 2.*--nproc_per_node=2"):
        Trainer(TrainConfig(**OPTIONS, output_dir=str(tmp_path / "resumed")), resume=tmp_path / "resumed")

    resumed = torchrun(script, str(tmp_path / "resumed"), "0", "resume")
    assert "STATUS finished" in resumed.stdout, resumed.stderr[-3000:]
    expected = torch.load(tmp_path / "straight" / "checkpoint_last.pt", weights_only=True)
    got = torch.load(tmp_path / "resumed" / "checkpoint_last.pt", weights_only=True)
    for part in ("model", "ema"):
        for name, tensor in expected[part].items():
            assert torch.equal(tensor, got[part][name]), f"{part} {name}"
    assert expected["history"][-1]["train_loss"] == got["history"][-1]["train_loss"]
    for run in ("straight", "resumed"):  # the ranks' own weights, compared directly
        rank_0, rank_1 = (torch.load(tmp_path / run / f"weights_rank{rank}.pt", weights_only=True) for rank in (0, 1))
        for name, tensor in rank_0.items():
            assert torch.equal(tensor, rank_1[name]), f"{run} {name}"
    assert resumed.stdout.count("kept the") == 1  # only rank 0 prints the summary

    # At an epoch boundary another number of processes is accepted, with a message.
    boundary = Trainer(TrainConfig(**{**OPTIONS, "epochs": 3}, output_dir=str(tmp_path / "straight")),
                       resume=tmp_path / "straight")
    assert any("where the run used 2, at the start of epoch 3: the sample order differs" in note
               for note in boundary.notes)


def test_the_default_preset_counts_steps_of_the_global_batch():
    """batch_size is per process: with 2 processes an epoch has half the steps, and the run-length rule
    that picks the augmentation (no augmentation under 1,000 steps) must see that."""
    from googlenet.training.setup import load_training_data

    config = TrainConfig(batch_size=32, epochs=1).resolved()  # 54,000 training images after the held-out tenth
    alone = load_training_data(config, None, world_size=1)
    two = load_training_data(config, None, world_size=2)
    assert any("preset small" in decision for decision in alone.decisions), alone.decisions
    assert any("preset none (a run of 843 steps" in decision for decision in two.decisions), two.decisions


STEP_SCRIPT = Path(__file__).with_name("two_process_step.py")


@pytest.mark.slow
def test_two_processes_train_as_one_process_with_twice_the_batch(tmp_path):
    """DistributedDataParallel's promise, through the project's own wrapper, optimizer and step: two ranks of 8
    images take the same 3 SGD steps as one process with those 16 images, so the ranks' weights are
    equal bit for bit and agree with the one process to 1e-6 (float32 sums in another order; measured
    6e-8 on a CPU with AVX-512, while the steps move the weights by 0.16). No BatchNorm and no dropout
    (the paper flavour with dropout 0): both see per-rank batches, and would differ by design."""
    result = torchrun(STEP_SCRIPT, str(tmp_path / "weights.pt"), str(Path(__file__).parent))
    assert result.returncode == 0, result.stderr[-3000:]
    weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    rank_0, rank_1 = weights["ranks"]
    assert torch.equal(rank_0, rank_1)
    moved = (weights["alone"] - weights["initial"]).abs().max()
    assert moved > 0.01
    assert (rank_0 - weights["alone"]).abs().max() <= 1e-6
