"""Dataset examples: for each channel of each Inception branch, the images of a split that excite it most
(the highest mean activation over the positions, as `visualise` maximises it), found in one pass over the
split with a forward hook on every branch of every module at once, and cached beside the model.

The cache is a file in the model directory's `dataset_examples/`, named by the split and a hash of the
weights, the data set, the split's size, k and the input size: new weights make a new file (the old one is
removed), so the cache never answers for weights it was not computed with.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from googlenet.visualise.optimise import evaluating, normalisation
from googlenet.visualise.units import Unit, all_units, check_channels

# Examples kept per channel: a 3x3 tile on the sheets.
TOP_K = 9
BATCH_SIZE = 256
CACHE_FOLDER = "dataset_examples"
SPLITS = ("validation", "train", "test")


@dataclass
class DatasetExamples:
    """The k images of `split` that excite each channel most, best first, per branch ("inception4c.branch3")."""

    data: str  # the data set
    split: str  # "validation", "train" or "test"
    size: int  # images in the split
    k: int
    indices: dict[str, Tensor]  # branch -> [channels, k] positions in the split
    values: dict[str, Tensor]  # branch -> [channels, k] the mean activations
    dataset: Dataset | None = field(default=None, repr=False)  # the split (normalised images), for `images`
    normalisation: tuple[Tensor, Tensor] | None = field(default=None, repr=False)

    def _branch_channel(self, unit: Unit, channel: int) -> tuple[str, int]:
        check_channels(unit, [channel])
        if unit.branch is not None:
            return unit.name, channel
        for name in (f"{unit.module}.branch{number}" for number in range(1, 5)):
            width = self.indices[name].shape[0]
            if channel < width:
                return name, channel
            channel -= width
        raise AssertionError("check_channels let an out-of-range channel through")

    def top(self, unit: Unit | str, channel: int) -> list[tuple[int, float]]:
        """(index in the split, mean activation) of the k images exciting `channel` most, best first; a
        module's channels are its four branches' concatenated."""
        unit = _unit_named(unit, self.indices)
        name, channel = self._branch_channel(unit, channel)
        return list(zip(self.indices[name][channel].tolist(), self.values[name][channel].tolist()))

    def images(self, unit: Unit | str, channel: int) -> Tensor:
        """Those images [k, C, S, S] in [0, 1], as the model read them."""
        if self.dataset is None:
            raise ValueError("these examples carry no data set: pass the model directory or data= to dataset_examples")
        mean, std = self.normalisation
        pictures = [self.dataset[index][0] for index, _ in self.top(unit, channel)]
        return (torch.stack(pictures) * std[0] + mean[0]).clamp(0, 1)

    def payload(self) -> dict[str, Any]:
        return {"data": self.data, "split": self.split, "size": self.size, "k": self.k,
                "indices": self.indices, "values": self.values}


def _unit_named(unit: Unit | str, indices: dict[str, Tensor]) -> Unit:
    if isinstance(unit, Unit):
        return unit
    module, _, branch = unit.partition(".")
    widths = {name.split(".")[1]: table.shape[0] for name, table in indices.items() if name.split(".")[0] == module}
    if not widths or (branch and branch not in widths):
        raise ValueError(f"no examples for {unit!r}; the units: {', '.join(sorted({n.split('.')[0] for n in indices}))}"
                         " and their branch1 ... branch4")
    return Unit(module, branch or None, widths[branch] if branch else sum(widths.values()), unit)


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of every tensor of the model's state, by name: changes whenever any weight or statistic does."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def top_k_pass(model: nn.Module, dataset: Dataset, k: int = TOP_K, *, batch_size: int = BATCH_SIZE,
               progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(indices, values): for every branch, each channel's k highest mean activations over `dataset`
    (normalised images) and where they are, from one forward pass per batch with a hook on every branch.
    Ties keep the earlier image, so the answer does not depend on the batch size."""
    units = all_units(model)
    # A copy in channels-last layout: about 30% faster on oneDNN CPUs (6.8 against 8.6-10.7 s for 6,000 images
    # at 32 px, one thread), and the hooks never touch the caller's model, which may be answering requests.
    model = copy.deepcopy(model).eval().to(memory_format=torch.channels_last)
    best = {unit.name: (torch.empty(unit.channels, 0, dtype=torch.long), torch.empty(unit.channels, 0)) for unit in units}
    seen = 0
    means: dict[str, Tensor] = {}
    stages = dict(model.stages())
    hooks = [getattr(stages[unit.module], unit.branch).register_forward_hook(
        lambda _m, _i, output, name=unit.name: means.__setitem__(name, output.float().mean(dim=(2, 3)).cpu()))
        for unit in units]
    parameter = next(model.parameters())
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    try:
        with evaluating(model), torch.no_grad():
            for images, _labels in loader:
                model.forward_features(images.to(parameter.device, parameter.dtype, memory_format=torch.channels_last))
                positions = torch.arange(seen, seen + len(images))
                for name, (indices, values) in best.items():
                    joined_values = torch.cat([values, means[name].T], 1)
                    joined_indices = torch.cat([indices, positions.expand(len(indices), -1)], 1)
                    order = torch.sort(joined_values, dim=1, descending=True, stable=True).indices[:, :k]
                    best[name] = (joined_indices.gather(1, order), joined_values.gather(1, order))
                seen += len(images)
                if progress is not None:
                    progress(seen, len(dataset))
    finally:
        for hook in hooks:
            hook.remove()
    return {name: pair[0] for name, pair in best.items()}, {name: pair[1] for name, pair in best.items()}


def split_dataset(splits: Any, split: str) -> Dataset:
    """The split called `split` with the eval preset applied (the training images too: no augmentation)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split != "train":
        return splits.split(split)[0]
    from googlenet.data.in_memory import InMemoryImageDataset

    if not isinstance(splits.train, InMemoryImageDataset):
        raise ValueError(f"examples from the train split need a built-in data set; {splits.name} is a folder: "
                         "use split='validation'")
    return InMemoryImageDataset(splits.train.images, splits.train.targets, splits.preprocessing.transforms())


def dataset_examples(model: nn.Module | str | os.PathLike, *, split: str = "validation", k: int = TOP_K,
                     data: str | None = None, data_dir: str | None = None, cache: bool = True,
                     progress: Callable[[int, int], None] | None = None) -> DatasetExamples:
    """The k images of `split` exciting each channel of each Inception branch most (`DatasetExamples`).

    model: a model directory or a training run directory (its run's data set, split as the run split it;
        the answer is cached in the model directory), or a GoogLeNet with `data` given (not cached).
    split: "validation" (default), "train" (the training images without augmentation) or "test".
    progress: called with (images done, images in the split) after each batch.
    """
    from googlenet.evaluation.model_source import find_model, load_run_data
    from googlenet.weights.model_dir import from_pretrained

    source = None
    if isinstance(model, (str, os.PathLike)):
        source = find_model(model)
        model = from_pretrained(source.model_dir)
    input_size = model.preprocessing.input_size if model.preprocessing is not None else None
    splits = load_run_data(source, data, data_dir, input_size=input_size)
    dataset = split_dataset(splits, split)
    cache_file = None
    if cache and source is not None:
        key = hashlib.sha256(f"{weights_hash(model)} {splits.name} {split} {len(dataset)} {k} {input_size}".encode())
        cache_file = source.model_dir / CACHE_FOLDER / f"{split}-{key.hexdigest()[:20]}.pt"
    if cache_file is not None and cache_file.is_file():
        stored = torch.load(cache_file, weights_only=True)
        return DatasetExamples(**stored, dataset=dataset, normalisation=normalisation(model))
    indices, values = top_k_pass(model, dataset, k, progress=progress)
    found = DatasetExamples(splits.name, split, len(dataset), k, indices, values, dataset, normalisation(model))
    if cache_file is not None:
        _store(found, cache_file)
    return found


def _store(found: DatasetExamples, path: Path) -> None:
    from googlenet.atomic_files import torch_save

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{found.split}-*.pt"):  # computed with other weights: never read again
        stale.unlink()
    torch_save(found.payload(), path)
