"""What `torch.jit.script(model)` compiles for a GoogLeNet: its forward as an `nn.Sequential` of the model's
own modules, under their own names.

GoogLeNet's forward walks the trunk by name, checks the input in Python and returns the aux heads'
outputs in training mode: none of that compiles to TorchScript. Its eval-mode forward is a plain chain,
input transform -> Table 1's stages -> pool -> flatten -> dropout -> classifier, which does, and the
chain's state_dict keys are the model's own (the aux heads, unused in eval mode, aside). Called by
torch.jit.script through `GoogLeNet.__prepare_scriptable__`; the model itself is not changed.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import nn


def scriptable(model: Any) -> nn.Sequential:
    """The chain `torch.jit.script` compiles in place of `model` (a GoogLeNet), in the model's mode. A model
    whose training mode returns the aux heads' outputs is refused in that mode, not silently cut short."""
    if model.training and model.aux_logits:
        raise ValueError("torch.jit.script compiles GoogLeNet's eval-mode forward: call model.eval() first, or set "
                         "model.aux_logits = False (in training mode it also returns the aux heads' outputs)")
    flatten = [("flatten", nn.Flatten(1))] if model.global_pool else []  # '': the map stays unpooled
    chain = [("input_transform", model.input_transform), *model.stages(), ("avgpool", model.avgpool),
             *flatten, ("dropout", model.dropout), ("fc", model.fc)]
    return nn.Sequential(OrderedDict(chain)).train(model.training)
