"""One code path for one process or many: torchrun's environment read in one place.

Under `torchrun --nproc_per_node=N` the variables RANK, WORLD_SIZE and LOCAL_RANK are set; without
them this is a single process and every function here is a no-op or returns the identity.

No hung ranks: a rank whose work fails (a bad batch, a full disk, a second Ctrl-C) does not leave the
others waiting in a collective that it will never join. Where one rank's work can fail, every rank passes
the same `failures_shared` block, and on leaving it all agree whether any failed: the failing rank raises
its own error, the others `RankFailed` naming it and its cause (tests/test_rank_failures.py). Anything
else that stops a rank (a crash, a kill) ends the others when its connections close, or at the latest
after GOOGLENET_RANK_TIMEOUT seconds (default 1800) in a collective.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_process_group: bool = False  # started here, so ended here; a caller's own group is left to it

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
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=rank_timeout())
    return DistributedContext(rank, world_size, local_rank, chosen, owns_process_group=owns)


def rank_timeout() -> timedelta:
    """How long a collective waits for a rank that neither arrives nor fails: GOOGLENET_RANK_TIMEOUT
    seconds, default 30 minutes (long enough for rank 0 to download a data set while the others wait)."""
    value = os.environ.get("GOOGLENET_RANK_TIMEOUT", "1800")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"GOOGLENET_RANK_TIMEOUT={value!r} is not a number of seconds") from None
    return timedelta(seconds=seconds)


def teardown_distributed(context: DistributedContext) -> None:
    """End the process group if `setup_distributed` started it (a caller's own group stays usable)."""
    if context.owns_process_group and dist.is_initialized():
        dist.destroy_process_group()


class RankFailed(RuntimeError):
    """Another process of the run failed, and this one stopped with it. The message names that rank
    and its cause; `cause_type` is the class of that rank's error."""

    def __init__(self, message: str, cause_type: type[BaseException] = RuntimeError) -> None:
        super().__init__(message)
        self.cause_type = cause_type


@contextlib.contextmanager
def failures_shared(context: DistributedContext) -> Iterator[None]:
    """Run a block that may fail on some ranks only (rank 0 writing, one rank's batch); every rank
    must enter it at the same point. On leaving, all agree (one small all-reduce): if a rank failed, it
    raises its own error and every other rank `RankFailed` with that rank's message."""
    error: Exception | None = None
    try:
        yield
    except Exception as raised:  # noqa: BLE001 - shared with the other ranks, then raised again below
        if not context.enabled:
            raise
        error = raised
    if not broadcast_flag(error is not None, context):
        return
    reports: list[object] = [None] * context.world_size
    mine = None if error is None else (" ".join(str(error).split()) or type(error).__name__, type(error))
    dist.all_gather_object(reports, mine)
    if error is not None:
        error.failed_on_rank = (context.rank, context.world_size)  # type: ignore[attr-defined]
        raise error
    rank, (message, cause_type) = next((rank, report) for rank, report in enumerate(reports)
                                       if report is not None)  # type: ignore[misc]
    raise RankFailed(f"rank {rank} of {context.world_size} failed: {message}", cause_type)


def all_reduce_sum(tensor: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum a tensor over all processes (in place) and return it; the tensor itself when alone."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def shared_failure(error: BaseException) -> tuple[str, type[BaseException]] | None:
    """For an error that `failures_shared` raised on every rank: (the one message to show, naming the
    failing rank and its cause; the class of that rank's error). None for any other error."""
    if isinstance(error, RankFailed):
        return str(error), error.cause_type
    where = getattr(error, "failed_on_rank", None)
    if where is None:
        return None
    return f"rank {where[0]} of {where[1]} failed: {' '.join(str(error).split())}", type(error)


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
