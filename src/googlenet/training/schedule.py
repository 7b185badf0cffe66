"""The learning rate as a function of the optimizer step, and how it continues when a run is resumed
with another length or another number of processes.

A fresh run warms up linearly for `warmup_steps`, then follows the cosine from the peak down to zero at
the last step (or the paper's x0.96 every 8 epochs). Resuming with a new `--epochs` never raises the
learning rate: the cosine restarts from the factor it has reached, at the step where the run stands, and
falls to zero at the new last step. A finished cosine run has reached zero, so extending it trains at
zero learning rate (to train further from its weights, start a new run with `--init RUN`).

Each optimizer group holds its peak learning rate as "initial_lr"; the schedule multiplies it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

PAPER_DECAY = 0.96  # paper section 6: "decreasing the learning rate by 4% every 8 epochs"
PAPER_DECAY_EPOCHS = 8


@dataclass(frozen=True)
class LearningRateSchedule:
    kind: str  # "cosine" or "paper"
    steps_per_epoch: int
    warmup_steps: int
    total_steps: int
    # The decay segment runs from (anchor_step, anchor_factor); for "paper", anchor_epoch is the epoch
    # anchor_step starts. A fresh run anchors at the end of the warm-up with factor 1.
    anchor_step: int = 0
    anchor_factor: float = 1.0
    anchor_epoch: int = 0

    @classmethod
    def for_run(cls, kind: str, steps_per_epoch: int, epochs: int, warmup_epochs: float) -> LearningRateSchedule:
        warmup_steps = round(warmup_epochs * steps_per_epoch)
        anchor = warmup_steps if kind == "cosine" else 0
        return cls(kind, steps_per_epoch, warmup_steps, epochs * steps_per_epoch, anchor_step=anchor)

    def factor(self, step: int) -> float:
        """The multiplier of the peak learning rate for optimizer step `step` (counting from 0)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "paper":
            # Decays counted from the anchor: a schedule continued inside the warm-up keeps the factor it
            # had reached instead of jumping to the peak.
            epoch = self.anchor_epoch + (step - self.anchor_step) // self.steps_per_epoch
            decays = epoch // PAPER_DECAY_EPOCHS - self.anchor_epoch // PAPER_DECAY_EPOCHS
            return self.anchor_factor * PAPER_DECAY ** decays
        progress = (step - self.anchor_step) / max(1, self.total_steps - self.anchor_step)
        return self.anchor_factor * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))

    def continued(self, step: int, epoch: int, total_steps: int, steps_per_epoch: int) -> LearningRateSchedule:
        """The schedule a run standing at `step` (the start of `epoch` or inside it) continues with when its
        length becomes `total_steps` or its steps per epoch change: the same factor at `step`, then
        non-increasing."""
        if (total_steps, steps_per_epoch) == (self.total_steps, self.steps_per_epoch):
            return self
        if steps_per_epoch == self.steps_per_epoch and (self.kind == "paper" or step < self.warmup_steps):
            return replace(self, total_steps=total_steps)  # the paper's steps ignore the length; a warm-up goes on
        return replace(self, steps_per_epoch=steps_per_epoch, total_steps=total_steps, warmup_steps=0,
                       anchor_step=step, anchor_factor=self.factor(step), anchor_epoch=epoch)

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Set every group's learning rate for the step about to be taken."""
        factor = self.factor(step)
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LearningRateSchedule:
        return cls(**values)
