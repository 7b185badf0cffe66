"""Evaluation: loss, top-1, top-5, per-class accuracy and the confusion matrix, with optional TTA.

With multi-crop test-time augmentation the loader yields [N, K, C, S, S] batches; the softmax is
averaged over the K crops (paper section 7) and the loss is the negative log of that average.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from googlenet.distributed import DistributedContext, all_reduce_sum


@dataclass
class EvaluationResult:
    loss: float
    top1: float  # percent
    top5: float  # percent
    count: int
    per_class_accuracy: list[float]  # percent, by class index
    confusion_matrix: list[list[int]]  # [true class][predicted class]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def evaluate_loader(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    *,
    device: torch.device = torch.device("cpu"),
    autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
    context: DistributedContext | None = None,
    progress: Any = None,
) -> EvaluationResult:
    """Evaluate `model` (put in eval mode here) on every batch of `loader`; sums are reduced over ranks."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    top1 = torch.zeros((), dtype=torch.float64, device=device)
    top5 = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    autocast = (
        torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else contextlib.nullcontext()
    )
    try:
        for images, targets in loader:
            images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            crops = images.shape[1] if images.dim() == 5 else 0
            if crops:
                images = images.flatten(0, 1)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits = model(images)
            logits = logits.float()
            if crops:
                probabilities = F.softmax(logits, dim=1).view(-1, crops, logits.shape[1]).mean(dim=1)
                loss_sum += F.nll_loss(probabilities.clamp_min(1e-12).log(), targets, reduction="sum").double()
                scores = probabilities
            else:
                loss_sum += F.cross_entropy(logits, targets, reduction="sum").double()
                scores = logits
            best = scores.topk(min(5, num_classes), dim=1).indices
            top1 += (best[:, 0] == targets).sum()
            top5 += (best == targets[:, None]).any(dim=1).sum()
            confusion += torch.bincount(targets * num_classes + best[:, 0], minlength=num_classes**2).view(
                num_classes, num_classes
            )
            if progress is not None:
                progress.update(len(targets))
    finally:
        model.train(was_training)
    if context is not None:
        for tensor in (loss_sum, top1, top5, confusion):
            all_reduce_sum(tensor, context)
    count = int(confusion.sum().item())
    if count == 0:
        raise ValueError("nothing to evaluate: the evaluation data set is empty")
    per_class_total = confusion.sum(dim=1).clamp_min(1)
    per_class = (confusion.diagonal() / per_class_total * 100).tolist()
    return EvaluationResult(
        loss=loss_sum.item() / count,
        top1=top1.item() / count * 100,
        top5=top5.item() / count * 100,
        count=count,
        per_class_accuracy=[round(value, 4) for value in per_class],
        confusion_matrix=confusion.cpu().tolist(),
    )


def shard(dataset: Dataset, context: DistributedContext) -> Dataset:
    """This rank's share of an evaluation set: every world_size-th sample, none twice (unlike
    DistributedSampler, which pads with repeats and would bias the metrics)."""
    if not context.enabled:
        return dataset
    return torch.utils.data.Subset(dataset, range(context.rank, len(dataset), context.world_size))  # type: ignore[arg-type]


class _Transformed(Dataset):
    """(image, label) pairs with `transform` applied to the image."""

    def __init__(self, images: Dataset, transform: Any) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.images[index]
        return self.transform(image), label


def evaluate_model(
    model: nn.Module,
    images: Dataset,
    preprocessing: Any,
    num_classes: int,
    *,
    tta: str = "center",
    batch_size: int = 256,
    workers: int = 0,
    device: torch.device = torch.device("cpu"),
    progress: bool = False,
) -> EvaluationResult:
    """Evaluate on a dataset of (PIL image, label) with the model's own preprocessing.

    tta: "center" (resize + centre crop, one view), "10crop" (torchvision's ten crops) or "144crop"
    (the paper's scheme); softmax averaged over the crops.
    """
    from tqdm import tqdm

    from googlenet.evaluation.tta import TTA_MODES, MultiCropDataset
    from googlenet.data.transforms import eval_preset

    if tta not in TTA_MODES:
        raise ValueError(f"unknown --tta {tta!r}; choose one of: {', '.join(TTA_MODES)}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    if tta == "center":
        dataset: Dataset = _Transformed(images, eval_preset(preprocessing))
    else:
        dataset = MultiCropDataset(images, preprocessing, tta)
        batch_size = max(1, batch_size // (10 if tta == "10crop" else 144))
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    with tqdm(total=len(dataset), unit="img", desc=f"evaluate ({tta})", disable=not progress) as bar:  # type: ignore[arg-type]
        return evaluate_loader(model.to(device), loader, num_classes, device=device, progress=bar)
