"""What several tests need: weights at a real scale, small data sets written to disk.

Imported by tests as `from helpers import ...` (pytest puts tests/ on sys.path); conftest holds fixtures and pytest hooks only."""

import functools
import gzip
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
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


def uninitialised_googlenet(flavour: str, **options) -> nn.Module:
    """googlenet(flavour, **options) with its weights left as torch.empty: for a network whose every weight
    is set next (loaded or scaled), so that no initialisation is computed to be thrown away."""
    from googlenet.models import GoogLeNetConfig, uninitialised_googlenet

    return uninitialised_googlenet(GoogLeNetConfig(flavour, **options))


def real_scale_googlenet(flavour: str, *, seed: int = 0, **options) -> nn.Module:
    """`give_real_scale(googlenet(flavour, **options), seed)`: built and scaled once per process (~0.4 s),
    then every call builds the network uninitialised and loads those weights (~0.05 s; a deepcopy ~0.09 s),
    because dozens of tests need one."""
    model = uninitialised_googlenet(flavour, **options)
    model.load_state_dict(_real_scale_googlenet(flavour, seed, tuple(sorted(options.items()))).state_dict())
    return model


@functools.lru_cache(maxsize=None)
def _real_scale_googlenet(flavour: str, seed: int, options: tuple) -> nn.Module:
    # give_real_scale sets every weight, bias and BatchNorm statistic
    return give_real_scale(uninitialised_googlenet(flavour, **dict(options)), seed)


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


def save_image(path: Path, mode: str = "RGB", size=(40, 30), seed: int = 0, **save_options) -> Path:
    """An image file of random pixels, `size` = (width, height), in PIL `mode`, format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, **save_options)
    return path


def damage_png_pixels(path: Path) -> Path:
    """Damage a PNG's compressed pixel data (8 bytes in the middle of its first IDAT chunk) and recompute the
    chunk's checksum: the file passes every header and checksum test and fails only when decoded."""
    data = bytearray(path.read_bytes())
    at = 8  # after the signature: chunks of (length, type, data, CRC of type + data)
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        if data[at + 4:at + 8] == b"IDAT":
            start = at + 8
            data[start + length // 2:start + length // 2 + 8] = b"\xff" * 8
            data[start + length:start + length + 4] = zlib.crc32(data[at + 4:start + length]).to_bytes(4, "big")
            path.write_bytes(bytes(data))
            return path
        at += 12 + length
    raise ValueError(f"{path} has no IDAT chunk")


def image_tree(root: Path, classes=("cat", "dog"), per_class: int = 5, size=(40, 30), mode: str = "RGB") -> None:
    """root/<class>/<index>.jpg|.png: `per_class` random images per class, JPEG and PNG alternately."""
    for class_index, name in enumerate(classes):
        for index in range(per_class):
            suffix = ".png" if index % 2 else ".jpg"
            save_image(root / name / f"{index}{suffix}", mode, size, seed=class_index * 100 + index)


def write_model_dir(
    directory: Path, class_names: list[str], *, in_chans: int = 3, input_size: int = 32, resize_size: int | None = None,
    seed: int = 0,
) -> nn.Module:
    """A model directory of a small random-weight (real-scale) bn GoogLeNet; returns the model loaded from it."""
    from googlenet.models.preprocessing import Preprocessing
    from googlenet.weights.model_dir import from_pretrained, save_pretrained

    model = real_scale_googlenet("bn", num_classes=len(class_names), in_chans=in_chans, aux_logits=False,
                                 seed=seed).eval()
    mean, std = ((0.5,), (0.25,)) if in_chans == 1 else ((0.5, 0.45, 0.4), (0.25, 0.25, 0.25))
    preprocessing = Preprocessing(input_size=input_size, resize_size=resize_size or input_size, mean=mean, std=std,
                                  channel_order="L" if in_chans == 1 else "RGB")
    save_pretrained(model, directory, class_names=class_names, preprocessing=preprocessing)
    return from_pretrained(directory)


def write_run_dir(run: Path, config: dict, class_names: list[str], *, epoch: int = 3, weights: str = "ema",
                  **model_options) -> nn.Module:
    """A training run directory as training leaves it: config.json (`config`, the TrainConfig's fields that
    matter here) and model/ with its evaluation.json; returns the model."""
    import json

    model = write_model_dir(run / "model", class_names, **model_options)
    (run / "config.json").write_text(json.dumps(config))
    (run / "model" / "evaluation.json").write_text(json.dumps({"epoch": epoch, "weights": weights}))
    return model


def copy_linking_weights(source: Path, destination: Path) -> Path:
    """Copy a directory tree, hard-linking its weight files (1 MiB or more) instead of copying them.

    Dozens of tests start from the same saved model: copying tens of megabytes for each, and deleting them
    afterwards, cost the quick tier seconds. A linked file is shared with `source`, so a test must replace
    it (unlink, then write) rather than rewrite it in place; `tree_fingerprint` lets a fixture check that."""
    def link_or_copy(from_path, to_path):
        if os.path.getsize(from_path) >= 1 << 20:
            try:
                os.link(from_path, to_path)
                return
            except OSError:  # a file system without hard links (or another device): copy after all
                pass
        shutil.copy2(from_path, to_path)

    shutil.copytree(source, destination, copy_function=link_or_copy)
    return destination


def trust_as_release(monkeypatch, path: Path) -> None:
    """Take the file at `path` for torchvision's ImageNet release: the published SHA-256 prefix becomes its own."""
    import hashlib

    from googlenet.models.pretrained import GoogLeNet_Weights

    prefix = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    monkeypatch.setattr(GoogLeNet_Weights, "hash_prefix", property(lambda self: prefix))


def tree_fingerprint(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under `root`: changes when any file is rewritten in place."""
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*")) if path.is_file()}


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (the first `flags` line), read here and not through
    googlenet.machine, so that tests can check the library's CPU rules against the real CPU; empty where
    there is no /proc/cpuinfo."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()
