"""Checkpoints: a `RunState` to a file and back, exactly, on one process or many.

Version 2 (this one) keeps every rank's random-number state (Python, torch, CUDA) and gives each rank its
own back, the schedule as data, the epoch's running sums and the selection as named entries. Version 1
was written by development versions before 0.1.0 only, and is refused.

Writing `checkpoint_last.pt` keeps the one before it as `checkpoint_previous.pt`, so a damaged latest
file always has an older one to fall back on; both are written whole or not at all, and a failed write
never leaves the run without `checkpoint_last.pt`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from googlenet.atomic_files import torch_save
from googlenet.distributed import DistributedContext
from googlenet.training.config import (
    BEST_CHECKPOINT,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LAST_CHECKPOINT,
    PREVIOUS_CHECKPOINT,
    TrainConfig,
)
from googlenet.training.schedule import LearningRateSchedule
from googlenet.training.state import EpochTotals, Position, RunState, Selection

FALLBACK_ORDER = (LAST_CHECKPOINT, PREVIOUS_CHECKPOINT, BEST_CHECKPOINT)


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from; the message names the file and what to try instead."""


def capture_rng() -> dict[str, Any]:
    """This process's random-number state."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this rank's device only
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def gather_rank_states(context: DistributedContext, totals: EpochTotals) -> list[dict[str, Any]]:
    """Every rank's own part of the state, in rank order: its random-number state and its running sums
    of the current epoch (a collective: every rank calls it)."""
    mine = {"rng": capture_rng(), "totals": totals.to_dict()}
    if not context.enabled:
        return [mine]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, mine)
    return gathered


def build_payload(state: RunState, config: TrainConfig, rank_states: list[dict[str, Any]],
                  run_record: dict[str, Any]) -> dict[str, Any]:
    """Everything needed to continue `state` exactly. `rank_states`: `gather_rank_states`'s list;
    `run_record`: what a resume reads instead of deriving it again (the model's config, classes and
    preprocessing, to rebuild and check the model; the evaluation's batch size)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        **run_record,
        "train_config": config.to_dict(),
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "schedule": state.schedule.to_dict(),
        "ema": state.ema.state_dict() if state.ema is not None else None,
        "ema_warmup": state.ema.warmup if state.ema is not None else None,
        "position": vars(state.position).copy(),
        "selection": state.selection.to_dict(),
        "history": state.history,
        "rng_by_rank": [part["rng"] for part in rank_states],
        "totals_by_rank": [part["totals"] for part in rank_states],
        "world_size": len(rank_states),
    }


def save_checkpoint(payload: dict[str, Any], run_dir: Path, *, best: bool = False) -> None:
    """Write `checkpoint_last.pt` (the one it replaces stays as `checkpoint_previous.pt`) and, if `best`,
    `checkpoint_best.pt`. At every moment `checkpoint_last.pt` is a whole checkpoint: the new file is
    written and synced under a temporary name, the current one gets its second name (a hard link), and
    only then does the new one take the name. A failure leaves the files as they were and names the path
    (tests/test_write_faults.py fails each file-system call in turn)."""
    torch_save(payload, run_dir / LAST_CHECKPOINT, keep_previous_as=run_dir / PREVIOUS_CHECKPOINT)
    if best:
        torch_save(payload, run_dir / BEST_CHECKPOINT)


def checkpoint_path(resume: str | os.PathLike) -> Path:
    """The checkpoint `--resume` names: a run directory's last checkpoint, or a checkpoint file itself."""
    path = Path(resume)
    return path if path.suffix in (".pt", ".pth") else path / LAST_CHECKPOINT


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at `path`; a missing, damaged or foreign file is a CheckpointError naming it and
    the next-older checkpoint of the run to try."""
    from googlenet.weights.loading import load_checkpoint_file

    if not path.exists():
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot resume: {path.parent} does not exist")
        raise FileNotFoundError(f"cannot resume: {path} does not exist{_next_older(path)}")
    try:
        checkpoint = load_checkpoint_file(path)
    except ValueError as error:
        raise CheckpointError(f"cannot resume: {error}{_next_older(path)}") from None
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"cannot resume: {path} is not a googlenet training checkpoint")
    if checkpoint.get("version", 1) > CHECKPOINT_VERSION:
        raise CheckpointError(f"cannot resume: {path} was written by a newer googlenet (checkpoint version "
                              f"{checkpoint['version']}); upgrade googlenet")
    if checkpoint.get("version", 1) < CHECKPOINT_VERSION:
        raise CheckpointError(f"cannot resume: {path} was written by a development version before googlenet 0.1.0 "
                              f"(checkpoint version {checkpoint.get('version', 1)}); start a new run, with --init "
                              f"{path.parent} to begin from its weights")
    return checkpoint


def _next_older(path: Path) -> str:
    names = FALLBACK_ORDER[FALLBACK_ORDER.index(path.name) + 1:] if path.name in FALLBACK_ORDER else FALLBACK_ORDER
    for name in names:
        older = path.parent / name
        if older.is_file() and older != path:
            return f"; the next-older checkpoint of this run is {older}: resume from it with --resume {older}"
    return "; this run has no older checkpoint to resume from"


def check_fits(checkpoint: dict[str, Any], path: Path, *, model_config: dict[str, Any], class_names: list[str],
               preprocessing: Any) -> None:
    """ValueError of one line unless the checkpoint's network (the `model_config` entries given), classes
    and preprocessing (input size, resize, channels, mean, std) are this run's."""
    saved = checkpoint["model_config"]
    differing = [f"{key}: checkpoint {saved.get(key)!r} vs this run {value!r}"
                 for key, value in model_config.items() if saved.get(key) != value]
    if differing:
        raise ValueError(f"checkpoint {path} does not fit this run ({', '.join(differing)})")
    if checkpoint.get("class_names") not in (None, class_names):
        raise ValueError(f"checkpoint {path} was trained on classes {checkpoint['class_names']}, "
                         f"this data set has {class_names}")
    recorded = checkpoint.get("preprocessing")
    if recorded is not None and preprocessing is not None:
        differing = [f"{name}: checkpoint {before} vs this run {after}"
                     for name, before, after in _preprocessing_fields(recorded, preprocessing.to_dict())
                     if before != after]
        if differing:
            raise ValueError(f"checkpoint {path} does not fit this run: the images would be prepared otherwise "
                             f"({', '.join(differing)})")


def _preprocessing_fields(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, checkpoint's, this run's) for what the model's input depends on."""
    fields = [("channels", len(before["mean"]), len(after["mean"]))]
    fields += [(name, before[name], after[name]) for name in ("input_size", "resize_size")]
    fields += [(name, tuple(before[name]), tuple(after[name])) for name in ("mean", "std")]
    return fields


def restore(state: RunState, checkpoint: dict[str, Any], context: DistributedContext) -> bool:
    """Load `checkpoint` into `state` and give this rank its own random-number state back (when the
    number of processes is the one the checkpoint was written with). True if it did."""
    state.model.load_state_dict(checkpoint["model"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    state.schedule = LearningRateSchedule.from_dict(checkpoint["schedule"])
    if state.ema is not None and checkpoint.get("ema") is not None:
        state.ema.load_state_dict(checkpoint["ema"])
        state.ema.warmup = bool(checkpoint.get("ema_warmup", True))
    state.position = Position(**checkpoint["position"])
    state.selection = Selection.from_dict(checkpoint["selection"])
    state.history = list(checkpoint["history"])
    rng_by_rank, totals_by_rank = checkpoint["rng_by_rank"], checkpoint["totals_by_rank"]
    if len(rng_by_rank) != context.world_size or rng_by_rank[context.rank] is None:
        return False  # another number of processes: allowed at an epoch boundary only, where the sums are 0
    state.totals = EpochTotals.from_dict(totals_by_rank[context.rank], state.totals.loss_sum.device)
    restore_rng(rng_by_rank[context.rank])
    return True
