"""Batches that never hide a missing image: `Batch(images, targets, skipped)`.

An image that passed the up-front check but fails to decode later (damaged on disk since) arrives as an
`UnreadableImage`; the batch leaves it out and names it, so training skips it for that step and evaluation
excludes and reports it. No image is ever replaced by another one, which would count it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.utils.data import default_collate

from googlenet.data.images import UnreadableImage


class Batch(NamedTuple):
    images: Tensor  # [N, C, S, S] (or [N, K, C, S, S] with multi-crop TTA); N may be 0
    targets: Tensor  # [N] int64 labels
    skipped: list[tuple[str, str]]  # (path, reason) of the images left out of this batch


def collate_skipping_unreadable(samples: Sequence[tuple[Any, int]]) -> Batch:
    """DataLoader's collate_fn for (image, label) samples: unreadable images are left out and listed."""
    readable = [sample for sample in samples if not isinstance(sample[0], UnreadableImage)]
    skipped = [(sample[0].path, sample[0].reason) for sample in samples if isinstance(sample[0], UnreadableImage)]
    if not readable:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), skipped)
    images, targets = default_collate(readable)
    return Batch(images, targets, skipped)


def as_batch(batch: Any) -> Batch:
    """A loader's batch as a `Batch`: loaders with torch's default collate give (images, targets)."""
    if isinstance(batch, Batch):
        return batch
    images, targets = batch
    return Batch(images, targets, [])
