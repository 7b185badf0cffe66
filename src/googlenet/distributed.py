"""One code path for one process or many: torchrun's environment read in one place.

Under `torchrun --nproc_per_node=N` the variables RANK, WORLD_SIZE and LOCAL_RANK are set; without
them this is a single process and every function here is a no-op or returns the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" is the GPU where there is one, else the CPU; any other name is checked before use, so that a
    typo or a missing GPU is named here rather than by the first tensor moved there."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"--device {device!r} is not a device name (auto, cpu, cuda, cuda:1, ...)") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device} asked for, but this machine has no CUDA GPU that torch can use")
    return chosen


def setup_distributed(device: str = "auto") -> DistributedContext:
    """Start the process group if torchrun launched us (nccl on GPUs, gloo on CPUs); pick the device."""
    chosen = resolve_device(device)
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistributedContext(device=chosen)
    use_cuda = chosen.type == "cuda"
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistributedContext(rank, world_size, local_rank, chosen)


def teardown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum a tensor over all processes (in place) and return it; the tensor itself when alone."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_flag(flag: bool, context: DistributedContext) -> bool:
    """True on every rank if it is true on any (e.g. one rank was interrupted or saw a NaN)."""
    if not context.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    if context.device.type == "cuda":
        value = value.to(context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def synchronize(context: DistributedContext) -> None:
    """Wait until every process gets here (e.g. until rank 0 has written a file the others read)."""
    if context.enabled:
        dist.barrier()


def parameters_in_sync(model: torch.nn.Module, context: DistributedContext) -> bool:
    """Whether every process holds the same weights (DistributedDataParallel's promise, checked each epoch)."""
    if not context.enabled:
        return True
    checksum = sum(parameter.detach().double().sum() for parameter in model.parameters())
    extremes = torch.stack([checksum, -checksum]).to(context.device)
    dist.all_reduce(extremes, op=dist.ReduceOp.MAX)
    return bool((extremes[0] + extremes[1]).abs() <= 1e-9 * extremes[0].abs().clamp_min(1.0))
