"""What several tests need: weights at a real scale, small data sets written to disk.

Imported by tests as `from helpers import ...` (pytest puts tests/ on sys.path); conftest holds fixtures only."""

import torch
from torch import nn


def give_real_scale(model: nn.Module, seed: int = 0) -> nn.Module:
    """Kaiming weights, random biases and random BatchNorm statistics, so eval-mode activations keep a
    real scale through all 22 layers (with std-0.01 init they shrink to ~1e-17 and anything "agrees")."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model
