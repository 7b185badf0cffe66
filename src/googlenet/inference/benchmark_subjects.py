"""What `googlenet benchmark` times: torchvision's googlenet and ours on the same weights, their inference
paths and training steps, and the machine's fp32 matmul rate (the physical reference).

Our training step is `googlenet.training.step.train_step`, set up as `googlenet train` sets it up
(`prepare_model`, `build_optimizer`, the loss and autocast from TrainConfig's defaults): the benchmark times
the step that the command runs, not a copy of it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from googlenet.inference.benchmark_report import (
    INT8_PATHS,
    TORCHVISION_CHANNELS_LAST,
    TORCHVISION_EAGER,
    TORCHVISION_ONNXRUNTIME,
)
from googlenet.inference.optimize import backend_problem, optimize, time_calls
from googlenet.models.network import GoogLeNet, googlenet
from googlenet.weights.export import onnx_bytes

BF16_PATH = "bf16"
# torchvision's training recipe weighs each aux loss 0.3 (paper section 5); so does `googlenet train`.
TORCHVISION_AUX_WEIGHT = 0.3


def matmul_gflops(size: int, repeats: int, warmup: int = 1, with_numpy: bool = True) -> dict[str, list[float]]:
    """GFLOP/s of fp32 `size` x `size` matrix products (2 size^3 FLOPs each), one per repetition, by library:
    torch.mm (MKL in torch's x86 builds) and numpy.matmul (OpenBLAS in numpy's wheels). Both, because MKL
    does not run AMD CPUs at their peak: on the 2-core EPYC of docs/speed.md numpy's product is 20% faster."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
    products: dict[str, Callable[[], Any]] = {"torch.mm": lambda: torch.mm(a, b)}
    if with_numpy:
        a_array, b_array = a.numpy(), b.numpy()
        products["numpy.matmul"] = lambda: a_array @ b_array
    return {name: [2 * size**3 / seconds / 1e9 for seconds in time_calls(product, repeats, warmup)]
            for name, product in products.items()}


def count_flops(call: Callable[[], Any]) -> int:
    """FLOPs of what `call` runs (torch.utils.flop_counter: 2 per multiply-add, convolutions and GEMMs)."""
    counter = FlopCounterMode(display=False)
    with counter:
        call()
    return counter.get_total_flops()


def machine_description(threads: int) -> dict[str, Any]:
    """The machine (googlenet.machine: CPU, kind, flags, threads), its load and the libraries' versions."""
    from googlenet.machine import describe_machine

    machine = describe_machine(threads)
    versions = {"torch": torch.__version__}
    for package in ("torchvision", "onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(ImportError):
            versions[package] = __import__(package).__version__
    return {
        **machine.to_dict(),
        "description": str(machine),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def realistic_weights(model: nn.Module, seed: int) -> None:
    """Weights and BatchNorm statistics at the scale of a trained network. torchvision's init (std 0.01)
    makes activations shrink layer by layer to denormal numbers, which CPUs compute far more slowly,
    and makes every logits comparison pass trivially."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.normal_(0.0, (2.0 / module.weight[0].numel()) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)


def same_weight_models(num_classes: int, seed: int) -> tuple[nn.Module, GoogLeNet]:
    """torchvision's googlenet and ours (the torchvision flavour), holding the same weights."""
    from torchvision.models import googlenet as torchvision_googlenet

    reference = torchvision_googlenet(weights=None, aux_logits=True, init_weights=False, num_classes=num_classes,
                                      transform_input=False)
    realistic_weights(reference, seed)
    ours = googlenet("torchvision", num_classes=num_classes, aux_logits=True, init_weights=False)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def baseline_inference_paths(reference: nn.Module, example: Tensor, threads: int | None,
                             notes: list[str]) -> dict[str, Callable[[Tensor], Tensor]]:
    """torchvision's googlenet: eager NCHW, eager channels_last, and ONNX Runtime where it is installed."""
    from googlenet.inference.optimize import OnnxRuntimeNetwork

    reference = reference.eval()
    channels_last = copy.deepcopy(reference).to(memory_format=torch.channels_last)
    paths: dict[str, Callable[[Tensor], Tensor]] = {
        TORCHVISION_EAGER: reference,
        TORCHVISION_CHANNELS_LAST: lambda x: channels_last(x.contiguous(memory_format=torch.channels_last)),
    }
    if backend_problem("onnxruntime") is None:
        paths[TORCHVISION_ONNXRUNTIME] = OnnxRuntimeNetwork(onnx_bytes(reference, example), threads)
    else:
        notes.append(f"no {TORCHVISION_ONNXRUNTIME} baseline: {backend_problem('onnxruntime')}")
    return paths


def build_fast_path(path: str, ours: GoogLeNet, example: Tensor, calibration: Tensor,
                    threads: int | None) -> Callable[[Tensor], Tensor]:
    """One of our fast paths: an `optimize` backend, an int8 path (`quantize`), or bf16 (`optimize`)."""
    if path in INT8_PATHS:
        from googlenet.inference.quantize import quantize

        return quantize(ours, calibration, backend=path, threads=threads)
    if path == BF16_PATH:
        return optimize(ours, "auto", example_input=example, threads=threads, precision="bf16")
    return optimize(ours, path, example_input=example, threads=threads)


def timed_build(build: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    built = build()
    return built, time.perf_counter() - started


def torchvision_training_step(reference: nn.Module) -> Callable[[Tensor, Tensor], None]:
    """torchvision's recipe in eager NCHW: plain SGD with momentum, aux losses weighted 0.3."""
    model = copy.deepcopy(reference).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(images: Tensor, labels: Tensor) -> None:
        outputs = model(images)
        loss = F.cross_entropy(outputs.logits, labels) + TORCHVISION_AUX_WEIGHT * (
            F.cross_entropy(outputs.aux_logits1, labels) + F.cross_entropy(outputs.aux_logits2, labels))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def our_training_step(ours: GoogLeNet, **changes: Any) -> tuple[str, Callable[[Tensor, Tensor], None]]:
    """`googlenet train`'s step (training/step.py) on a copy of `ours`, set up as the command sets it up
    from TrainConfig's defaults (with `changes`, e.g. compile=True), named by its settings."""
    from dataclasses import replace

    from googlenet.models.loss import GoogLeNetLoss
    from googlenet.training.config import TrainConfig
    from googlenet.training.step import autocast_dtype_for, build_optimizer, prepare_model, train_step

    config = replace(TrainConfig(), **changes)
    device = torch.device("cpu")
    model = prepare_model(copy.deepcopy(ours).train(), config, device)
    optimizer = build_optimizer(model, config, lr=0.01)
    criterion = GoogLeNetLoss((config.aux_weight, config.aux_weight), config.label_smoothing)
    autocast_dtype = autocast_dtype_for(config.amp, device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format

    def step(images: Tensor, labels: Tensor) -> None:
        # As the loop does: the batch in the model's memory format, then the one step.
        train_step(model, criterion, optimizer, images.contiguous(memory_format=memory_format), labels,
                   autocast_dtype=autocast_dtype, clip_grad_norm=config.clip_grad_norm)

    settings = ["channels_last" if config.channels_last else "NCHW",
                "bf16 autocast" if autocast_dtype is not None else "fp32 (no bf16 on this CPU)"]
    if config.compile:
        settings.append("compile")
    return "ours (googlenet train's step): " + ", ".join(settings), step
