"""A training run's settings (`TrainConfig`) and what a run returns (`TrainResult`).

Every field carries its command-line help in `metadata["help"]`: `googlenet train`'s options are
generated from these fields (flag = "--" + name with dashes), so the help, the default and the choices
live here and nowhere else. Optional metadata: "choices" (a tuple), "metavar", "cli": False, "none_word":
False (None is chosen for the user, not typed).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from googlenet.data.transforms import TRAIN_PRESET_SUMMARIES, TRAIN_PRESETS
from googlenet.models.table import FLAVOURS as _FLAVOUR_TABLE

CHECKPOINT_FORMAT = "googlenet-train-checkpoint"
CHECKPOINT_VERSION = 2  # 1: before the trainer was split (one RNG state, LambdaLR, test-split selection)
LAST_CHECKPOINT = "checkpoint_last.pt"
PREVIOUS_CHECKPOINT = "checkpoint_previous.pt"  # the last checkpoint before the latest one was written
BEST_CHECKPOINT = "checkpoint_best.pt"
MODEL_DIR = "model"
CONFIG_FILE = "config.json"
RUN_FORMAT_KEY = "run_format"  # in config.json beside the TrainConfig from version 2 on; absent: version 1
SCHEDULES = ("cosine", "paper")
AMP_MODES = ("auto", "bf16", "off")
FLAVOURS = tuple(_FLAVOUR_TABLE)

EPOCHS_FROM_SCRATCH = 5  # make train: Fashion-MNIST to about 91% test top-1 (benchmarks/time_to_accuracy.py)
EPOCHS_FROM_INIT = 4  # fine-tuning: pretrained features need a short schedule
# Peak learning rates for a global batch of 128. From random weights 0.05 (0.1 at the default batch of 256):
# the short default run without augmentation diverged at twice that (docs/results.md). Fine-tuning keeps the
# rate its figures were measured at (docs/finetuning.md).
LR_FROM_SCRATCH = 0.05
LR_FROM_INIT = 0.1

# Options that do not change which samples, weights or numbers a run produces: a resumed run accepts
# new values for them. `epochs` is accepted too, with its own rule (see schedule.py).
SAFE_TO_CHANGE_ON_RESUME = ("data_dir", "download", "workers", "device", "progress", "tensorboard", "output_dir",
                            "overwrite", "epochs", "test_every_epoch")


def _option(default: Any, help: str, **metadata: Any) -> Any:
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class TrainConfig:
    """A training run. The defaults are `make train`'s: Fashion-MNIST from random weights in 5 epochs."""

    data: str = _option("fashion-mnist", "a built-in data set (fashion-mnist, mnist, kmnist, cifar10, cifar100) or an "
                        "image folder: one subfolder per class, or train/ (and val/, test/) folders of them",
                        metavar="NAME_OR_FOLDER")
    data_dir: str | None = _option(None, "where to look for a built-in data set's files (default: the usual places "
                                   "and the cache)", metavar="DIR")
    output_dir: str | None = _option(None, "the run directory: checkpoints, metrics, plots, the trained model "
                                     "(model/) and a test image per class (examples/) (default: runs/NAME, NAME "
                                     "being the data set's or the folder's name)", metavar="DIR", none_word=False)
    overwrite: bool = _option(False, "replace the run in --output-dir if it already holds one (without it such a "
                              "directory is refused, so a typo cannot destroy a finished run)")
    init: str | None = _option(None, "start from these weights instead of random ones: a model directory, a run "
                               "directory, a Hugging Face Hub repository (hf-hub:user/repo), torchvision-imagenet, or a torchvision googlenet "
                               ".pth file; the classifier "
                               "is made anew for this data set's classes", metavar="MODEL")
    freeze_to: str | None = _option(None, "with --init: keep the network up to and including this stage fixed "
                                    "(e.g. inception4e) and train only the stages after it; the fixed stages' "
                                    "BatchNorm statistics stay as they were", metavar="STAGE")
    # 1.0: fine-tuning a Fashion-MNIST model onto a digits folder, 0.1 lost to training from scratch at 4
    # and 6 epochs while 1.0 beat it at 2, 4 and 6 (docs/finetuning.md). Lower it for close domains.
    pretrained_lr_scale: float = _option(1.0, "with --init: the learning rate of the pretrained layers, as a fraction "
                                         "of --lr (the new classifier trains at --lr); e.g. 0.1 to change "
                                         "features pretrained on data like yours less")
    flavour: str | None = _option(None, "the network variant (default: bn from random weights; with --init, the "
                                  "weights' own)", choices=FLAVOURS,
                                  none_word=False)
    epochs: int | None = _option(None, f"passes over the training set (default: {EPOCHS_FROM_SCRATCH}; "
                                 f"{EPOCHS_FROM_INIT} with --init); with --resume, a new total that continues the "
                                 "learning rate from where it is, never raising it")
    batch_size: int | None = _option(None, "images per step on each process; the global batch is this times the "
                                     "number of processes, and the run's length in steps (which picks the default "
                                     "augmentation) counts global batches (default: 256 for inputs below 224 px, 128 "
                                     "at 224 px and more or on small training sets, or fewer where that would not "
                                     "fit in half the free memory at the input size; the run's first lines say "
                                     "which and why)", none_word=False)
    input_size: int | None = _option(None, "side of the square model input in pixels (default: from the data: 32 "
                                     "for images up to 32x32, 224 for large ones)")
    train_preset: str = _option("auto", "training augmentation: " + "; ".join(
                                f"{name}: {summary}" for name, summary in TRAIN_PRESET_SUMMARIES.items()) + "; or auto "
                                "(chosen from the image sizes and the run's length)", choices=("auto", *TRAIN_PRESETS))
    hflip: bool | None = _option(None, "flip training images left-right at random (default: only for data sets "
                                 "known to be mirror-safe; --no-hflip never flips)")
    random_erase: float = _option(0.0, "probability of erasing a random rectangle of each training image (helps "
                                  "long runs; short ones on Fashion-MNIST do better without)")
    aux_logits: bool | None = _option(None, "train with the two auxiliary classifiers (paper section 5) (default: "
                                      "on for inputs of 224 px and more, as the paper trains; off below, where they "
                                      "slow each step by about 15 percent)")
    aux_weight: float = _option(0.3, "weight of each auxiliary classifier's loss (the paper's 0.3)")
    lr: float | None = _option(None, "peak learning rate for a global batch of 128, scaled linearly for other "
                               f"global batch sizes (default: {LR_FROM_SCRATCH}; {LR_FROM_INIT} with --init)",
                               none_word=False)
    momentum: float = _option(0.9, "momentum of the SGD optimizer")
    nesterov: bool = _option(True, "use Nesterov momentum")
    weight_decay: float = _option(5e-4, "weight decay on convolution and linear weights (not on BatchNorm "
                                  "parameters or biases)")
    schedule: str = _option("cosine", "learning-rate schedule after the warm-up: cosine (down to zero at the last "
                            "step) or paper (x0.96 every 8 epochs)", choices=SCHEDULES)
    warmup_epochs: float = _option(0.5, "epochs of linear learning-rate warm-up")
    label_smoothing: float = _option(0.0, "label smoothing of the loss (0.1 underfits in short runs)")
    ema_decay: float | None = _option(0.998, "decay of the exponential moving average of the weights (paper section "
                                      "6), warmed up as min(decay, (1 + step) / (10 + step)) so that short runs "
                                      "average over their later steps only; none: no average")
    clip_grad_norm: float | None = _option(None, "clip the gradients' total norm to this value (default: no "
                                           "clipping)")
    amp: str = _option("auto", "mixed precision: auto (bfloat16 where the hardware runs it natively), bf16, or off",
                       choices=AMP_MODES)
    channels_last: bool = _option(True, "keep images and weights in channels-last memory order (faster on CPUs "
                                  "and recent GPUs)")
    compile: bool = _option(False, "compile the model with torch.compile (a slower start for faster steps on "
                            "some machines)")
    sync_batch_norm: bool = _option(False, "with several GPUs: BatchNorm statistics over the global batch")
    seed: int = _option(0, "seed for the weights, the sample order, the augmentation and the validation split")
    workers: int = _option(0, "data-loading processes (0 loads in the training process)")
    val_fraction: float = _option(0.1, "fraction of the training images held out, per class and seeded, as the "
                                  "validation split that chooses the best epoch and raw-or-averaged weights; 0 "
                                  "trains on all of them and keeps the final weights (image folders with a val/ "
                                  "folder use that instead)")
    strict: bool = _option(False, "stop at an unreadable image instead of skipping it with a warning")
    download: bool = _option(False, "download a built-in data set that is not found locally")
    train_subset: int | None = _option(None, "train on the first N training images only (quick checks)",
                                       metavar="N")
    val_subset: int | None = _option(None, "evaluate on the first N validation images only", metavar="N")
    test_subset: int | None = _option(None, "evaluate on the first N test images only", metavar="N")
    test_every_epoch: bool = _option(False, "evaluate the test split after every epoch too, for information (it "
                                     "never chooses; without this option the test split is evaluated once, at the "
                                     "end, on the kept weights)")
    device: str = _option("auto", "where to train: auto (a GPU where there is one), cpu, cuda, cuda:1, ...")
    tensorboard: bool = _option(True, "write TensorBoard events to RUN/tensorboard")
    progress: bool = _option(True, "show a progress bar")

    def check(self) -> None:
        """Raise ValueError naming the first option that cannot work."""

        def require(condition: bool, message: str) -> None:
            if not condition:
                raise ValueError(message)

        require(self.epochs is None or self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.batch_size is None or self.batch_size >= 2,
                f"--batch-size must be at least 2 (BatchNorm needs 2), got {self.batch_size}")
        require(self.lr is None or self.lr > 0, f"--lr must be positive, got {self.lr}")
        require(self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
        require(self.amp in AMP_MODES, f"unknown --amp {self.amp!r}; choose one of: {', '.join(AMP_MODES)}")
        require(self.flavour is None or self.flavour in FLAVOURS,
                f"unknown flavour {self.flavour!r}; choose one of: {', '.join(FLAVOURS)}")
        require(self.ema_decay is None or 0 < self.ema_decay < 1, f"--ema-decay must be in (0, 1), got {self.ema_decay}")
        require(self.workers >= 0, f"--workers must be 0 or more, got {self.workers}")
        require(0 <= self.random_erase <= 1, f"--random-erase must be in [0, 1], got {self.random_erase}")
        require(self.warmup_epochs >= 0, f"--warmup-epochs must be 0 or more, got {self.warmup_epochs}")
        require(0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        require(0 < self.pretrained_lr_scale <= 1, f"--pretrained-lr-scale must be in (0, 1], got {self.pretrained_lr_scale}")
        require(self.freeze_to is None or self.init is not None,
                "--freeze-to needs --init: freezing random weights would train only the classifier on noise")
        for name in ("train_subset", "val_subset", "test_subset"):
            value = getattr(self, name)
            require(value is None or value >= 1, f"--{name.replace('_', '-')} must be at least 1, got {value}")

    def resolved(self) -> TrainConfig:
        """This config with the defaults that depend on other options filled in (what config.json records)."""
        epochs = self.epochs if self.epochs is not None else (EPOCHS_FROM_INIT if self.init else EPOCHS_FROM_SCRATCH)
        flavour = self.flavour if self.flavour is not None or self.init else "bn"
        output_dir = self.output_dir or default_output_dir(self.data)
        lr = self.lr if self.lr is not None else (LR_FROM_INIT if self.init else LR_FROM_SCRATCH)
        return replace(self, epochs=epochs, flavour=flavour, output_dir=output_dir, lr=lr)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {option.name for option in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def default_output_dir(data: str) -> str:
    """runs/NAME: the built-in data set's name, or the image folder's own name (runs/photos for ~/photos/)."""
    return str(Path("runs") / (Path(os.path.abspath(os.path.expanduser(data))).name or "run"))


@dataclass
class TrainResult:
    """What `train()` returns. Every figure says which split it was measured on."""

    status: str  # "finished" or "interrupted"
    run_dir: Path
    epochs_done: int
    selected_epoch: int | None  # the epoch whose weights are in model/
    selected_weights: str  # "raw" or "ema"
    selected_by: str  # "validation top-1" or "final epoch" (no validation split)
    validation: dict[str, Any] | None = None  # the selected weights on the validation split
    test: dict[str, Any] | None = None  # the selected weights on the test split, measured once at the end
    final: dict[str, Any] = field(default_factory=dict)  # the last epoch's metrics row
    stopped_by: str | None = None  # what interrupted the run: "SIGINT" (Ctrl-C), "SIGTERM", or None

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR

    def summary(self) -> str:
        """The final message: which weights were kept and why, and each figure with its split."""
        if self.status != "finished":
            return f"interrupted after {self.epochs_done} epochs; continue with: googlenet train --resume {self.run_dir}"
        source = "EMA" if self.selected_weights == "ema" else "raw"
        if self.selected_epoch is None:
            return f"no epoch finished; nothing selected in {self.run_dir}"
        lines = [f"kept the {source} weights of epoch {self.selected_epoch} (chosen by {self.selected_by}) "
                 f"in {self.model_dir}"]
        for split, numbers in (("validation", self.validation), ("test", self.test)):
            if numbers:
                lines.append(f"{split} accuracy (top-1): {numbers['top1']:.2f}%, top-5 {numbers['top5']:.2f}% "
                             f"on {numbers['count']} images")
        lines.append(f"metrics and plots: {self.run_dir / 'metrics.csv'}, {self.run_dir / 'curves.png'}, "
                     f"{self.run_dir / 'confusion_matrix.png'}")
        return "\n".join(lines)
