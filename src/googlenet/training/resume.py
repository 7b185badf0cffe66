"""What `--resume` accepts, and what it refuses.

A resumed run continues exactly: options that would change which samples it sees, in which order, or
what the weights become (data, batch size, seed, flavour, input size, learning rate, ...) are refused,
all differences listed at once. Options that only change where and how visibly it runs
(`SAFE_TO_CHANGE_ON_RESUME`: workers, device, progress, TensorBoard, the data's location) are accepted.
`--epochs` is accepted with the rule in schedule.py. Another number of processes is refused mid-epoch
and accepted at an epoch boundary, where the sample order changes from then on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from googlenet.training.config import (
    CONFIG_FILE,
    LAST_CHECKPOINT,
    SAFE_TO_CHANGE_ON_RESUME,
    TrainConfig,
)

def run_directory(resume: str | os.PathLike) -> Path:
    """The run directory `--resume` names: the directory itself, or a checkpoint file's directory."""
    path = Path(resume)
    return path.parent if path.suffix in (".pt", ".pth") else path


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"cannot resume: {path} does not exist (is {run_dir} a training run directory?)")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"cannot resume: {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"cannot resume: {path} does not hold a training configuration")
    return values


def resume_config(run_dir: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig the run in `run_dir` (or the run of the checkpoint file `run_dir`) was started
    with, with `overrides` applied where they are safe; a ValueError lists every one that is not."""
    directory = run_directory(run_dir)
    saved = read_run_config(directory)
    overrides = dict(overrides or {})
    refuse_changes(saved, overrides, directory)
    values = {**saved, **overrides, "output_dir": str(directory), "overwrite": False}
    return TrainConfig.from_dict(values)


def resolve_for_resume(config: TrainConfig | None, checkpoint: dict[str, Any], run_dir: Path) -> TrainConfig:
    """The config a resumed run continues with: the checkpoint's, with `config`'s safe options (where and
    how it runs; epochs unset: the run's); a ValueError lists any other option `config` sets to something
    other than its default and the run's. An option left at its default is the run's own, as one not given
    on the command line: `train(resume=RUN)` (no config: all the run's own) continues a run started with
    any options, `train(TrainConfig(epochs=12), resume=RUN)` extends it."""
    saved = dict(checkpoint["train_config"])
    wanted = dict(saved)
    if config is not None:
        defaults = TrainConfig().to_dict()
        for name, value in config.to_dict().items():
            safe_and_set = name in SAFE_TO_CHANGE_ON_RESUME and value is not None
            if safe_and_set or _normalised(value) != _normalised(defaults[name]):
                wanted[name] = value
    refuse_changes(saved, wanted, run_dir)
    safe = {name: wanted[name] for name in SAFE_TO_CHANGE_ON_RESUME if name in wanted}
    return TrainConfig.from_dict({**saved, **safe, "output_dir": str(run_dir), "overwrite": False})


def refuse_changes(saved: dict[str, Any], wanted: dict[str, Any], run_dir: Path) -> None:
    """ValueError listing the options in `wanted` that differ from the run's `saved` ones and would
    change its path."""
    defaults = TrainConfig().to_dict()
    differences = []
    for name, value in wanted.items():
        if name not in defaults or name in SAFE_TO_CHANGE_ON_RESUME:
            continue
        before = saved.get(name, defaults[name])
        if _normalised(value) != _normalised(before):
            differences.append(f"--{name.replace('_', '-')} {_shown(value)} (the run has {_shown(before)})")
    if differences:
        safe = ", ".join("--" + name.replace("_", "-") for name in SAFE_TO_CHANGE_ON_RESUME)
        raise ValueError(
            f"cannot resume {run_dir} with changed options, which would change the run's samples or weights: "
            f"{'; '.join(differences)}. Options safe to change on resume: {safe}. To train differently from "
            f"its weights, start a new run with --init {run_dir}"
        )


def check_resume_processes(saved_world_size: int, world_size: int, epoch: int, step_in_epoch: int,
                           run_dir: Path) -> str | None:
    """Refuse another number of processes mid-epoch; at an epoch boundary return the message to print."""
    if saved_world_size == world_size:
        return None
    if step_in_epoch:
        raise ValueError(
            f"cannot resume {run_dir} with {world_size} process(es): it stopped in the middle of epoch "
            f"{epoch + 1} running {saved_world_size}, and another number would change the samples of the rest of "
            f"that epoch. Resume it with {saved_world_size} process(es) (torchrun --nproc_per_node="
            f"{saved_world_size})"
        )
    return (f"resuming with {world_size} process(es) where the run used {saved_world_size}, at the start of epoch "
            f"{epoch + 1}: the sample order differs from here on, and the learning rate continues from its "
            "current value (not rescaled for the new global batch)")


def _normalised(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalised(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def continue_from(session: Any, state: Any, checkpoint: dict[str, Any], notes: list[str]) -> None:
    """Restore `state` from `checkpoint` and apply the resume rules: processes, and a new length."""
    from googlenet.training.checkpoint import check_fits, restore
    from googlenet.training.state import Selection

    config, context = session.config, session.context
    check_fits(checkpoint, state.model, session.run_dir / LAST_CHECKPOINT)
    restore(state, checkpoint, context)
    if checkpoint.get("selection", True) is None:
        state.selection = Selection()
    position = state.position
    message = check_resume_processes(checkpoint.get("world_size", 1), context.world_size, position.epoch,
                                     position.step_in_epoch, session.run_dir)
    if message:
        notes.append(message)
    if (note := exactness_note(context.device.type)) is not None:
        notes.append(note)
    if config.epochs < position.epoch:
        raise ValueError(f"cannot resume {session.run_dir} with --epochs {config.epochs}: it has already trained "
                         f"{position.epoch} epochs")
    before = state.schedule
    state.schedule = before.continued(position.global_step, position.epoch, config.epochs * session.steps_per_epoch,
                                      session.steps_per_epoch)
    if state.schedule.total_steps != before.total_steps:
        notes.append(_length_note(before, state.schedule, position.global_step, config.epochs))


def exactness_note(device_type: str) -> str | None:
    """What a resumed run on `device_type` promises, where it is less than bit for bit: None on the CPU.

    The samples, their order and augmentation, the schedule and the random state continue exactly on
    any device; the arithmetic repeats bit for bit only on the CPU (the same machine and thread count).
    On a GPU, cuDNN picks its kernels by timing them (cudnn.benchmark, training/step.py) and some kernels
    add in any order, so the weights a resumed run ends with may differ in the last bits, and then more.
    """
    if device_type == "cpu":
        return None
    return (f"resumed on {device_type}: the same samples, schedule and random state as an uninterrupted run, "
            "but bit-for-bit equal weights are promised on the CPU only (on a GPU the kernels and the order "
            "of their sums may differ from one process to the next)")


def _length_note(before: Any, after: Any, step: int, epochs: int) -> str:
    factor = before.factor(step)
    if before.kind == "paper":
        return f"--epochs {epochs}: the paper's schedule (x0.96 every 8 epochs) goes on to epoch {epochs}"
    if factor == 0.0:
        return (f"--epochs {epochs}: warning: this run's cosine schedule has reached learning rate 0, and a resumed "
                "run never raises it, so the added epochs leave the weights as they are (BatchNorm statistics "
                "aside). To train further from these weights, start a new run with --init on this run directory")
    return (f"--epochs {epochs}: the cosine continues from the current learning rate (x{factor:.4f} of the peak) "
            f"down to 0 at the end of epoch {epochs}; it never rises")
