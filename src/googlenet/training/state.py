"""A run's state: everything a checkpoint holds, as named fields.

`RunState` is what the loop advances and what checkpoint.py saves and restores; nothing about a run's
progress lives anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from googlenet.distributed import DistributedContext, all_reduce_sum
from googlenet.training.ema import WeightAverage
from googlenet.training.schedule import LearningRateSchedule


@dataclass
class Position:
    """Where the run stands: `epoch` epochs finished, `step_in_epoch` steps into the next one."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0


@dataclass
class EpochTotals:
    """This process's running sums over the current epoch. The loss and hit counts stay on the device
    (adding to them needs no host sync); they are read once, when the epoch's metrics are reduced."""

    loss_sum: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    correct: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.int64))
    images: int = 0
    data_seconds: float = 0.0
    skipped_images: int = 0
    # Of `images`, those counted before this process took the epoch up (a resumed epoch's first part):
    # not in the time this process measures, so not in its images per second. Never saved.
    untimed_images: int = 0

    def to(self, device: torch.device) -> EpochTotals:
        return EpochTotals(self.loss_sum.to(device), self.correct.to(device), self.images, self.data_seconds,
                           self.skipped_images, self.untimed_images)

    def add(self, loss: torch.Tensor, count: int, data_seconds: float) -> None:
        """One step's mean loss over `count` images (its hits go straight into `correct` in the step)."""
        self.loss_sum += loss.double() * count
        self.images += count
        self.data_seconds += data_seconds

    def reduced(self, context: DistributedContext) -> dict[str, float]:
        """The sums over every process, as plain numbers."""
        device = self.loss_sum.device
        stacked = torch.stack([self.loss_sum.double(), self.correct.double(),
                               torch.tensor(float(self.images), dtype=torch.float64, device=device),
                               torch.tensor(self.data_seconds, dtype=torch.float64, device=device),
                               torch.tensor(float(self.skipped_images), dtype=torch.float64, device=device),
                               torch.tensor(float(self.untimed_images), dtype=torch.float64, device=device)])
        loss_sum, correct, images, data_seconds, skipped, untimed = all_reduce_sum(stacked, context).tolist()
        return {"loss_sum": loss_sum, "correct": correct, "images": images, "data_seconds": data_seconds,
                "skipped_images": skipped, "untimed_images": untimed}

    def to_dict(self) -> dict[str, Any]:
        return {"loss_sum": float(self.loss_sum), "correct": int(self.correct), "images": self.images,
                "data_seconds": self.data_seconds, "skipped_images": self.skipped_images}

    @classmethod
    def from_dict(cls, values: dict[str, Any], device: torch.device) -> EpochTotals:
        """The sums a checkpoint saved, to go on counting from: their images are untimed here."""
        return cls(torch.tensor(values["loss_sum"], dtype=torch.float64, device=device),
                   torch.tensor(values["correct"], dtype=torch.int64, device=device),
                   int(values["images"]), float(values["data_seconds"]), int(values.get("skipped_images", 0)),
                   untimed_images=int(values["images"]))


@dataclass
class Selection:
    """Which weights the run keeps in model/: chosen on the validation split, never on the test split.

    Without a validation split every finished epoch replaces the previous one (the final weights are
    kept: the averaged ones where the run averages)."""

    epoch: int | None = None  # the epoch whose weights are in model/
    weights: str = "raw"  # "raw" or "ema"
    validation_top1: float | None = None  # the selected weights' validation top-1; None without validation

    @property
    def by(self) -> str:
        return "validation top-1" if self.validation_top1 is not None else "final epoch (no validation split)"

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "weights": self.weights, "validation_top1": self.validation_top1}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Selection:
        return cls(values.get("epoch"), values.get("weights", "raw"), values.get("validation_top1"))


@dataclass
class RunState:
    model: nn.Module  # the plain model (never the DistributedDataParallel wrapper): what is saved
    optimizer: torch.optim.Optimizer
    schedule: LearningRateSchedule
    ema: WeightAverage | None
    position: Position = field(default_factory=Position)
    totals: EpochTotals = field(default_factory=EpochTotals)
    selection: Selection = field(default_factory=Selection)
    history: list[dict[str, Any]] = field(default_factory=list)  # one metrics row per finished epoch

    def start_next_epoch(self) -> None:
        self.position.epoch += 1
        self.position.step_in_epoch = 0
        self.totals = EpochTotals().to(self.totals.loss_sum.device)
