"""The loop as free functions over a `RunState`: one epoch of steps, one evaluation.

`Session` holds what stays fixed during a run (settings, processes, data, the network the step runs);
the state that a checkpoint saves is `RunState` (state.py). As in torchvision's reference trainer,
`train_one_epoch` and `evaluate_split` are plain functions a reader can follow top to bottom.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from googlenet.data.batches import as_batch, collate_skipping_unreadable
from googlenet.distributed import DistributedContext, broadcast_flag, failures_shared
from googlenet.evaluation.evaluate import EvaluationResult, evaluate_loader, shard
from googlenet.training.config import LAST_CHECKPOINT, TrainConfig
from googlenet.training.state import RunState
from googlenet.training.step import train_step


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class UnreadableTrainingImagesWarning(UserWarning):
    """Training images that passed the up-front check failed to decode; their step ran without them."""


class StopRequests:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a request to stop after the current step, so the
    checkpoint written on the way out is consistent. A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self.by: str | None = None  # the first request's signal, "SIGINT" or "SIGTERM" (None: asked in Python)
        self._previous: dict[int, Any] = {}

    def request(self, signum: int | None = None, frame: Any = None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.requested and signum is not None:
            self.by = signal.Signals(signum).name
        self.requested = True

    def __enter__(self) -> StopRequests:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self.request)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@dataclass
class Session:
    """What a run keeps fixed while the state advances."""

    config: TrainConfig  # resolved: no None left for epochs or flavour
    context: DistributedContext
    run_dir: Path
    network: nn.Module  # what the step runs: the model, or its DistributedDataParallel wrapper
    criterion: nn.Module
    autocast_dtype: torch.dtype | None
    train_set: Dataset
    steps_per_epoch: int
    num_classes: int
    stop: StopRequests
    evaluation_batch_size: int  # within the memory the training batch fits (setup.load_choosing_batch_size)
    after_step: Callable[[RunState], None] | None = None  # e.g. epoch_clock.EpochClock: told of every step


def epoch_indices(seed: int, dataset_size: int, epoch: int, context: DistributedContext) -> list[int]:
    """This rank's sample order for `epoch`: a function of (seed, epoch, rank, world size) only, so a
    resumed run sees the same order and can skip the batches it already trained on."""
    if context.enabled:
        sampler = DistributedSampler(
            range(dataset_size), num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=seed,
            drop_last=True,
        )  # type: ignore[arg-type]
        sampler.set_epoch(epoch)
        return list(sampler)
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(dataset_size, generator=generator).tolist()


class BatchSeededSamples(Dataset):
    """`dataset` read batch by batch, each batch's random augmentation drawn from its own seed: a function of
    (run seed, epoch, rank, batch number) only. So the samples do not depend on which loading process makes
    a batch, how many there are, or where a resumed run starts: resume is exact with any `--workers`.

    Keys are (batch number, index) pairs; DataLoader hands a whole batch to `__getitems__`. The process's
    own random state is put back afterwards (with no loading processes the batches are made here, and the
    model's dropout must draw the same numbers whatever the workers)."""

    def __init__(self, dataset: Dataset, base_seed: int) -> None:
        self.dataset = dataset
        self.base_seed = base_seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitems__(self, keys: list[tuple[int, int]]) -> list[Any]:
        indices = [index for _, index in keys]
        read_batch = getattr(self.dataset, "__getitems__", None)  # the in-memory sets' faster batch path
        outside = torch.get_rng_state()
        try:
            # The CPU generator only, where the transforms draw: torch.manual_seed seeds every device's too,
            # about 0.4 ms a batch against 0.01 ms.
            torch.default_generator.manual_seed(self.base_seed + keys[0][0])
            return read_batch(indices) if read_batch else [self.dataset[index] for index in indices]
        finally:
            torch.set_rng_state(outside)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.__getitems__([key])[0]


def augmentation_seed(seed: int, epoch: int, rank: int) -> int:
    """The first batch's seed of this rank's `epoch`; batch k uses this + k. Hashed into 56 bits: the
    ranges of nearby (seed, epoch, rank) land far apart instead of overlapping, as sums would."""
    digest = hashlib.blake2b(f"googlenet-augmentation/{seed}/{epoch}/{rank}".encode(), digest_size=7).digest()
    return int.from_bytes(digest, "little")


def train_loader(session: Session, state: RunState) -> DataLoader:
    """The rest of the current epoch's batches on this rank."""
    config, position = session.config, state.position
    indices = epoch_indices(config.seed, len(session.train_set), position.epoch, session.context)
    batch_size = config.batch_size
    batches = [[(batch, index) for index in indices[batch * batch_size:(batch + 1) * batch_size]]
               for batch in range(position.step_in_epoch, len(indices) // batch_size)]
    dataset = BatchSeededSamples(session.train_set,
                                 augmentation_seed(config.seed, position.epoch, session.context.rank))
    return DataLoader(
        dataset, batch_sampler=batches, num_workers=config.workers, collate_fn=collate_skipping_unreadable,
        pin_memory=session.context.device.type == "cuda",
        # An iterator draws its loading processes' seed (unused: each batch seeds itself) from this generator,
        # or else from the global random state, which would then differ on resume (exact resume).
        generator=torch.Generator().manual_seed(0),
    )


def train_one_epoch(session: Session, state: RunState) -> float:
    """Train until the epoch ends or a stop is requested; returns the seconds spent."""
    from tqdm import tqdm

    config, context, position = session.config, session.context, state.position
    progress = tqdm(
        total=session.steps_per_epoch, initial=position.step_in_epoch, unit="step", dynamic_ncols=True,
        desc=f"epoch {position.epoch + 1}/{config.epochs}", disable=not (context.is_main and config.progress),
        mininterval=1.0 if os.isatty(2) else 30.0,
    )
    session.network.train()
    state.model.train()
    _keep_frozen_norms_in_eval(state.model)
    started = waited_since = shown_at = time.perf_counter()
    try:
        batches = iter(train_loader(session, state))
        while position.step_in_epoch < session.steps_per_epoch:
            # Check before fetching: a batch fetched and not trained on would be wasted work.
            if broadcast_flag(session.stop.requested, context):
                break
            with failures_shared(context):  # one rank's bad batch stops every rank, none left in the all-reduce
                images, targets = _next_batch(batches, state)
            data_seconds = time.perf_counter() - waited_since
            _one_step(session, state, images, targets, data_seconds)
            progress.update(1)
            if session.after_step is not None:
                session.after_step(state)
            if time.perf_counter() - shown_at > 1.0:  # reading the running sums syncs a GPU: once a second
                shown_at = time.perf_counter()
                totals = state.totals
                progress.set_postfix(loss=f"{float(totals.loss_sum) / totals.images:.3f}",
                                     acc=f"{100 * int(totals.correct) / totals.images:.1f}%", refresh=False)
            waited_since = time.perf_counter()
    finally:
        progress.close()
    return time.perf_counter() - started


def _next_batch(batches: Any, state: RunState) -> tuple[torch.Tensor, torch.Tensor]:
    batch = as_batch(next(batches))
    if batch.skipped:
        names = ", ".join(f"{path} ({reason})" for path, reason in batch.skipped)
        warnings.warn(f"epoch {state.position.epoch + 1}, step {state.position.step_in_epoch + 1}: skipped "
                      f"{len(batch.skipped)} unreadable image(s): {names}", UnreadableTrainingImagesWarning,
                      stacklevel=3)
        state.totals.skipped_images += len(batch.skipped)
        if len(batch.targets) < 2:  # BatchNorm needs two images
            raise ValueError(f"a training batch held fewer than 2 readable images ({names}): check the data set")
    return batch.images, batch.targets


def _one_step(session: Session, state: RunState, images: torch.Tensor, targets: torch.Tensor,
              data_seconds: float) -> None:
    config, context, position = session.config, session.context, state.position
    device = context.device
    images = images.to(device, non_blocking=True)
    targets = targets.to(device, non_blocking=True)
    if config.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    state.schedule.apply(state.optimizer, position.global_step)
    loss = train_step(session.network, session.criterion, state.optimizer, images, targets,
                      autocast_dtype=session.autocast_dtype, clip_grad_norm=config.clip_grad_norm,
                      correct=state.totals.correct)
    # Every rank took the step (none waits in DDP's all-reduce); all agree before anything is saved.
    if broadcast_flag(not bool(torch.isfinite(loss)), context):
        raise TrainingDiverged(
            f"the loss became {loss.item()} at epoch {position.epoch + 1}, step {position.step_in_epoch + 1}; "
            f"stopped. The last good checkpoint is kept at {session.run_dir / LAST_CHECKPOINT} "
            "(try a lower --lr or --clip-grad-norm)"
        )
    if state.ema is not None:
        state.ema.update(state.model)
    position.step_in_epoch += 1
    position.global_step += 1
    state.totals.add(loss, len(targets), data_seconds)


def _keep_frozen_norms_in_eval(model: nn.Module) -> None:
    """BatchNorm layers whose parameters are frozen keep their running statistics (fine-tuning with
    --freeze-to): in training mode they would update them from the new data."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None \
                and not module.weight.requires_grad:
            module.eval()


def evaluate_split(session: Session, model: nn.Module, dataset: Dataset) -> EvaluationResult:
    """`model` on `dataset` (a validation or test split), sharded over the ranks and reduced."""
    config = session.config
    if session.context.enabled:
        # Each rank's BatchNorm statistics (and the averaged ones made from them) last saw its own batch; rank
        # 0's are what a checkpoint saves and model/ keeps. Every rank evaluates those, so the metrics are the
        # kept weights' and come out the same after a resume (which gives every rank rank 0's).
        for buffer in model.buffers():
            torch.distributed.broadcast(buffer, src=0)
    loader = DataLoader(shard(dataset, session.context), batch_size=session.evaluation_batch_size,
                        num_workers=config.workers, collate_fn=collate_skipping_unreadable)
    return evaluate_loader(model, loader, session.num_classes, device=session.context.device,
                           autocast_dtype=session.autocast_dtype, channels_last=config.channels_last,
                           context=session.context)
