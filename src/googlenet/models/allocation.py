"""Networks built without computing an initialisation that would be thrown away.

The layers are built on the meta device (shapes and dtypes only, no memory, no arithmetic) and their
parameters and buffers then allocated with `torch.empty`. Everything here is local to the module being
built: torch's own layers are never patched, so another thread building a network meanwhile is not
affected. Allocation uses `torch.empty` rather than `Module.to_empty`, whose `empty_like` on a meta tensor
imports torch's symbolic-shape machinery (sympy, ~500 modules, 0.5 s) on first use.
"""

from __future__ import annotations

import torch
from torch import nn


def allocate_uninitialised(module: nn.Module, device: torch.device | str | None = None) -> nn.Module:
    """Give every parameter and buffer of `module` that lives on the meta device uninitialised memory
    (torch.empty) on `device` (default: torch's current default device). Returns `module`."""
    device = torch.get_default_device() if device is None else torch.device(device)
    for submodule in module.modules():
        for name, parameter in list(submodule.named_parameters(recurse=False)):
            if parameter.is_meta:
                empty = torch.empty(parameter.shape, dtype=parameter.dtype, device=device)
                setattr(submodule, name, nn.Parameter(empty, requires_grad=parameter.requires_grad))
        for name, buffer in list(submodule.named_buffers(recurse=False)):
            if buffer.is_meta:
                setattr(submodule, name, torch.empty(buffer.shape, dtype=buffer.dtype, device=device))
    return module
