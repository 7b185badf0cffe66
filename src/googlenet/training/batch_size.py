"""The default batch size: 256 images a step below the paper's 224 px (128 for small training sets and at 224
px and more), or as many as fit in the free memory at the run's input size.

Training memory grows with the images in a step and with the square of their side. One SGD step of the
bn and torchvision flavours (auxiliary heads on, channels-last, float32, 2 steps, peak RSS of a fresh
process; AVX-512 + VNNI + BF16 CPU) took 57.6 MiB more per 224x224 image (31.6 with bfloat16 autocast),
14.2 at 112x112 and 1.3 at 32x32, beside about 0.1 GiB for the weights, gradients and momentum and 0.7 GiB
for torch itself. The estimate takes the float32 figure whatever --amp says, and leaves half the free
memory to the rest (evaluation, the data, the operating system).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from googlenet.data.defaults import MIN_BATCHES_PER_EPOCH

DEFAULT_BATCH_SIZE = 128  # the paper-scale default (inputs of 224 px and more) and small training sets'
# Below the paper's input size the step is cheap and a batch of 256 runs more images a second: on a 2-core
# AVX-512 + BF16 CPU at 32x32, 1128 images/s against 966 at 128 (aux heads off; float32 under AVX2: 670
# against 619), with the learning rate scaled linearly (setup.py).
SMALL_INPUT_BATCH_SIZE = 256
PAPER_INPUT_SIZE = 224
# A training set too small for this many steps an epoch at 256 keeps 128: a short schedule needs steps.
MIN_STEPS_FOR_LARGER_BATCH = 100
# Evaluation keeps no activations for a backward pass: a larger batch than training's fits, unless the
# training batch was itself cut down to fit the memory.
EVALUATION_BATCH_SIZE = 256
MIB_PER_IMAGE_AT_224 = 60.0  # measured 57.6 (float32), rounded up
MIN_MIB_PER_IMAGE = 1.4  # measured 1.3 at 32x32, where the per-image costs that do not scale show
SHARE_OF_FREE_MEMORY = 0.5


def training_mib_per_image(input_size: int) -> float:
    """The memory one more image in a training step takes, in MiB, at `input_size` x `input_size`."""
    return max(MIB_PER_IMAGE_AT_224 * (input_size / 224) ** 2, MIN_MIB_PER_IMAGE)


def free_memory_bytes(device: torch.device) -> int | None:
    """What the device has free now: a GPU's free memory, or the system's available memory (Linux's
    MemAvailable); None where it cannot be read."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def wanted_batch_size(input_size: int, train_count: int | None = None) -> int:
    """The batch size memory permitting: 256 below 224 px unless the training set (`train_count` images a
    process) has fewer than MIN_STEPS_FOR_LARGER_BATCH batches of it; else 128. A training set too small
    for MIN_BATCHES_PER_EPOCH batches of that gets the largest power of two that makes them (at least 2,
    BatchNorm's minimum: fewer images than 4 x 2 are refused by the data's check, not here)."""
    if input_size >= PAPER_INPUT_SIZE:
        wanted = DEFAULT_BATCH_SIZE
    elif train_count is not None and train_count < SMALL_INPUT_BATCH_SIZE * MIN_STEPS_FOR_LARGER_BATCH:
        wanted = DEFAULT_BATCH_SIZE
    else:
        wanted = SMALL_INPUT_BATCH_SIZE
    if train_count is not None and train_count < MIN_BATCHES_PER_EPOCH * wanted:
        return _power_of_two_at_most(max(2, train_count // MIN_BATCHES_PER_EPOCH))
    return wanted


def _power_of_two_at_most(count: int) -> int:
    return 1 << (count.bit_length() - 1)


def choose_batch_size(input_size: int, free_bytes: int | None, processes_sharing: int = 1,
                      train_count: int | None = None) -> tuple[int, str]:
    """(the batch size, the reason in words) for training at `input_size` with `free_bytes` free, shared by
    `processes_sharing` training processes (several ranks on one CPU), on `train_count` training images."""
    wanted = wanted_batch_size(input_size, train_count)
    per_image = training_mib_per_image(input_size)
    side = f"{input_size}x{input_size}"
    if free_bytes is None:
        return wanted, f"batch size {wanted}: the free memory cannot be read here"
    free_gib = free_bytes / 2**30
    budget_mib = free_bytes / 2**20 * SHARE_OF_FREE_MEMORY / processes_sharing
    needed_gib = wanted * per_image / 1024
    if budget_mib >= wanted * per_image:
        return wanted, (f"batch size {wanted}: its training at {side} takes about {needed_gib:.1f} GiB, within half "
                        f"the {free_gib:.1f} GiB free")
    fits = int(budget_mib // per_image)
    batch = max(2, _power_of_two_at_most(max(fits, 1)))  # a power of two: the kernels' favourite shapes
    sharing = f" shared by {processes_sharing} processes" if processes_sharing > 1 else ""
    return batch, (f"batch size {batch}, not {wanted}: at {side} each image takes about "
                   f"{per_image:.0f} MiB to train, and {wanted} would need {needed_gib:.1f} GiB, more "
                   f"than half the {free_gib:.1f} GiB free{sharing}; --batch-size overrides")


def default_batch_size(input_size: int, context: object, train_count: int | None = None) -> tuple[int, str]:
    """`choose_batch_size` for this process's device, the same on every rank (the smallest any chose);
    `train_count`: the training images per process."""
    device = context.device  # type: ignore[attr-defined]
    sharing = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if device.type == "cpu" else 1
    batch, why = choose_batch_size(input_size, free_memory_bytes(device), sharing, train_count)
    if getattr(context, "enabled", False):
        import torch.distributed as dist

        agreed = torch.tensor([batch], device=device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MIN)
        if int(agreed) != batch:
            batch, why = int(agreed), f"batch size {int(agreed)}: the smallest any process's free memory allows"
    return batch, why
