"""Images in: the train and eval presets built from the `Preprocessing` record a model carries
(`googlenet.models.preprocessing`), the built-in data sets and image folders, loaded and checked as
`DataSplits` by `load_data`.

    transforms.py     the train presets (paper, bounded, small, none) and the eval preset
    images.py         the one image open-and-convert (load_image) and the up-front file check
    batches.py        Batch(images, targets, skipped): unreadable images left out and named, never replaced
    defaults.py       defaults chosen from the data (preset, input size, flips, channels), with reasons
    load.py           load_data; splits.py: DataSplits and the seeded per-class split
    builtin.py        the built-in sets (idx.py: MNIST family files, cifar.py: CIFAR archives, cache.py)
    folders.py        image folders; in_memory.py: the in-memory dataset the built-in sets use

May import `googlenet.models` (never the layers above: weights, evaluation, training, inference, cli).
The names below are imported on first use, so `from googlenet.data import eval_preset` does not load
PIL, numpy or torchvision's data sets.
"""

from __future__ import annotations

from googlenet.lazy import lazy_attributes

# name -> the module that defines it (PEP 562)
_PUBLIC: dict[str, str] = {
    "TRAIN_PRESETS": "googlenet.data.transforms",
    "eval_preset": "googlenet.data.transforms",
    "train_preset_by_name": "googlenet.data.transforms",
    "paper_train_preset": "googlenet.data.transforms",
    "small_image_train_preset": "googlenet.data.transforms",
    "UnreadableImage": "googlenet.data.images",
    "ImageInfo": "googlenet.data.images",
    "inspect_images": "googlenet.data.images",
    "Batch": "googlenet.data.batches",
    "collate_skipping_unreadable": "googlenet.data.batches",
    "load_image": "googlenet.data.images",
    "read_image": "googlenet.data.images",
    "to_model_channels": "googlenet.data.images",
    "image_file_problem": "googlenet.data.images",
    "find_unreadable_images": "googlenet.data.images",
    "load_data": "googlenet.data.load",
    "DataSplits": "googlenet.data.splits",
    "SkippedImagesWarning": "googlenet.data.splits",
    "split_per_class": "googlenet.data.splits",
    "BUILTIN_DATASETS": "googlenet.data.builtin",
    "DATASET_STATS": "googlenet.data.builtin",
    "InMemoryImageDataset": "googlenet.data.in_memory",
    "VerifiedImageFolder": "googlenet.data.folders",
    "cache_dir": "googlenet.data.cache",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)
