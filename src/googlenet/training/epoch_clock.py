"""The run's early word on its own length: after its first few steps, about how long an epoch takes here.

A progress bar shows the rate too, but only on a terminal and only for the epoch under way; this is one
line, in the log as well, with the whole run's length beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WARM_UP_STEPS = 1  # the first step also builds kernels and caches: not timed
TIMED_STEPS = 10


class EpochClock:
    """Called after every step (`Session.after_step`); prints once, after WARM_UP_STEPS + TIMED_STEPS steps
    of this process's first epoch (fewer on a short epoch), the time per epoch they extrapolate to."""

    def __init__(self, steps_per_epoch: int, epochs_left: int, say: Callable[[str], None] = print) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.epochs_left = epochs_left
        self.timed = max(1, min(TIMED_STEPS, steps_per_epoch - WARM_UP_STEPS))
        self.say = say
        self.steps = 0
        self.started: float | None = None
        self.done = steps_per_epoch <= WARM_UP_STEPS  # nothing left to time

    def __call__(self, *_: object) -> None:
        if self.done:
            return
        self.steps += 1
        if self.steps == WARM_UP_STEPS:
            self.started = time.perf_counter()
        elif self.started is not None and self.steps == WARM_UP_STEPS + self.timed:
            self.done = True
            self.say(self.estimate(time.perf_counter() - self.started))

    def estimate(self, seconds: float) -> str:
        step = seconds / self.timed
        epoch = step * self.steps_per_epoch
        run = f"; {self.epochs_left} epochs: about {_duration(epoch * self.epochs_left)} of training, " \
              "evaluations aside" if self.epochs_left > 1 else ""
        return (f"time: about {_duration(epoch)} per epoch of {self.steps_per_epoch} steps ({step:.2f} s a step, "
                f"measured over {self.timed} steps after the first){run}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
