"""What several tests need: weights at a real scale, small data sets written to disk.

Imported by tests as `from helpers import ...` (pytest puts tests/ on sys.path); conftest holds fixtures only."""

import gzip
import struct
from pathlib import Path

import numpy as np
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


# --- Small data sets on disk -----------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", 0x0800 + array.ndim, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_set(directory: Path, train: int = 12, test: int = 6, compress: bool = True, seed: int = 0) -> dict:
    """The four IDX files of a tiny MNIST-like set; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, count in (("train", train), ("t10k", test)):
        arrays[f"{split}-images-idx3-ubyte"] = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        arrays[f"{split}-labels-idx1-ubyte"] = np.arange(count, dtype=np.uint8) % 10
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays
