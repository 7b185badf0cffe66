"""Checkpoints: written whole or not at all, every rank's random state kept, damaged files named with
the next one to try (no training here)."""

import errno
import io
import random

import pytest
import torch
from torch import nn

from googlenet.atomic_files import AtomicWriteError
from googlenet.distributed import DistributedContext
from googlenet.training import checkpoint as checkpoints
from googlenet.training.checkpoint import (
    CheckpointError,
    build_payload,
    capture_rng,
    gather_rank_states,
    read_checkpoint,
    restore,
    restore_rng,
    save_checkpoint,
)
from googlenet.training.config import CHECKPOINT_FORMAT, TrainConfig
from googlenet.training.ema import WeightAverage
from googlenet.training.schedule import LearningRateSchedule
from googlenet.training.state import EpochTotals, Position, RunState, Selection
from googlenet.training.step import build_optimizer

ALONE = DistributedContext()


def small_state(seed: int = 0) -> RunState:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    config = TrainConfig(epochs=3)
    optimizer = build_optimizer(model, config)
    return RunState(model, optimizer, LearningRateSchedule.for_run("cosine", 4, 3, 0.5), WeightAverage(model, 0.9))


def advance(state: RunState, steps: int) -> None:
    for _ in range(steps):
        state.schedule.apply(state.optimizer, state.position.global_step)
        loss = state.model(torch.randn(5, 1, 6, 6)).logsumexp(1).mean()
        state.optimizer.zero_grad()
        loss.backward()
        state.optimizer.step()
        state.ema.update(state.model)
        state.totals.add(loss.detach(), 5, 0.01)
        state.position.step_in_epoch += 1
        state.position.global_step += 1


def payload_of(state: RunState) -> dict:
    return build_payload(state, TrainConfig(epochs=3), gather_rank_states(ALONE, state.totals),
                         {"model_config": {}, "class_names": []})


def test_a_checkpoint_restores_the_state_and_the_random_numbers_exactly(tmp_path):
    state = small_state()
    advance(state, 5)
    state.selection = Selection(epoch=1, weights="ema", validation_top1=40.0)
    state.history = [{"epoch": 1, "validation_top1": 40.0}]
    save_checkpoint(payload_of(state), tmp_path)
    expected_next = (torch.rand(3), random.random())
    advance(state, 2)  # what the interrupted run would have gone on to do

    fresh = small_state(seed=1)
    restore(fresh, read_checkpoint(tmp_path / "checkpoint_last.pt"), ALONE)
    assert (torch.rand(3), random.random())[1] == expected_next[1]
    restore(fresh, read_checkpoint(tmp_path / "checkpoint_last.pt"), ALONE)
    assert torch.equal(torch.rand(3), expected_next[0])
    assert fresh.position == Position(epoch=0, step_in_epoch=5, global_step=5)
    assert fresh.selection == Selection(1, "ema", 40.0) and fresh.history == [{"epoch": 1, "validation_top1": 40.0}]
    assert fresh.ema.updates == 5 and fresh.ema.warmup
    assert fresh.totals.images == 25
    # The tensors themselves: weights, BatchNorm statistics, SGD momentum buffers and the average.
    saved = read_checkpoint(tmp_path / "checkpoint_last.pt")
    fresh_model, fresh_ema = fresh.model.state_dict(), fresh.ema.state_dict()
    unrestored = small_state(seed=1).model.state_dict()
    assert any(not torch.equal(tensor, fresh_model[name]) for name, tensor in unrestored.items())
    for name, tensor in saved["model"].items():
        assert torch.equal(fresh_model[name], tensor), name
    for name, tensor in saved["ema"].items():
        assert torch.equal(fresh_ema[name], tensor), name
    momenta = [fresh.optimizer.state[parameter]["momentum_buffer"]  # numbered in the groups' order
               for group in fresh.optimizer.param_groups for parameter in group["params"]]
    assert len(momenta) == len(saved["optimizer"]["state"]) and all(m.abs().sum() > 0 for m in momenta)
    for index, momentum in enumerate(momenta):
        assert torch.equal(momentum, saved["optimizer"]["state"][index]["momentum_buffer"]), index


def test_each_rank_gets_its_own_random_state_back(monkeypatch):
    states = []
    for rank in range(2):
        torch.manual_seed(100 + rank)
        random.seed(100 + rank)
        states.append(capture_rng())
    draws = []
    for rank in (1, 0):
        restore_rng(states[rank])
        draws.append((rank, torch.rand(1).item(), random.random()))
    assert draws[0][1:] != draws[1][1:]
    state = small_state()
    payload = payload_of(state)
    payload["rng_by_rank"] = states
    payload["totals_by_rank"] = [{**payload["totals_by_rank"][0], "images": 10 + rank} for rank in range(2)]
    for rank in (0, 1):
        restore(state, payload, DistributedContext(rank=rank, world_size=2))
        expected = [draw for draw in draws if draw[0] == rank][0]
        assert (torch.rand(1).item(), random.random()) == expected[1:]
        assert state.totals.images == 10 + rank  # its own running sums too


def test_keeping_the_previous_checkpoint_and_a_failed_write_leaves_both_intact(tmp_path, monkeypatch):
    state = small_state()
    advance(state, 1)
    save_checkpoint(payload_of(state), tmp_path)
    advance(state, 1)
    save_checkpoint(payload_of(state), tmp_path, best=True)
    assert read_checkpoint(tmp_path / "checkpoint_previous.pt")["position"]["global_step"] == 1
    assert read_checkpoint(tmp_path / "checkpoint_best.pt")["position"]["global_step"] == 2
    real_save = torch.save

    def dies_half_way(obj, file, *args, **kwargs):
        whole = io.BytesIO()
        real_save(obj, whole)
        file.write(whole.getvalue()[: len(whole.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    advance(state, 1)
    monkeypatch.setattr(checkpoints.torch, "save", dies_half_way)
    with pytest.raises(AtomicWriteError, match=r"cannot write .*checkpoint_last.pt: No space left on device"):
        save_checkpoint(payload_of(state), tmp_path)
    monkeypatch.setattr(checkpoints.torch, "save", real_save)
    assert read_checkpoint(tmp_path / "checkpoint_last.pt")["position"]["global_step"] == 2
    assert read_checkpoint(tmp_path / "checkpoint_previous.pt")["position"]["global_step"] == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "checkpoint_best.pt", "checkpoint_last.pt", "checkpoint_previous.pt"]


def test_torchs_own_write_error_is_named_with_the_path(tmp_path, monkeypatch):
    def full_disk(obj, path, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpoints.torch, "save", full_disk)
    with pytest.raises(AtomicWriteError, match=r"cannot write .*checkpoint_last.pt: .*PytorchStreamWriter"):
        save_checkpoint(payload_of(small_state()), tmp_path)


def test_a_damaged_checkpoint_is_named_with_the_next_older_one(tmp_path):
    state = small_state()
    save_checkpoint(payload_of(state), tmp_path)
    save_checkpoint(payload_of(state), tmp_path)
    last = tmp_path / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as damaged:
        read_checkpoint(last)
    message = str(damaged.value)
    assert str(last) in message and "truncated or corrupt" in message
    assert f"--resume {tmp_path / 'checkpoint_previous.pt'}" in message
    last.unlink()
    with pytest.raises(FileNotFoundError, match="checkpoint_last.pt does not exist.*checkpoint_previous.pt"):
        read_checkpoint(last)
    (tmp_path / "checkpoint_previous.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.*no older checkpoint"):
        read_checkpoint(tmp_path / "checkpoint_previous.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a googlenet training checkpoint"):
        read_checkpoint(tmp_path / "other.pt")


def test_a_checkpoint_of_a_development_version_is_refused_with_what_to_do(tmp_path):
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "model": {}}, tmp_path / "checkpoint_last.pt")
    with pytest.raises(CheckpointError, match=r"development version before googlenet 0.1.0 \(checkpoint version 1\); "
                                              r"start a new run, with --init .* to begin from its weights"):
        read_checkpoint(tmp_path / "checkpoint_last.pt")


def test_epoch_totals_keep_their_names_through_a_checkpoint():
    totals = EpochTotals()
    totals.add(torch.tensor(2.0), 4, 0.5)
    totals.correct += 3
    again = EpochTotals.from_dict(totals.to_dict(), torch.device("cpu"))
    assert again.reduced(ALONE) == {"loss_sum": 8.0, "correct": 3.0, "images": 4.0, "data_seconds": 0.5,
                                    "skipped_images": 0.0, "untimed_images": 4.0}  # counted before the resume
