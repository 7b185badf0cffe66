"""Exact resume as a property: a tiny run stopped at every place it can stop (before its first step, after
every step, at the epoch boundary, during an evaluation), resumed each time, ends bit for bit as the run that
was never stopped: weights, optimizer, averaged weights, random state, metrics and the kept model. With 0 and
2 loading processes, changed at every resume, on one process and on two (torchrun, gloo, CPU).

Each run is a chain: stopped at the first place, resumed, stopped at the next, ... so one run passes every
place at the cost of one run plus a start per stop."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import googlenet.training.loop as loop
import googlenet.training.selection as selection
from googlenet.training.trainer import LAST_CHECKPOINT, MODEL_DIR, TrainConfig, Trainer
from helpers import image_tree

# 16 training images of 20 px in 4 classes, 4 a step: 4 steps an epoch (the fewest a folder allows), 2 epochs.
# The small preset with flips and random erasing draws random numbers per image; dropout draws masks in the step.
# No auxiliary heads: half the weights to write and read at every stop.
OPTIONS = dict(batch_size=4, epochs=2, train_preset="small", hflip=True, random_erase=0.5, aux_logits=False,
               amp="off", progress=False, tensorboard=False, seed=3, workers=0)
TIMING = ("epoch_seconds", "images_per_second", "data_seconds", "data_seconds_per_step")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    image_tree(root / "train", classes=("a", "b", "c", "d"), per_class=4, size=(20, 20))
    image_tree(root / "val", classes=("a", "b", "c", "d"), per_class=2, size=(20, 20))
    return root


@pytest.fixture(scope="module")
def straight_run(images, tmp_path_factory):
    """The run never stopped: its directory and result."""
    directory = tmp_path_factory.mktemp("straight")
    result = Trainer(TrainConfig(data=str(images), output_dir=str(directory), **OPTIONS)).run()
    assert result.status == "finished" and result.epochs_done == 2
    history = torch.load(directory / LAST_CHECKPOINT, weights_only=True, mmap=True)["history"]
    assert history[0]["train_loss"] != history[1]["train_loss"]  # it trained
    return directory, result


class Interruptions:
    """Ctrl-C as the loop receives it (`StopRequests.request`), at a chosen place of the next run: before
    its first step, after optimizer step k (counting from 1 over the whole run), or while the evaluation
    at the end of epoch e (from 1) runs."""

    def __init__(self, monkeypatch) -> None:
        self.trainer: Trainer | None = None
        self.after_step: int | None = None
        self.evaluating_epoch: int | None = None
        step, evaluate = loop.train_step, selection.evaluate_split

        def train_step(*args, **kwargs):
            loss = step(*args, **kwargs)
            if self.trainer.state.position.global_step + 1 == self.after_step:
                self.trainer.stop.request()
            return loss

        def evaluate_split(session, model, dataset):
            if self.trainer.state.position.epoch + 1 == self.evaluating_epoch:
                self.trainer.stop.request()
            return evaluate(session, model, dataset)

        monkeypatch.setattr(loop, "train_step", train_step)
        monkeypatch.setattr(selection, "evaluate_split", evaluate_split)

    def run(self, config: TrainConfig | None, resume: Path | None = None, stop: tuple[str, int] | None = None):
        kind, where = stop or ("nowhere", 0)
        self.after_step = where if kind == "after step" else None
        self.evaluating_epoch = where if kind == "evaluating epoch" else None
        self.trainer = Trainer(config, resume=resume)
        if kind == "before start":
            self.trainer.stop.request()
        return self.trainer.run()


def every_stop(boundary: tuple[str, int]) -> list[tuple[tuple[str, int], tuple[int, int]]]:
    """(where to stop, the (epoch, step in epoch) the run stops at) for every place a run of 2 epochs of 4 steps
    can stop: before its first step, mid-epoch after steps 1-3 and 5-7, and at the boundary between the epochs
    (`boundary`: during the last step of epoch 1, or during the evaluation that ends it)."""
    mid_epoch = [(("after step", step), divmod(step, 4)) for step in (1, 2, 3, 5, 6, 7)]
    return [(("before start", 0), (0, 0)), *mid_epoch[:3], (boundary, (1, 0)), *mid_epoch[3:]]


def assert_same_run(expected_dir: Path, got_dir: Path) -> None:
    expected = torch.load(expected_dir / LAST_CHECKPOINT, weights_only=True)
    got = torch.load(got_dir / LAST_CHECKPOINT, weights_only=True)
    for part in ("model", "ema"):
        assert expected[part].keys() == got[part].keys()
        for name, tensor in expected[part].items():
            assert torch.equal(tensor, got[part][name]), f"{part} {name}"
    for index, state in expected["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, got["optimizer"]["state"][index][name]), f"optimizer {index} {name}"
    assert expected["optimizer"]["param_groups"] == got["optimizer"]["param_groups"]
    for part in ("schedule", "position", "selection", "ema_warmup"):
        assert expected[part] == got[part], part
    for rank, (want, have) in enumerate(zip(expected["rng_by_rank"], got["rng_by_rank"], strict=True)):
        assert torch.equal(want["torch"], have["torch"]) and want["python"] == have["python"], f"rank {rank}"
    untimed = [[{key: value for key, value in row.items() if key not in TIMING} for row in checkpoint["history"]]
               for checkpoint in (expected, got)]
    assert untimed[0] == untimed[1]
    kept = [(directory / MODEL_DIR / "model.safetensors").read_bytes() for directory in (expected_dir, got_dir)]
    assert kept[0] == kept[1]


@pytest.mark.slow
@pytest.mark.parametrize("first_workers, boundary", [(0, ("after step", 4)), (2, ("evaluating epoch", 1))])
def test_a_run_stopped_everywhere_and_resumed_ends_bit_for_bit_as_the_straight_run(first_workers, boundary, images,
                                                                                  straight_run, tmp_path, monkeypatch):
    # Between the two chains every place is resumed once with 0 and once with 2 loading processes.
    straight_dir, straight = straight_run
    interruptions = Interruptions(monkeypatch)
    run = tmp_path / "stopped"
    stops = every_stop(boundary)
    workers = first_workers
    result = interruptions.run(TrainConfig(data=str(images), output_dir=str(run), **{**OPTIONS, "workers": workers}),
                               stop=stops[0][0])
    for index, ((_, position), (next_stop, _)) in enumerate(zip(stops, [*stops[1:], (None, None)], strict=True)):
        assert result.status == "interrupted"
        saved = torch.load(run / LAST_CHECKPOINT, weights_only=True, mmap=True)
        assert (saved["position"]["epoch"], saved["position"]["step_in_epoch"]) == position
        assert saved["train_config"]["workers"] == workers
        if index % 2 == 0:  # every other resume changes the loading processes
            workers = 2 - workers
            config = TrainConfig(workers=workers, progress=False, tensorboard=False)
        else:  # train(resume=RUN): the run's own options, whatever they are
            config = None
        result = interruptions.run(config, resume=run, stop=next_stop)
    assert result.status == "finished"
    assert (result.selected_epoch, result.selected_weights) == (straight.selected_epoch, straight.selected_weights)
    assert result.validation == straight.validation
    assert_same_run(straight_dir, run)


SCRIPT = '''
import sys
import googlenet.training.loop as loop
import googlenet.training.selection as selection
from googlenet.training.trainer import TrainConfig, Trainer

import torch.distributed as dist

dist.init_process_group("gloo")  # ours: every run below uses it and leaves it to us
straight, stopped = sys.argv[1], sys.argv[2]
options = {OPTIONS}
stops = {STOPS}
current = {}
step, evaluate = loop.train_step, selection.evaluate_split

def train_step(*args, **kwargs):
    loss = step(*args, **kwargs)
    if current["stop"] == ("after step", current["trainer"].state.position.global_step + 1):
        current["trainer"].stop.request()  # what Ctrl-C does, on every rank
    return loss

def evaluate_split(session, model, dataset):
    if current["stop"] == ("evaluating epoch", current["trainer"].state.position.epoch + 1):
        current["trainer"].stop.request()
    return evaluate(session, model, dataset)

loop.train_step, selection.evaluate_split = train_step, evaluate_split

def run(config, resume=None, stop=None):
    current["stop"], current["trainer"] = stop, Trainer(config, resume=resume)
    return current["trainer"].run().status

print("STRAIGHT", run(TrainConfig(**options, output_dir=straight)))
workers = options["workers"]
statuses = [run(TrainConfig(**options, output_dir=stopped), stop=stops[0])]
for stop in [*stops[1:], None]:
    workers = 2 - workers
    statuses.append(run(TrainConfig(workers=workers, progress=False, tensorboard=False), resume=stopped, stop=stop))
print("STATUSES", " ".join(statuses))
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_a_two_process_run_stopped_at_each_kind_of_place_and_resumed_is_bit_identical(images, tmp_path):
    # 16 images, 2 a step on each of 2 processes: 4 steps an epoch. Stopped mid-epoch (after steps 2 and 5) and
    # at the epoch boundary (during the evaluation that ends epoch 1).
    options = {**OPTIONS, "batch_size": 2, "data": str(images)}
    stops = [("after step", 2), ("evaluating epoch", 1), ("after step", 5)]
    script = tmp_path / "train_two.py"
    script.write_text(SCRIPT.replace("{OPTIONS}", repr(options)).replace("{STOPS}", repr(stops)))
    command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", str(script),
               str(tmp_path / "straight"), str(tmp_path / "stopped")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STRAIGHT finished" in done.stdout, done.stderr[-3000:]
    assert "STATUSES interrupted interrupted interrupted finished" in done.stdout, done.stdout[-3000:]
    assert_same_run(tmp_path / "straight", tmp_path / "stopped")
    checkpoint = torch.load(tmp_path / "stopped" / LAST_CHECKPOINT, weights_only=True)
    assert checkpoint["world_size"] == 2 and [row["ranks_in_sync"] for row in checkpoint["history"]] == [True] * 2
