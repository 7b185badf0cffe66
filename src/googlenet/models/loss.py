"""The training loss of paper section 5: main cross-entropy plus 0.3 x each auxiliary cross-entropy."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from googlenet.models.network import GoogLeNetOutputs

# Paper section 5: "their loss gets added to the total loss of the network with a discount weight
# (the losses of the auxiliary classifiers were weighted by 0.3)".
PAPER_AUX_WEIGHT = 0.3


class GoogLeNetLoss(nn.Module):
    """Cross-entropy on the logits, plus `aux_weights[i]` x cross-entropy on aux head i.

    Accepts what the model returns: `GoogLeNetOutputs` in training mode, a logits tensor otherwise
    (then it is plain cross-entropy).
    """

    def __init__(
        self, aux_weights: tuple[float, float] = (PAPER_AUX_WEIGHT, PAPER_AUX_WEIGHT), label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        if len(aux_weights) != 2 or any(weight < 0 for weight in aux_weights):
            raise ValueError(f"aux_weights must be two non-negative numbers, got {aux_weights!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.aux_weights = tuple(float(weight) for weight in aux_weights)
        self.label_smoothing = label_smoothing

    def forward(self, outputs: Tensor | GoogLeNetOutputs, target: Tensor) -> Tensor:
        if isinstance(outputs, GoogLeNetOutputs):
            loss = self._cross_entropy(outputs.logits, target)
            for weight, aux_logits in zip(self.aux_weights, (outputs.aux_logits1, outputs.aux_logits2)):
                loss = loss + weight * self._cross_entropy(aux_logits, target)
            return loss
        return self._cross_entropy(outputs, target)

    def _cross_entropy(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
