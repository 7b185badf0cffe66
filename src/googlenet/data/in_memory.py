"""Images held in memory as one uint8 tensor (the built-in data sets), transformed per sample and per batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2

# A deterministic resize/centre-crop at the start of a transform is applied once to the whole data set
# when the result takes at most this much memory (Fashion-MNIST at 32x32: 61 MB; at 224x224: 3 GB).
PRECOMPUTE_LIMIT_BYTES = 1 << 30
_DETERMINISTIC_GEOMETRY = (v2.Resize, v2.CenterCrop)
_ELEMENTWISE = (v2.ToImage, v2.ToPureTensor, v2.ToDtype, v2.Normalize)


class InMemoryImageDataset(Dataset):
    """Images held in one uint8 tensor [N, C, H, W] with their labels; yields (transform(image), label).

    The samples are those of applying `transform` (a v2.Compose) to each image, but the work that is the
    same for every epoch or every sample is not repeated per sample (for the small preset on Fashion-MNIST,
    about 70 instead of 220 us per image on one CPU core): the transform's leading resize/centre-crop runs once
    on the whole set (within PRECOMPUTE_LIMIT_BYTES), and its trailing ToImage/ToDtype/Normalize once per
    batch, in `__getitems__`, which DataLoader calls with a batch's indices. Neither step draws random
    numbers, so seeded runs give the same samples as the plain per-sample transform.
    """

    def __init__(self, images: Tensor, targets: Tensor | Sequence[int], transform: v2.Compose | None = None) -> None:
        if images.dim() != 4 or images.dtype != torch.uint8:
            raise ValueError(f"images must be a uint8 tensor [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        targets = torch.as_tensor(targets, dtype=torch.long)
        if len(targets) != len(images):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
        steps = list(transform.transforms) if isinstance(transform, v2.Compose) else [transform] if transform else []
        head = _leading(steps, _DETERMINISTIC_GEOMETRY)
        tail_start = len(steps) - len(_leading(steps[::-1], _ELEMENTWISE))
        if head and len(images) and _precomputed_bytes(images, v2.Compose(head)) <= PRECOMPUTE_LIMIT_BYTES:
            images = _apply_in_chunks(v2.Compose(head), images)
            steps = steps[len(head):]
            tail_start -= len(head)
        self.images = images.contiguous()
        self.targets = targets
        self.transform = transform
        self.per_sample = v2.Compose(steps[:tail_start]) if steps[:tail_start] else None
        self.per_batch = v2.Compose(steps[tail_start:]) if steps[tail_start:] else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = self.images[index]
        if self.per_sample is not None:
            image = self.per_sample(image)
        if self.per_batch is not None:
            image = self.per_batch(image)
        return _plain(image), int(self.targets[index])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, int]]:
        images = [self.images[index] for index in indices]
        if self.per_sample is not None:
            images = [self.per_sample(image) for image in images]
        if self.per_batch is not None:
            if len({image.shape for image in images}) == 1:
                images = self.per_batch(torch.stack(images)).unbind(0)
            else:  # a per-sample step that outputs varying sizes
                images = [self.per_batch(image) for image in images]
        return list(zip(map(_plain, images), self.targets[list(indices)].tolist()))


def _leading(steps: list, kinds: tuple[type, ...]) -> list:
    count = 0
    while count < len(steps) and isinstance(steps[count], kinds):
        count += 1
    return steps[:count]


def _precomputed_bytes(images: Tensor, head: v2.Compose) -> int:
    return len(images) * _plain(head(images[:1])).numel() * images.element_size()


def _apply_in_chunks(transform: v2.Compose, images: Tensor, chunk: int = 4096) -> Tensor:
    # Chunks bound the resize's temporary float buffers; a batch resizes exactly like its images one by one.
    return torch.cat([_plain(transform(images[start:start + chunk])) for start in range(0, len(images), chunk)])


def _plain(image: Tensor) -> Tensor:
    return image.as_subclass(Tensor)  # a tv_tensors.Image would carry its wrapper into the model
