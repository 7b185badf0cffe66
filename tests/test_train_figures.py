"""The figures a run prints count what happened: images per second over the images trained since this
process started the epoch (a resumed one too), the run's length in steps at the batch size it trains
with, and evaluation batches no larger than a batch size cut down for the memory."""

from types import SimpleNamespace

import pytest
import torch

from googlenet.distributed import DistributedContext
from googlenet.training import batch_size as sizes
from googlenet.training.config import TrainConfig
from googlenet.training.selection import EpochEvaluation, metrics_row
from googlenet.training.setup import load_choosing_batch_size
from googlenet.training.state import EpochTotals

ALONE = DistributedContext()


def test_images_per_second_after_a_mid_epoch_resume_counts_the_images_since_the_resume():
    before = EpochTotals()
    before.add(torch.tensor(1.0), 300, 0.0)  # the epoch's first part, before the stop
    resumed = EpochTotals.from_dict(before.to_dict(), torch.device("cpu"))
    resumed.add(torch.tensor(1.0), 100, 0.0)  # trained in the 2 s since the resume
    state = SimpleNamespace(position=SimpleNamespace(epoch=0), optimizer=SimpleNamespace(param_groups=[{"lr": 1}]))
    session = SimpleNamespace(context=ALONE, steps_per_epoch=4)
    row = metrics_row(state, EpochEvaluation(None, None, "raw", None), resumed.reduced(ALONE), 2.0, session)
    assert row["images_per_second"] == 50.0  # not 400 / 2
    assert row["train_loss"] == 1.0  # the epoch's figures still count all 400
    fresh = EpochTotals()
    fresh.add(torch.tensor(1.0), 100, 0.0)
    assert metrics_row(state, EpochEvaluation(None, None, "raw", None), fresh.reduced(ALONE), 2.0,
                       session)["images_per_second"] == 50.0


def memory_for(batch: int) -> int:
    """Free bytes in which the automatic choice at 32x32 lands on `batch` images a step."""
    return int(batch * 1.5 * sizes.training_mib_per_image(32) * 2**20 / sizes.SHARE_OF_FREE_MEMORY)


@pytest.mark.parametrize("free_for, batch, steps", [(64, 64, 843), (100, 128, 421), (512, 256, 210)])
def test_the_runs_length_is_counted_at_the_batch_size_memory_allows(free_for, batch, steps, monkeypatch):
    # Fashion-MNIST, 1 epoch: 54,000 training images. 210 steps of 256, 421 of 128, 843 of 64: all too short
    # to augment.
    monkeypatch.setattr(sizes, "free_memory_bytes", lambda device: memory_for(free_for))
    data, config, evaluation_batch = load_choosing_batch_size(TrainConfig(epochs=1), None, None, ALONE)
    decisions = " ".join(data.decisions)
    assert config.batch_size == batch and f"batch size {batch}" in decisions
    assert f"a run of {steps} steps is too short" in decisions
    # Evaluation takes larger batches, but not past a batch cut down for the memory (from the 256 wanted).
    assert evaluation_batch == (batch if batch < sizes.SMALL_INPUT_BATCH_SIZE else sizes.EVALUATION_BATCH_SIZE)


def test_a_given_batch_size_evaluates_in_larger_batches():
    data, config, evaluation_batch = load_choosing_batch_size(TrainConfig(epochs=1, batch_size=32), None, None,
                                                              ALONE)
    assert config.batch_size == 32 and evaluation_batch == sizes.EVALUATION_BATCH_SIZE
    assert "preset small (shifts" in " ".join(data.decisions)  # 1,687 steps: long enough to augment
