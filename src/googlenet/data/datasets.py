"""The names `googlenet.data.datasets` held before the data layer was split by concern (load.py, builtin.py,
idx.py, cifar.py, folders.py, in_memory.py, images.py); import them from `googlenet.data` instead."""

from googlenet.data.builtin import BUILTIN_DATASETS, DATASET_STATS, BuiltinDataset
from googlenet.data.cache import cache_dir
from googlenet.data.folders import VerifiedImageFolder, class_folders
from googlenet.data.images import find_unreadable_images, image_file_problem, load_image
from googlenet.data.in_memory import PRECOMPUTE_LIMIT_BYTES, InMemoryImageDataset
from googlenet.data.load import load_data
from googlenet.data.splits import DataSplits, SkippedImagesWarning, split_per_class

__all__ = [
    "BUILTIN_DATASETS", "DATASET_STATS", "PRECOMPUTE_LIMIT_BYTES", "BuiltinDataset", "DataSplits",
    "InMemoryImageDataset", "SkippedImagesWarning", "VerifiedImageFolder", "cache_dir", "class_folders",
    "find_unreadable_images", "image_file_problem", "load_data", "load_image", "split_per_class",
]
