"""Evaluation: loss, top-1, top-5, per-class accuracy and the confusion matrix, with optional TTA.

With multi-crop test-time augmentation the loader yields [N, K, C, S, S] batches; the softmax is
averaged over the K crops (paper section 7) and the loss is the negative log of that average.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from googlenet.data.batches import as_batch, collate_skipping_unreadable
from googlenet.data.images import UnreadableImage, to_model_channels
from googlenet.models.preprocessing import Preprocessing
from googlenet.data.transforms import eval_preset
from googlenet.distributed import DistributedContext, all_reduce_sum
from googlenet.evaluation.input_fit import InputFitWarning, data_fit_messages
from googlenet.evaluation.model_source import ModelSource, load_run_data, resolve_model
from googlenet.evaluation.placement import in_eval_mode, on_device, placement


@dataclass
class EvaluationResult:
    """Accuracy on a split; `evaluate` also names the model, the data and the split it measured."""

    loss: float
    top1: float  # percent
    top5: float  # percent
    count: int  # images evaluated
    per_class_accuracy: list[float]  # percent, by class index
    confusion_matrix: list[list[int]]  # [true class][predicted class]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}: images that failed to decode
    model: str | None = None  # the model directory
    weights: str | None = None  # "raw" or "ema", where the run recorded it
    epoch: int | None = None  # where the run recorded it
    data: str | None = None  # the data set's name or folder
    split: str | None = None  # "validation" or "test"
    tta: str | None = None  # "center", "10crop" or "144crop"
    views: int | None = None  # crops averaged per image (1: center; 5 or 72 without mirror images)
    tta_note: str | None = None  # how the crops differ from what the mode's name says (tta.MultiCrop.note)
    warnings: list[str] = field(default_factory=list)  # e.g. images converted to the model's channels

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values; the naming fields only where set."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@torch.no_grad()
def evaluate_loader(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    *,
    device: torch.device | None = None,
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    context: DistributedContext | None = None,
    progress: Any = None,
) -> EvaluationResult:
    """Evaluate `model` (in eval mode, then back in its own mode) on every batch of `loader`, the images
    on `device` (default: where the model's weights are) in the weights' dtype; sums are reduced over ranks.

    The loader's batches are `googlenet.data.Batch(images, targets, skipped)` (collate_fn=
    collate_skipping_unreadable): images that failed to decode are excluded, counted and named in the result's
    `skipped`. Plain (images, targets) batches are accepted too.
    """
    where, dtype = placement(model)
    device = where if device is None else device
    sums = _Sums(num_classes, device)
    autocast = (
        torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else contextlib.nullcontext()
    )
    skipped: list[tuple[str, str]] = []
    with in_eval_mode(model):
        for batch in map(as_batch, loader):
            skipped += batch.skipped
            if len(batch.targets):
                images = batch.images.to(device, dtype, non_blocking=True)
                sums.add(_forward(model, images, autocast, channels_last), batch.targets.to(device, non_blocking=True))
            if progress is not None:
                progress.update(len(batch.targets) + len(batch.skipped))
    if context is not None and context.enabled:
        sums.all_reduce(context)
        skipped = _gathered(skipped)
    return sums.result(skipped)


def _forward(model: nn.Module, images: Tensor, autocast: Any, channels_last: bool) -> tuple[Tensor, int]:
    """(logits [N, classes] float32, crops per image or 0); multi-crop batches [N, K, C, S, S] run as N*K."""
    crops = images.shape[1] if images.dim() == 5 else 0
    if crops:
        images = images.flatten(0, 1)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast:
        logits = model(images)
    return logits.float(), crops


class _Sums:
    """Loss, top-1, top-5 and the confusion matrix summed over batches (float64/int64, on the device)."""

    def __init__(self, num_classes: int, device: torch.device) -> None:
        self.num_classes = num_classes
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.top1 = torch.zeros((), dtype=torch.float64, device=device)
        self.top5 = torch.zeros((), dtype=torch.float64, device=device)
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def add(self, output: tuple[Tensor, int], targets: Tensor) -> None:
        logits, crops = output
        classes = self.num_classes
        if crops:  # paper section 7: the softmax averaged over the crops; the loss is its negative log
            probabilities = F.softmax(logits, dim=1).view(-1, crops, logits.shape[1]).mean(dim=1)
            self.loss += F.nll_loss(probabilities.clamp_min(1e-12).log(), targets, reduction="sum").double()
            scores = probabilities
        else:
            self.loss += F.cross_entropy(logits, targets, reduction="sum").double()
            scores = logits
        best = scores.topk(min(5, classes), dim=1).indices
        self.top1 += (best[:, 0] == targets).sum()
        self.top5 += (best == targets[:, None]).any(dim=1).sum()
        self.confusion += torch.bincount(targets * classes + best[:, 0], minlength=classes**2).view(classes, classes)

    def all_reduce(self, context: DistributedContext) -> None:
        for tensor in (self.loss, self.top1, self.top5, self.confusion):
            all_reduce_sum(tensor, context)

    def result(self, skipped: list[tuple[str, str]]) -> EvaluationResult:
        count = int(self.confusion.sum().item())
        if count == 0:
            why = f": all {len(skipped)} image(s) failed to decode, e.g. {skipped[0][0]}" if skipped else ""
            raise ValueError(f"nothing to evaluate: the evaluation data set is empty{why}")
        per_class_total = self.confusion.sum(dim=1).clamp_min(1)
        per_class = (self.confusion.diagonal() / per_class_total * 100).tolist()
        return EvaluationResult(
            loss=self.loss.item() / count,
            top1=self.top1.item() / count * 100,
            top5=self.top5.item() / count * 100,
            count=count,
            per_class_accuracy=[round(value, 4) for value in per_class],
            confusion_matrix=self.confusion.cpu().tolist(),
            skipped=[{"path": path, "reason": reason} for path, reason in skipped],
        )


def _gathered(skipped: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Every rank's skipped images, in rank order, on every rank."""
    everyone: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(everyone, skipped)
    return [item for part in everyone for item in part]


def shard(dataset: Dataset, context: DistributedContext) -> Dataset:
    """This rank's share of an evaluation set: every world_size-th sample, none twice (unlike
    DistributedSampler, which pads with repeats and would bias the metrics)."""
    if not context.enabled:
        return dataset
    return torch.utils.data.Subset(dataset, range(context.rank, len(dataset), context.world_size))  # type: ignore[arg-type]


class PreparedImages(Dataset):
    """(PIL image, label) samples converted to the model's channels, then `prepare`d (a transform, or a TTA
    crop function); an `UnreadableImage` passes through untouched for the batch to leave out."""

    def __init__(self, images: Dataset, in_chans: int, prepare: Callable[[Any], Any]) -> None:
        self.images, self.in_chans, self.prepare = images, in_chans, prepare

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.images[index]
        if isinstance(image, UnreadableImage):
            return image, label
        return self.prepare(to_model_channels(image, self.in_chans)), label


def evaluate_model(
    model: nn.Module,
    images: Dataset,
    preprocessing: Preprocessing,
    num_classes: int,
    *,
    tta: str = "center",
    batch_size: int = 256,
    workers: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
    mirrors: bool = True,
) -> EvaluationResult:
    """Evaluate on a dataset of (PIL image, label) with the model's own `preprocessing` (images are converted
    to its channel mode first), on `device` (default: where the model is; a copy runs elsewhere, the
    caller's model is never moved).

    tta: "center" (resize + centre crop, one view), "10crop" (torchvision's ten crops) or "144crop"
    (the paper's scheme); softmax averaged over the crops. mirrors=False: no mirrored crops, for data whose
    mirror image is another class (5 and 72 crops).
    """
    from tqdm import tqdm

    from googlenet.evaluation.tta import TTA_MODES, crop_function

    if tta not in TTA_MODES:
        raise ValueError(f"unknown --tta {tta!r}; choose one of: {', '.join(TTA_MODES)}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    crops = None if tta == "center" else crop_function(tta, preprocessing, mirrors=mirrors)
    prepare: Callable[[Any], Any] = eval_preset(preprocessing) if crops is None else crops
    if crops is not None:
        batch_size = max(1, batch_size // crops.views)
    dataset = PreparedImages(images, preprocessing.in_chans, prepare)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_skipping_unreadable)
    with tqdm(total=len(dataset), unit="img", desc=f"evaluate ({tta})", disable=not progress) as bar:
        result = evaluate_loader(on_device(model, device), loader, num_classes, device=device, progress=bar)
    result.tta, result.views = tta, 1 if crops is None else crops.views
    result.tta_note = None if crops is None else crops.note
    return result


def evaluate(
    model_or_dir: Any,
    data: Any = None,
    *,
    split: str | None = None,
    data_dir: str | None = None,
    source: ModelSource | None = None,
    tta: str = "center",
    batch_size: int = 256,
    workers: int = 0,
    device: str | torch.device | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Evaluate a model on a split of a data set, with its own preprocessing.

    model_or_dir: a model directory, a training run directory, or a model object (a GoogLeNet, or an
        optimized/quantized one carrying `preprocessing` and `class_names`; `source` names where it came from).
    data: a built-in name, an image folder or a `DataSplits`; default: the data set the run recorded (its
        config.json), with the run's data_dir, val_fraction and seed, so its validation split is the same.
    split: "test" or "validation"; default: the test split where the data has one, else validation.
    device: where to evaluate ("auto", "cpu", "cuda", ...); default: where a model object's weights are, the
        CPU for a directory. A model object elsewhere is copied there: the caller's model is never moved,
        and comes back in the mode it was given in.
    limit: evaluate the first N images of the split only.
    Images that cannot be decoded are excluded, counted and named in `skipped` (with the files of the split
    left out up front as unreadable); images converted or resized a lot to fit the model are noted in `warnings`.
    """
    from googlenet.distributed import resolve_device

    model, source = resolve_model(model_or_dir, source)
    preprocessing = getattr(model, "preprocessing", None)
    splits = _load_splits(data, data_dir, source, preprocessing)
    preprocessing = preprocessing or splits.preprocessing
    class_names = getattr(model, "class_names", None)
    if class_names and list(splits.classes) != list(class_names):
        raise ValueError(f"{splits.name} has classes {list(splits.classes)[:10]}..., the model was trained on "
                         f"{list(class_names)[:10]}...: they must match in name and order")
    split = split or ("test" if splits.test is not None else "validation")
    _, images = splits.split(split)
    if limit is not None:
        images = torch.utils.data.Subset(images, range(min(limit, len(images))))
    notes = data_fit_messages(splits.name, splits.in_chans, splits.image_side, preprocessing)
    for message in notes:
        warnings.warn(message, InputFitWarning, stacklevel=2)
    device = resolve_device(device) if isinstance(device, str) else device
    result = evaluate_model(model, images, preprocessing, len(splits.classes), tta=tta, batch_size=batch_size,
                            workers=workers, device=device, progress=progress, mirrors=splits.mirror_safe is not False)
    left_out = [] if limit is not None else splits.unreadable.get(split, [])
    result.skipped = [{"path": path, "reason": reason} for path, reason in left_out] + result.skipped
    result.data, result.split, result.warnings = splits.name, split, notes
    if source is not None:
        result.model, result.weights, result.epoch = str(source.model_dir), source.weights, source.epoch
    return result


def _load_splits(data: Any, data_dir: str | None, source: ModelSource | None, preprocessing: Any) -> Any:
    from googlenet.data.splits import DataSplits

    if isinstance(data, DataSplits):
        return data
    return load_run_data(source, data, data_dir, input_size=preprocessing.input_size if preprocessing else None)
