"""Building a run: its directory checked, its data loaded, its model made (from random weights or from
`--init`), frozen where asked, and the optimizer with its learning rates per group.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from googlenet.training.config import CONFIG_FILE, LAST_CHECKPOINT, MODEL_DIR, TrainConfig

# What a run writes (outputs.py, checkpoint.py): the only names `--overwrite` removes.
RUN_FILES = (CONFIG_FILE, LAST_CHECKPOINT, "checkpoint_previous.pt", "checkpoint_best.pt", "metrics.csv",
             "metrics.json", "curves.png", "confusion_matrix.png", MODEL_DIR, "tensorboard", "examples")
HEAD_MODULES = ("fc", "aux1", "aux2")  # made anew for the data set's classes by --init
# Images larger than this (median shorter side, px) are photos: a run from random weights on them is advised
# to start from ImageNet weights instead.
PRETRAINED_ADVICE_SIDE = 64


def check_output_dir(run_dir: Path, overwrite: bool, *, is_main: bool) -> None:
    """Refuse an output directory that is a file, or that holds a run, unless `overwrite` (then rank 0
    removes that run's files, and only those)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--output-dir {run_dir} is a file, not a directory")
    if not (run_dir / CONFIG_FILE).is_file() and not (run_dir / LAST_CHECKPOINT).is_file():
        return
    if not overwrite:
        raise ValueError(f"{run_dir} already holds a training run: continue it with --resume {run_dir}, "
                         "choose another --output-dir, or pass --overwrite to replace it")
    if is_main:
        for name in RUN_FILES:
            path = run_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()


def load_training_data(config: TrainConfig, input_size: int | None, normalization: Any = None,
                  world_size: int = 1) -> Any:
    """The data set as `DataSplits`, with the subsets the config asks for applied; `normalization`
    (mean, std, why) replaces the data set's statistics (the initial weights' under --init).
    `world_size`: the number of processes, each taking `config.batch_size` images a step."""
    from googlenet.data import load_data

    data = load_data(
        config.data, data_dir=config.data_dir, input_size=input_size, train_preset=config.train_preset,
        random_erase=config.random_erase, val_fraction=config.val_fraction, seed=config.seed, strict=config.strict,
        download=config.download, hflip=config.hflip, epochs=config.epochs, normalization=normalization,
        batch_size=config.batch_size * world_size,  # the global batch: the defaults count the run's steps
    )
    data.train = _first(data.train, config.train_subset)
    data.validation = _first(data.validation, config.val_subset)
    data.test = _first(data.test, config.test_subset)
    if len(data.classes) < 2:
        raise ValueError(f"{data.name} has one class only ({data.classes[0]!r}): a classifier needs two or more")
    return data


def load_on_every_rank(config: TrainConfig, input_size: int | None, normalization: Any, context: Any) -> Any:
    """`load_training_data` on every process. With --download rank 0 loads (and downloads) first while the
    others wait, so that one process writes the files; a failure on any rank stops them all."""
    from googlenet.distributed import failures_shared

    data = None
    if config.download:
        with failures_shared(context):
            if context.is_main:
                data = load_training_data(config, input_size, normalization, context.world_size)
    with failures_shared(context):
        if data is None:
            data = load_training_data(config, input_size, normalization, context.world_size)
    return data


def load_choosing_batch_size(config: TrainConfig, input_size: int | None, normalization: Any,
                             context: Any) -> tuple[Any, TrainConfig, int]:
    """(the data, `config` with its batch size, the evaluation's batch size). The batch size is --batch-size,
    or what fits in memory at the data's input size; the data's defaults count the run's steps at it (a
    run too short to augment). The data is read counting at the batch the input size most likely gets
    (given, or the data's own: 256 below 224 px), and read again only where the batch chosen is another
    (a larger input, a small training set, little memory). Evaluation keeps no activations for a backward
    pass and takes larger batches, but never more than a batch chosen for the memory."""
    from googlenet.training import batch_size as sizes

    if config.batch_size is not None:
        data = load_on_every_rank(config, input_size, normalization, context)
        return data, config, max(config.batch_size, sizes.EVALUATION_BATCH_SIZE)
    from googlenet.data.defaults import TooFewBatches

    counted_at = sizes.wanted_batch_size(input_size if input_size is not None else 0)
    try:
        data = load_on_every_rank(replace(config, batch_size=counted_at), input_size, normalization, context)
    except TooFewBatches as small:
        # The guess was too large for this training split, not the user's batch: count again at one that
        # fits it (a split too small for any batch is refused by this read).
        counted_at = sizes.wanted_batch_size(input_size if input_size is not None else 0,
                                             small.train_count // context.world_size)
        data = load_on_every_rank(replace(config, batch_size=counted_at), input_size, normalization, context)
    batch_size, why = sizes.default_batch_size(data.preprocessing.input_size, context,
                                               len(data.train) // context.world_size)
    config = replace(config, batch_size=batch_size)
    if batch_size != counted_at:
        data = load_on_every_rank(config, input_size, normalization, context)  # the same input size: the same data
    wanted = sizes.wanted_batch_size(data.preprocessing.input_size, len(data.train) // context.world_size)
    evaluation_batch = batch_size if batch_size < wanted else max(batch_size, sizes.EVALUATION_BATCH_SIZE)
    data.decisions.append(why)
    return data, config, evaluation_batch


def _first(dataset: Dataset | None, count: int | None) -> Dataset | None:
    if dataset is None or not count:
        return dataset
    return Subset(dataset, range(min(count, len(dataset))))  # type: ignore[arg-type]


def build_model(config: TrainConfig, data: Any, initial_weights: Any = None) -> tuple[nn.Module, str | None]:
    """(the model to train with its class names and preprocessing attached, a description of the
    initial weights or None for random ones). `initial_weights`: --init's, read (`read_initial_weights`)."""
    from googlenet.models.network import googlenet

    if initial_weights is None:
        model = googlenet(config.flavour, num_classes=len(data.classes), in_chans=data.in_chans,
                          aux_logits=config.aux_logits)
        description = None
    else:
        from googlenet.weights.init import load_initial_weights

        initial = load_initial_weights(initial_weights, num_classes=len(data.classes), in_chans=data.in_chans,
                                       flavour=config.flavour, aux_logits=config.aux_logits,
                                       class_names=list(data.classes))
        model, description = initial.model, initial.description
        if config.freeze_to is not None:
            freeze_through(model, config.freeze_to)
    # The preprocessing the run trains and evaluates with, which is what the saved model must be given.
    model.class_names = list(data.classes)
    model.preprocessing = data.preprocessing
    return model, description


def initial_preprocessing(config: TrainConfig, initial_weights: Any = None) -> tuple[int | None, str | None, Any]:
    """(input size, the decision's text, normalization for load_data): --input-size if given, else with
    --init the size the weights were trained at, else None (the data's choice); with --init, the weights'
    mean and std for the data's channel count, since the pretrained filters expect inputs scaled as in their
    training (for weights with transform_input on grayscale data that is not the RGB statistics' average)."""
    preprocessing = initial_weights.preprocessing_for(3) if initial_weights is not None else None
    if preprocessing is None:
        return config.input_size, None, None

    def normalization(in_chans: int) -> tuple[tuple[float, ...], tuple[float, ...], str]:
        chosen = initial_weights.preprocessing_for(in_chans)
        return chosen.mean, chosen.std, "what the initial weights were trained with"

    if config.input_size is not None:
        return config.input_size, None, normalization
    return preprocessing.input_size, (f"input size {preprocessing.input_size}: the initial weights were trained at "
                                      "that size (pass --input-size to choose another)"), normalization


def freeze_through(model: nn.Module, stage: str) -> list[str]:
    """Stop training the input transform and the trunk up to and including `stage`; returns the frozen
    stages' names. Their BatchNorm layers are kept in eval mode by the loop, so their statistics stay."""
    names = [name for name, _ in model.stages()]
    if stage not in names:
        raise ValueError(f"--freeze-to {stage!r} is not a stage of this network; choose one of: {', '.join(names)}")
    frozen = names[: names.index(stage) + 1]
    for name in frozen:
        getattr(model, name).requires_grad_(False)
    return frozen


def learning_rate_scales(model: nn.Module, config: TrainConfig) -> dict[str, float] | None:
    """With --init: the pretrained modules train at pretrained_lr_scale x the new heads' rate."""
    if config.init is None:
        return None
    return {name: config.pretrained_lr_scale for name, _ in model.named_children() if name not in HEAD_MODULES}


def wrap_for_processes(model: nn.Module, config: TrainConfig, context: Any) -> nn.Module:
    """The module the step runs: `model` itself, or under torchrun its DistributedDataParallel wrapper."""
    from torch.nn.parallel import DistributedDataParallel

    if not context.enabled:
        return model
    device = context.device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def convert_sync_batch_norm(model: nn.Module, config: TrainConfig, context: Any) -> nn.Module:
    if not (config.sync_batch_norm and context.enabled):
        return model
    if context.device.type != "cuda":
        raise ValueError("--sync-batch-norm needs GPUs: torch's SyncBatchNorm runs on CUDA only")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def seed_everything(seed: int, rank: int) -> None:
    import random

    random.seed(seed + rank)
    torch.manual_seed(seed + rank)


def build_session(config: TrainConfig, context: Any, run_dir: Path, stop: Any, notes: list[str],
                  resumed: Any = None) -> tuple[Any, Any, Any, TrainConfig]:
    """(Session, RunState at the start, the data, the config with the flavour the model has) for `config`.
    `resumed`: the run's `resume.ResumePoint`, whose checkpoint gives the network and the preprocessing
    (the --init source is not read again)."""
    from googlenet.models.loss import GoogLeNetLoss
    from googlenet.training.ema import WeightAverage
    from googlenet.training.loop import Session
    from googlenet.training.schedule import LearningRateSchedule
    from googlenet.training.state import EpochTotals, RunState
    from googlenet.training.step import autocast_dtype_for, build_optimizer, prepare_model

    from googlenet.training import resume

    initial_weights = None
    if resumed is not None:
        input_size, mean, std = resume.recorded_preprocessing(resumed)
        why, normalization = None, (mean, std, "as the run started (its checkpoint)")
    else:
        if config.init is not None:
            from googlenet.weights.init import read_initial_weights

            initial_weights = read_initial_weights(config.init, config.flavour)  # read once, used twice
        input_size, why, normalization = initial_preprocessing(config, initial_weights)
    seed_everything(config.seed, context.rank)
    data, config, evaluation_batch = load_choosing_batch_size(config, input_size, normalization, context)
    if why:
        data.decisions.append(why)
    if config.aux_logits is None:
        aux_logits, why = default_aux_logits(data.preprocessing.input_size)
        data.decisions.append(why)
        config = replace(config, aux_logits=aux_logits)
    if config.init is None and (data.image_side or 0) > PRETRAINED_ADVICE_SIDE:
        notes.append(pretrained_advice(data.image_side))
    if resumed is not None:
        model = resume.model_to_resume(resumed, config, data)
        evaluation_batch = resumed.checkpoint.get("evaluation_batch_size", evaluation_batch)
    else:
        model, description = build_model(config, data, initial_weights)
        if description:
            notes.append(description)
    if config.freeze_to:
        notes.append(f"fixed: the network up to and including {config.freeze_to} (BatchNorm statistics too); the "
                     f"pretrained layers after it train at {config.pretrained_lr_scale} x the classifier's rate")
    config = replace(config, flavour=model.config.flavour)
    global_batch = config.batch_size * context.world_size
    steps_per_epoch = len(data.train) // global_batch
    if steps_per_epoch == 0:
        raise ValueError(f"the training set has {len(data.train)} images, fewer than one global batch of "
                         f"{global_batch}; lower --batch-size")
    model = prepare_model(convert_sync_batch_norm(model, config, context), config, context.device)
    # Linear scaling rule (Goyal et al. 2017): --lr is given for a global batch of 128.
    optimizer = build_optimizer(model, config, learning_rate_scales(model, config), lr=config.lr * global_batch / 128)
    schedule = LearningRateSchedule.for_run(config.schedule, steps_per_epoch, config.epochs, config.warmup_epochs)
    ema = WeightAverage(model, config.ema_decay) if config.ema_decay is not None else None
    session = Session(
        config=config, context=context, run_dir=run_dir, network=wrap_for_processes(model, config, context),
        criterion=GoogLeNetLoss((config.aux_weight, config.aux_weight), config.label_smoothing),
        autocast_dtype=autocast_dtype_for(config.amp, context.device), train_set=data.train,
        steps_per_epoch=steps_per_epoch, num_classes=len(data.classes), stop=stop,
        evaluation_batch_size=evaluation_batch,
    )
    state = RunState(model, optimizer, schedule, ema, totals=EpochTotals().to(context.device))
    return session, state, data, config


def default_aux_logits(input_size: int) -> tuple[bool, str]:
    """(train with the auxiliary classifiers, why): at the paper's 224 px and more, as the paper trains. Below
    it they cost 15-38% of a step's images/s (2-core CPU, 32x32) and read maps of 2x2 or less; five epochs on
    Fashion-MNIST at 32 px reached the same test top-1 with and without them (90.76% and 90.75%, one seed
    each, docs/results.md)."""
    from googlenet.training.batch_size import PAPER_INPUT_SIZE

    if input_size >= PAPER_INPUT_SIZE:
        return True, f"aux heads on at {input_size} px, as the paper trains (--no-aux-logits turns them off)"
    return False, (f"aux heads off below the paper's {PAPER_INPUT_SIZE} px: --aux-logits turns them on")


def pretrained_advice(image_side: int) -> str:
    """Why a run on large images would rather start from ImageNet weights, and how."""
    return (f"advice: these images are {image_side} px on their shorter side, photos rather than thumbnails. From "
            "random weights GoogLeNet needs many images and epochs to learn features for them; starting from "
            "ImageNet's usually needs far fewer: --init torchvision-imagenet (torchvision's ImageNet GoogLeNet, "
            "downloaded once, about 50 MB), and --freeze-to inception4e to train only the last stages, faster")


def describe_start(session: Any, data: Any, notes: list[str]) -> list[str]:
    """The lines printed when a run starts: the machine, the splits and what each is used for, the
    defaults chosen from the data (with their reasons), and anything about the weights or the resume."""
    lines = []
    try:
        from googlenet.machine import describe_machine

        numbers = "bfloat16 (autocast)" if session.autocast_dtype == torch.bfloat16 else "float32"
        lines.append(f"machine: {describe_machine()}; training in {numbers}")
    except ImportError:
        pass
    lines.append(f"data: {data.name}: {len(data.train):,} training images in {len(data.classes)} classes")
    config = session.config
    if data.validation is not None:
        source = data.validation_source or "the validation split"
        if config.val_subset:
            source = f"the first {len(data.validation):,} of {source}"
        lines.append(f"validation: {len(data.validation):,} images ({source}): chooses the epoch and raw or "
                     "averaged weights to keep")
    else:
        lines.append("validation: none: the final weights are kept" +
                     (", averaged (EMA)" if config.ema_decay is not None else ""))
    if data.test is not None:
        when = ("each epoch for information and once at the end on the kept weights" if config.test_every_epoch
                else "once, at the end, on the kept weights (--test-every-epoch: each epoch too)")
        lines.append(f"test: {len(data.test):,} images: evaluated {when}; never used to choose")
    lines += [f"  {decision}" for decision in getattr(data, "decisions", [])]
    global_batch = config.batch_size * session.context.world_size
    lines.append(f"{session.steps_per_epoch} steps of {global_batch} images per epoch"
                 + (f" on {session.context.world_size} processes" if session.context.enabled else ""))
    return lines + notes
