"""Training: the paper's recipe (SGD, momentum 0.9, aux-weighted loss, Polyak averaging) on any data.

The same `train()` runs in one process or under `torchrun --nproc_per_node=N` (DistributedDataParallel,
DistributedSampler, metrics reduced over ranks, rank 0 writing everything). A run directory holds:

    config.json            the TrainConfig of the run
    checkpoint_last.pt     everything needed to continue exactly (written atomically)
    checkpoint_best.pt     the same, at the epoch with the best validation top-1
    model/                 the best weights as a model directory (googlenet.weights.model_dir format)
    metrics.csv, metrics.json, tensorboard/, curves.png, confusion_matrix.png
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, DistributedSampler

from googlenet.distributed import (
    DistributedContext,
    all_reduce_sum,
    broadcast_flag,
    setup_distributed,
    teardown_distributed,
)
from googlenet.evaluation.evaluate import EvaluationResult, evaluate_loader, shard
from googlenet.models.loss import GoogLeNetLoss
from googlenet.models.network import GoogLeNet, googlenet
from googlenet.training.config import (
    AMP_MODES,
    BEST_CHECKPOINT,
    CHECKPOINT_FORMAT,
    LAST_CHECKPOINT,
    MODEL_DIR,
    SCHEDULES,
    TrainConfig,
    TrainResult,
)
from googlenet.training.outputs import CONFUSION_PLOT, CURVES_PLOT, RunLogger, plot_confusion_matrix, plot_curves
from googlenet.training.step import _sgd, autocast_dtype_for, parameter_groups, train_step

__all__ = ["AMP_MODES", "BEST_CHECKPOINT", "LAST_CHECKPOINT", "MODEL_DIR", "SCHEDULES", "TrainConfig", "TrainResult",
           "TrainingDiverged", "Trainer", "_sgd", "autocast_dtype_for", "parameter_groups", "resume_config", "train"]

CHECKPOINT_VERSION = 1  # this file still writes version 1; the split trainer writes 2


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def learning_rate_factor(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The schedule as a function of the optimizer step, for LambdaLR."""
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    total_steps = config.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if config.schedule == "paper":
            # Paper section 6: "decreasing the learning rate by 4% every 8 epochs".
            return 0.96 ** (step // (8 * steps_per_epoch))
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_python_random_state(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_python_random_state(state: Any) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _save_atomically(payload: dict[str, Any], path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def _epoch_indices(config: TrainConfig, dataset_size: int, epoch: int, context: DistributedContext) -> list[int]:
    """This rank's sample order for `epoch`: a function of (seed, epoch) only, so a resumed run sees
    the same order and can skip the batches it already trained on."""
    if context.enabled:
        sampler = DistributedSampler(
            range(dataset_size), num_replicas=context.world_size, rank=context.rank, shuffle=True,
            seed=config.seed, drop_last=True,
        )  # type: ignore[arg-type]
        sampler.set_epoch(epoch)
        return list(sampler)
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    return torch.randperm(dataset_size, generator=generator).tolist()


class StopRequests:
    """Turns Ctrl-C (SIGINT) and SIGTERM into a request to stop after the current step, so the
    checkpoint written on the way out is consistent. A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def request(self, signum: int | None = None, frame: Any = None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
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


class Trainer:
    """One run's state and loop. Use `train(config)`; this class keeps the pieces in one place."""

    def __init__(self, config: TrainConfig, resume: str | os.PathLike | None = None) -> None:
        from googlenet.data.datasets import load_data  # heavy imports only when training

        config.check()
        config = config.resolved()
        self.config = config
        self.context = setup_distributed(config.device)
        self.run_dir = Path(resume) if resume is not None else Path(config.output_dir)
        self.is_main = self.context.is_main
        device = self.context.device

        checkpoint = self._read_checkpoint(self.run_dir / LAST_CHECKPOINT) if resume is not None else None
        random.seed(config.seed + self.context.rank)
        torch.manual_seed(config.seed + self.context.rank)

        self.data = load_data(
            config.data, data_dir=config.data_dir, input_size=config.input_size, train_preset=config.train_preset,
            random_erase=config.random_erase,
            val_fraction=config.val_fraction, seed=config.seed, strict=config.strict, download=config.download,
        )
        self.train_set = self.data.train
        if config.train_subset:
            self.train_set = torch.utils.data.Subset(self.train_set, range(min(config.train_subset, len(self.train_set))))
        self.val_set = self.data.val
        if config.val_subset:
            self.val_set = torch.utils.data.Subset(self.val_set, range(min(config.val_subset, len(self.val_set))))
        global_batch = config.batch_size * self.context.world_size
        self.steps_per_epoch = len(self.train_set) // global_batch
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training set has {len(self.train_set)} images, fewer than one global batch of {global_batch}; "
                "lower --batch-size"
            )

        model = googlenet(
            config.flavour, num_classes=len(self.data.classes), in_chans=self.data.in_chans,
            aux_logits=config.aux_logits,
        )
        model.class_names = list(self.data.classes)
        model.preprocessing = self.data.preprocessing
        if checkpoint is not None:
            self._check_compatible(checkpoint, model)
        if config.sync_batch_norm and self.context.enabled:
            if device.type != "cuda":
                raise ValueError("--sync-batch-norm needs GPUs: torch's SyncBatchNorm runs on CUDA only")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if device.type == "cuda":
            # Every batch has one shape, so cuDNN's one-off search for the fastest kernels pays for itself
            # (torchvision's reference scripts do the same unless asked for deterministic algorithms).
            torch.backends.cudnn.benchmark = True
        memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model: GoogLeNet = model.to(device, memory_format=memory_format)  # type: ignore[assignment]
        self.network: nn.Module = (
            DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
            if self.context.enabled
            else self.model
        )
        self.autocast_dtype = autocast_dtype_for(config.amp, device)
        self.criterion = GoogLeNetLoss((config.aux_weight, config.aux_weight), config.label_smoothing)
        # Linear scaling rule (Goyal et al. 2017): the lr is given for a global batch of 128.
        lr = config.lr * global_batch / 128
        self.optimizer = _sgd(parameter_groups(self.model, config.weight_decay), lr, config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, learning_rate_factor(config, self.steps_per_epoch)
        )
        self.ema: AveragedModel | None = None
        if config.ema_decay is not None:
            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True
            )

        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.best_top1 = -1.0
        self.best_weights = "raw"
        self.history: list[dict[str, Any]] = []
        self.epoch_sums = torch.zeros(4, dtype=torch.float64)  # loss sum, correct, images, data seconds
        self.stop = StopRequests()
        if checkpoint is not None:
            self._restore(checkpoint)

    # -- checkpoints -------------------------------------------------------------------------------

    def _read_checkpoint(self, path: Path) -> dict[str, Any]:
        from googlenet.weights.model_dir import load_checkpoint_file

        if not path.exists():
            raise FileNotFoundError(f"cannot resume: {path} does not exist (is {path.parent} a training run directory?)")
        checkpoint = load_checkpoint_file(path)
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a googlenet training checkpoint")
        return checkpoint

    def _check_compatible(self, checkpoint: dict[str, Any], model: GoogLeNet) -> None:
        saved = checkpoint["model_config"]
        wanted = model.config.to_dict()
        differing = [key for key in ("flavour", "num_classes", "in_chans", "aux_logits", "naive") if saved.get(key) != wanted[key]]
        if differing:
            details = ", ".join(f"{key}: checkpoint {saved.get(key)!r} vs this run {wanted[key]!r}" for key in differing)
            raise ValueError(f"checkpoint {self.run_dir / LAST_CHECKPOINT} does not fit this run ({details})")
        if checkpoint.get("class_names") not in (None, list(model.class_names or [])):
            raise ValueError(
                f"checkpoint {self.run_dir / LAST_CHECKPOINT} was trained on classes {checkpoint['class_names']}, "
                f"this data set has {model.class_names}"
            )

    def _payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model_config": self.model.config.to_dict(),
            "class_names": list(self.model.class_names or []),
            "preprocessing": self.model.preprocessing.to_dict() if self.model.preprocessing else None,
            "train_config": asdict(self.config),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "best_top1": self.best_top1,
            "best_weights": self.best_weights,
            "history": self.history,
            "epoch_sums": self.epoch_sums.clone(),
            "rng": _capture_rng(),
            "world_size": self.context.world_size,
        }

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.ema is not None and checkpoint.get("ema") is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        self.epoch = checkpoint["epoch"]
        self.step_in_epoch = checkpoint["step_in_epoch"]
        self.global_step = checkpoint["global_step"]
        self.best_top1 = checkpoint["best_top1"]
        self.best_weights = checkpoint["best_weights"]
        self.history = list(checkpoint["history"])
        self.epoch_sums = checkpoint["epoch_sums"].clone()
        if checkpoint.get("world_size", 1) == self.context.world_size:
            _restore_rng(checkpoint["rng"])

    def _save_last(self) -> None:
        if self.is_main:
            _save_atomically(self._payload(), self.run_dir / LAST_CHECKPOINT)

    # -- the loop ----------------------------------------------------------------------------------

    def _train_loader(self) -> DataLoader:
        indices = _epoch_indices(self.config, len(self.train_set), self.epoch, self.context)
        indices = indices[self.step_in_epoch * self.config.batch_size :]
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch + 1)
        return DataLoader(
            self.train_set, batch_size=self.config.batch_size, sampler=indices, drop_last=True,
            num_workers=self.config.workers, generator=generator, pin_memory=self.context.device.type == "cuda",
        )

    def _eval_loader(self) -> DataLoader:
        return DataLoader(
            shard(self.val_set, self.context), batch_size=max(self.config.batch_size, 256),
            num_workers=self.config.workers,
        )

    def train_step(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        correct = torch.zeros((), dtype=torch.int64, device=images.device)
        loss = train_step(self.network, self.criterion, self.optimizer, images, targets,
                          autocast_dtype=self.autocast_dtype, clip_grad_norm=self.config.clip_grad_norm, correct=correct)
        # Every rank took the step (so none waits in DDP's all-reduce); all agree before anything is saved.
        if broadcast_flag(not bool(torch.isfinite(loss)), self.context):
            raise TrainingDiverged(
                f"the loss became {loss.item()} at epoch {self.epoch + 1}, step {self.step_in_epoch + 1}; "
                f"stopped. The last good checkpoint is kept at {self.run_dir / LAST_CHECKPOINT} "
                "(try a lower --lr or --clip-grad-norm)"
            )
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss, correct

    def _train_epoch(self) -> None:
        from tqdm import tqdm

        config, device = self.config, self.context.device
        remaining = self.steps_per_epoch - self.step_in_epoch
        progress = tqdm(
            total=self.steps_per_epoch, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{config.epochs}",
            unit="step", disable=not (self.is_main and config.progress), dynamic_ncols=True,
            mininterval=1.0 if os.isatty(2) else 30.0,
        )
        self.network.train()
        started = time.perf_counter()
        waited_since = time.perf_counter()
        images_this_session = 0
        try:
            batches = iter(self._train_loader())
            for _ in range(remaining):
                # Check before fetching: fetching draws augmentation random numbers, which the
                # checkpoint written on the way out must not have spent (exact resume).
                if broadcast_flag(self.stop.requested, self.context):
                    break
                images, targets = next(batches)
                data_seconds = time.perf_counter() - waited_since
                images = images.to(device, non_blocking=True)
                targets = targets.to(device, non_blocking=True)
                if config.channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                loss, correct = self.train_step(images, targets)
                self.step_in_epoch += 1
                self.global_step += 1
                images_this_session += len(targets)
                self.epoch_sums += torch.tensor(
                    [loss.item() * len(targets), correct.item(), len(targets), data_seconds], dtype=torch.float64
                )
                elapsed = time.perf_counter() - started
                progress.set_postfix(
                    loss=f"{self.epoch_sums[0] / self.epoch_sums[2]:.3f}",
                    acc=f"{100 * self.epoch_sums[1] / self.epoch_sums[2]:.1f}%",
                    img_s=f"{images_this_session * self.context.world_size / elapsed:.0f}",
                    refresh=False,
                )
                progress.update(1)
                waited_since = time.perf_counter()
        finally:
            progress.close()
        self.epoch_seconds = time.perf_counter() - started

    def _evaluate(self, model: nn.Module) -> EvaluationResult:
        return evaluate_loader(
            model, self._eval_loader(), len(self.data.classes), device=self.context.device,
            autocast_dtype=self.autocast_dtype, channels_last=self.config.channels_last, context=self.context,
        )

    def _finish_epoch(self) -> dict[str, Any]:
        sums = all_reduce_sum(self.epoch_sums.clone().to(self.context.device), self.context).cpu()
        raw = self._evaluate(self.model)
        ema = self._evaluate(self.ema.module) if self.ema is not None else None
        record: dict[str, Any] = {
            "epoch": self.epoch + 1,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": round(float(sums[0] / sums[2]), 5),
            "train_top1": round(float(100 * sums[1] / sums[2]), 3),
            "val_loss": round(raw.loss, 5),
            "val_top1": round(raw.top1, 3),
            "val_top5": round(raw.top5, 3),
        }
        if ema is not None:
            record.update(ema_val_loss=round(ema.loss, 5), ema_val_top1=round(ema.top1, 3), ema_val_top5=round(ema.top5, 3))
        if self.context.enabled:
            record["ranks_in_sync"] = self._ranks_in_sync()
        record["epoch_seconds"] = round(self.epoch_seconds, 1)
        record["images_per_second"] = round(float(sums[2]) / max(self.epoch_seconds, 1e-9), 1)
        record["data_seconds_per_step"] = round(float(sums[3]) / self.context.world_size / max(1, self.steps_per_epoch), 4)
        self.history.append(record)

        use_ema = ema is not None and ema.top1 > raw.top1
        best_now = ema if use_ema else raw
        improved = best_now.top1 > self.best_top1
        if improved:
            self.best_top1 = best_now.top1
            self.best_weights = "ema" if use_ema else "raw"
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_sums.zero_()
        if self.is_main:
            payload = self._payload()
            _save_atomically(payload, self.run_dir / LAST_CHECKPOINT)
            if improved:
                _save_atomically(payload, self.run_dir / BEST_CHECKPOINT)
                self._save_model_dir(use_ema, best_now)
            self.logger.log_epoch(self.history)
            plot_curves(self.history, self.run_dir / CURVES_PLOT)
        return record

    def _ranks_in_sync(self) -> bool:
        """Whether every process holds the same weights (DDP's promise, checked each epoch)."""
        checksum = sum(parameter.detach().double().sum() for parameter in self.model.parameters())
        extremes = torch.stack([checksum, -checksum]).to(self.context.device)
        torch.distributed.all_reduce(extremes, op=torch.distributed.ReduceOp.MAX)
        return bool((extremes[0] + extremes[1]).abs() <= 1e-9 * extremes[0].abs().clamp_min(1.0))

    def _save_model_dir(self, use_ema: bool, result: EvaluationResult) -> None:
        from googlenet.weights.model_dir import save_pretrained

        weights = self.ema.module if use_ema and self.ema is not None else self.model
        plot_confusion_matrix(
            result.confusion_matrix, list(self.data.classes), self.run_dir / CONFUSION_PLOT,
            f"{self.data.name}: epoch {self.epoch}, top-1 {result.top1:.2f}% ({'EMA' if use_ema else 'raw'} weights)",
        )
        exported = googlenet(
            self.config.flavour, num_classes=len(self.data.classes), in_chans=self.data.in_chans,
            aux_logits=self.config.aux_logits, init_weights=False,
        )
        exported.load_state_dict(weights.state_dict())  # copies into plain, contiguous CPU tensors
        exported.class_names = list(self.data.classes)
        exported.preprocessing = self.data.preprocessing
        save_pretrained(exported, self.run_dir / MODEL_DIR)
        evaluation = {"data": self.data.name, "epoch": self.epoch, "weights": "ema" if use_ema else "raw", **result.to_dict()}
        (self.run_dir / MODEL_DIR / "evaluation.json").write_text(json.dumps(evaluation, indent=2))

    def run(self) -> TrainResult:
        config = self.config
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2))
            self.logger = RunLogger(self.run_dir, tensorboard=config.tensorboard)
        status = "finished"
        try:
            with self.stop:
                while self.epoch < config.epochs:
                    self._train_epoch()
                    if self.step_in_epoch < self.steps_per_epoch:  # a stop was requested mid-epoch
                        status = "interrupted"
                        self._save_last()
                        if self.is_main:
                            print(
                                f"interrupted at epoch {self.epoch + 1}, step {self.step_in_epoch}/{self.steps_per_epoch}: "
                                f"resumable checkpoint written to {self.run_dir / LAST_CHECKPOINT}; "
                                f"continue with: googlenet train --resume {self.run_dir}",
                                flush=True,
                            )
                        break
                    record = self._finish_epoch()
                    if self.is_main:
                        summary = (f"epoch {record['epoch']}/{config.epochs}: train loss {record['train_loss']:.4f}, "
                                   f"val top-1 {record['val_top1']:.2f}%")
                        if "ema_val_top1" in record:
                            summary += f" (EMA {record['ema_val_top1']:.2f}%)"
                        print(summary + f", {record['epoch_seconds']:.0f}s", flush=True)
        finally:
            if self.is_main:
                self.logger.close()
            teardown_distributed(self.context)
        return TrainResult(status, self.run_dir, self.epoch, selected_epoch=None, selected_weights=self.best_weights,
                           selected_by="validation top-1", validation={"top1": self.best_top1},
                           final=self.history[-1] if self.history else {})


def train(config: TrainConfig | None = None, resume: str | os.PathLike | None = None) -> TrainResult:
    """Train GoogLeNet as `config` says (defaults: the Fashion-MNIST main job); `resume` continues the
    run in that directory from its last checkpoint, exactly where it stopped."""
    return Trainer(config or TrainConfig(), resume=resume).run()


def resume_config(run_dir: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig a run directory was started with, with `overrides` (e.g. more epochs) applied."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"cannot resume: {path} does not exist (is {run_dir} a training run directory?)")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    values.update(overrides or {})
    values["output_dir"] = str(run_dir)
    return TrainConfig.from_dict(values)
