"""Polyak averaging of the weights (paper section 6) as an exponential moving average, with a warm-up.

A fixed decay of 0.998 needs about 500 steps to forget its random start, so on a run of a few hundred
steps the averaged weights stay near random. With the warm-up the decay at update n is
min(decay, (1 + n) / (10 + n)) (TensorFlow's ExponentialMovingAverage with num_updates, timm's EMA
warm-up): the average covers about the last tenth of a short run and reaches `decay` after
about 9 / (1 - decay) updates.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage(nn.Module):
    """The averaged copy of a model. Its state_dict has torch's AveragedModel keys ("module.*",
    "n_averaged"), so checkpoints written with AveragedModel load into it."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True) -> None:
        super().__init__()
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))
        self.decay = decay
        self.warmup = warmup
        self.updates = 0  # n_averaged as a Python int: reading the buffer every step would sync a GPU

    def decay_at(self, update: int) -> float:
        return min(self.decay, (1 + update) / (10 + update)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards `model`'s current parameters and buffers (BatchNorm statistics too)."""
        averaged = [*self.module.parameters(), *self.module.buffers()]
        current = [tensor.detach() for tensor in (*model.parameters(), *model.buffers())]
        if self.updates == 0:
            torch._foreach_copy_(averaged, current)
        else:
            weight = 1.0 - self.decay_at(self.updates)
            floating = [index for index, tensor in enumerate(averaged) if tensor.is_floating_point()]
            torch._foreach_lerp_([averaged[i] for i in floating], [current[i] for i in floating], weight)
            for index, tensor in enumerate(averaged):
                if not tensor.is_floating_point():  # BatchNorm's num_batches_tracked: a count, not averaged
                    tensor.copy_(current[index])
        self.updates += 1
        self.n_averaged += 1

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):  # type: ignore[override]
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.updates = int(self.n_averaged)
        return result
