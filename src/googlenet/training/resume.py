"""What `--resume` accepts, and what it refuses.

A resumed run continues exactly: options that would change which samples it sees, in which order, or
what the weights become (data, batch size, seed, flavour, input size, learning rate, ...) are refused,
all differences listed at once. Options that only change where and how visibly it runs
(`SAFE_TO_CHANGE_ON_RESUME`: workers, device, progress, TensorBoard, the data's location) are accepted.
`--epochs` is accepted with the rule in schedule.py. Another number of processes is refused mid-epoch
and accepted at an epoch boundary, where the sample order changes from then on.

A resumed run reads only the run: its options, its network and its preprocessing come from the
checkpoint, never from its --init source again (the checkpoint replaces every weight, and the source may
be gone) nor from the data's statistics; the data must still fit them (`checkpoint.check_fits`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from googlenet.training.config import SAFE_TO_CHANGE_ON_RESUME, TrainConfig


@dataclass
class ResumePoint:
    """What `--resume` names, read: the run directory, the checkpoint file and what it holds."""

    run_dir: Path
    path: Path
    checkpoint: dict[str, Any]


def run_directory(resume: str | os.PathLike) -> Path:
    """The run directory `--resume` names: the directory itself, or a checkpoint file's directory."""
    path = Path(resume)
    return path.parent if path.suffix in (".pt", ".pth") else path


def read_resume_point(resume: str | os.PathLike) -> ResumePoint:
    """The run `resume` names (a run directory, or one of its checkpoint files) and its checkpoint; one
    line naming what is there instead, or the next-older checkpoint to try."""
    from googlenet.training.checkpoint import checkpoint_path, read_checkpoint
    from googlenet.weights.sources import locate_run

    try:
        run_dir = locate_run(run_directory(resume))
    except (FileNotFoundError, ValueError) as error:  # each one line, as read_checkpoint's
        raise type(error)(f"cannot resume: {error}") from None
    path = checkpoint_path(resume)
    return ResumePoint(run_dir, path, read_checkpoint(path))


def resume_config(point: ResumePoint, options: TrainConfig | Mapping[str, Any] | None = None) -> TrainConfig:
    """The config a resumed run continues with: the run's own, as its checkpoint records it, with the
    options given where they are safe (where and how it runs; epochs); a ValueError lists every other
    option given a value other than the run's.

    `options`: a mapping names exactly the options given, as the command line does (`train --resume RUN
    --epochs 12` gives {"epochs": 12}); a TrainConfig gives its safe options that are set, and any other
    it sets to something other than its default, since an option left at its default is the run's own:
    `train(resume=RUN)` continues a run started with any options, `train(TrainConfig(epochs=12),
    resume=RUN)` extends it. None: the run's own options."""
    saved = dict(point.checkpoint["train_config"])
    given = options_given(options)
    refuse_changes(saved, given, point.run_dir)
    safe = {name: value for name, value in given.items() if name in SAFE_TO_CHANGE_ON_RESUME}
    return TrainConfig.from_dict({**saved, **safe, "output_dir": str(point.run_dir), "overwrite": False})


def options_given(options: TrainConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    """The options `options` gives (see `resume_config`), by name; unknown names are a ValueError."""
    defaults = TrainConfig().to_dict()
    if options is None:
        return {}
    if isinstance(options, TrainConfig):
        return {name: value for name, value in options.to_dict().items()
                if (name in SAFE_TO_CHANGE_ON_RESUME and value is not None)
                or _normalised(value) != _normalised(defaults[name])}
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(f"unknown training option(s): {', '.join(unknown)}")
    return dict(options)


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
    from googlenet.training.checkpoint import restore
    from googlenet.training.state import Selection

    config, context = session.config, session.context
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


def recorded_preprocessing(point: ResumePoint) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(input size, mean, std) the run trains with, as its checkpoint records them: a resumed run reads
    them there, never from its --init source (which may be gone) or from the data's statistics again."""
    from googlenet.training.checkpoint import CheckpointError

    recorded = point.checkpoint.get("preprocessing")
    if not recorded:
        raise CheckpointError(f"cannot resume: {point.path} does not record the run's preprocessing; start a new "
                              f"run, with --init {point.run_dir} to begin from its weights")
    return int(recorded["input_size"]), tuple(recorded["mean"]), tuple(recorded["std"])


def model_to_resume(point: ResumePoint, config: TrainConfig, data: Any) -> Any:
    """The network the checkpoint's weights are for (flavour, heads, input transform as recorded), once
    the checkpoint is found to fit `data`; frozen where the run freezes, the data's classes and
    preprocessing attached. The weights themselves come from the checkpoint (`continue_from`)."""
    from googlenet.models.network import GoogLeNet, GoogLeNetConfig
    from googlenet.training.checkpoint import check_fits
    from googlenet.training.setup import freeze_through

    checkpoint = point.checkpoint
    check_fits(checkpoint, point.path, model_config={"flavour": config.flavour, "num_classes": len(data.classes),
                                                     "in_chans": data.in_chans, "aux_logits": config.aux_logits},
               class_names=list(data.classes), preprocessing=data.preprocessing)
    model = GoogLeNet(GoogLeNetConfig(**checkpoint["model_config"]))
    if config.freeze_to is not None:
        freeze_through(model, config.freeze_to)
    model.class_names = list(data.classes)
    model.preprocessing = data.preprocessing
    return model


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
