"""The data layer on small real files written here: IDX files, CIFAR archives, image folders; and on the
real Fashion-MNIST that Debian's dataset-fashion-mnist installs."""

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from googlenet.data import (
    BUILTIN_DATASETS,
    DATASET_STATS,
    InMemoryImageDataset,
    SkippedImagesWarning,
    image_file_problem,
    load_data,
    load_image,
    split_per_class,
)
from googlenet.data.transforms import small_image_train_preset
from helpers import idx_bytes, write_idx_set

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))


# --- IDX files --------------------------------------------------------------------------------------


def test_idx_set_from_gzipped_files(tmp_path):
    arrays = write_idx_set(tmp_path / "fm")
    splits = load_data("fashion-mnist", data_dir=tmp_path / "fm")
    assert splits.name == "fashion-mnist" and splits.in_chans == 1
    assert splits.classes[:2] == ["T-shirt/top", "Trouser"] and len(splits.classes) == 10
    assert (len(splits.train), len(splits.val), len(splits.val_images)) == (12, 6, 6)
    assert splits.preprocessing.input_size == splits.preprocessing.resize_size == 32
    assert splits.preprocessing.channel_order == "L" and splits.preprocessing.mean == DATASET_STATS["fashion-mnist"][0]

    image, label = splits.train[3]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and type(image) is torch.Tensor
    assert label == 3 and type(label) is int
    pil, label = splits.val_images[4]
    assert pil.mode == "L" and pil.size == (28, 28) and label == 4
    assert np.array_equal(np.asarray(pil), arrays["t10k-images-idx3-ubyte"][4])
    # val is the eval preset on those images: 28 -> 32, normalised
    tensor, label = splits.val[4]
    expected = v2.functional.resize(torch.from_numpy(arrays["t10k-images-idx3-ubyte"][4])[None], [32])
    mean, std = DATASET_STATS["fashion-mnist"]
    torch.testing.assert_close(tensor, (expected.float() / 255 - mean[0]) / std[0])
    assert any(isinstance(step, v2.RandomHorizontalFlip) for step in splits.train.transform.transforms)


def test_idx_set_from_plain_files_without_flips_for_digits(tmp_path):
    write_idx_set(tmp_path / "digits", compress=False)
    splits = load_data("MNIST", data_dir=tmp_path / "digits", input_size=40)
    assert splits.name == "mnist" and splits.classes[0] == "0 - zero"
    assert splits.train[0][0].shape == (1, 40, 40) and splits.val[0][0].shape == (1, 40, 40)
    assert not any(isinstance(step, v2.RandomHorizontalFlip) for step in splits.train.transform.transforms)


def test_idx_set_in_torchvisions_layout_is_read_in_place(tmp_path):
    write_idx_set(tmp_path / "root" / "KMNIST" / "raw", compress=False)
    splits = load_data("kmnist", data_dir=tmp_path / "root", train_preset="paper")
    assert splits.classes[:3] == ["o", "ki", "su"] and len(splits.train) == 12
    assert not (tmp_path / "cache" / "idx").exists()  # nothing staged
    assert isinstance(splits.train.transform.transforms[0], v2.RandomChoice)  # the paper preset
    assert splits.train[0][0].shape == (1, 32, 32)


def test_gzipped_files_are_staged_once_in_the_cache(tmp_path):
    write_idx_set(tmp_path / "fm")
    load_data("fashion-mnist", data_dir=tmp_path / "fm")
    [staged] = (tmp_path / "cache" / "idx").glob("*/FashionMNIST/raw/train-images-idx3-ubyte")
    first = staged.stat().st_mtime_ns
    load_data("fashion-mnist", data_dir=tmp_path / "fm")
    assert staged.stat().st_mtime_ns == first


def test_idx_count_mismatch_is_named(tmp_path):
    write_idx_set(tmp_path / "fm")
    labels = tmp_path / "fm" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(11, dtype=np.uint8))))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz holds 12 images but "
                                         r".*train-labels-idx1-ubyte.gz holds 11 labels"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm")


def test_idx_bad_magic_is_named(tmp_path):
    write_idx_set(tmp_path / "fm", compress=False)
    images = tmp_path / "fm" / "t10k-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[2] = 0x09  # signed bytes: not what the MNIST family holds
    images.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: magic number 0x00000903, expected 0x00000803"):
        load_data("mnist", data_dir=tmp_path / "fm")


def test_idx_truncated_file_is_named(tmp_path):
    write_idx_set(tmp_path / "fm", compress=False)
    images = tmp_path / "fm" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: .*12x28x28.*truncated"):
        load_data("mnist", data_dir=tmp_path / "fm")


def test_idx_truncated_gzip_is_named(tmp_path):
    write_idx_set(tmp_path / "fm")
    labels = tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:15])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.gz: cannot be read as a gzip file"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm")


def test_idx_labels_out_of_range_are_refused(tmp_path):
    write_idx_set(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(6, 12, np.uint8))))
    with pytest.raises(ValueError, match="test labels .* run from 12 to 12; fashion-mnist has 10 classes"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm")


def test_missing_idx_files_say_how_to_get_them(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        load_data("fashion-mnist", data_dir=tmp_path / "empty")
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--data-dir DIR" in message
    assert "--download" in message and "train-images-idx3-ubyte.gz" in message and str(tmp_path / "empty") in message
    with pytest.raises(FileNotFoundError, match="(?s)mnist not found.*--data-dir DIR.*--download") as error:
        load_data("mnist")  # nothing in the (empty) cache, no system package
    assert "apt-get" not in str(error.value)


def test_some_idx_files_missing_are_named(tmp_path):
    write_idx_set(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="only some of the IDX files; missing: t10k-labels-idx1-ubyte"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm")


def test_unknown_data_lists_the_built_in_names(tmp_path):
    builtins = r"\(fashion-mnist, mnist, kmnist, cifar10, cifar100\)"
    with pytest.raises(ValueError, match=f"unknown data set 'imagenette': not a built-in data set {builtins}"):
        load_data("imagenette")
    assert BUILTIN_DATASETS == ("fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100")
    with pytest.raises(ValueError, match="unknown train preset 'fancy'"):
        load_data("fashion-mnist", train_preset="fancy")


# --- In-memory data sets --------------------------------------------------------------------------


def test_in_memory_dataset_gives_the_transforms_samples_per_item_and_per_batch():
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    targets = torch.arange(10)
    transform = small_image_train_preset(32, (0.3,), (0.4,))
    dataset = InMemoryImageDataset(images, targets, transform)
    # the deterministic resize ran once on the whole set; the elementwise tail runs once per batch
    assert dataset.images.shape == (10, 1, 32, 32)
    assert not any(isinstance(step, (v2.Resize, v2.ToDtype)) for step in dataset.per_sample.transforms)
    assert any(isinstance(step, v2.Normalize) for step in dataset.per_batch.transforms)

    torch.manual_seed(7)
    expected = [transform(images[index]) for index in (3, 1, 8)]
    torch.manual_seed(7)
    by_item = [dataset[index] for index in (3, 1, 8)]
    torch.manual_seed(7)
    by_batch = dataset.__getitems__([3, 1, 8])
    for want, (item, item_label), (batch_item, batch_label) in zip(expected, by_item, by_batch):
        torch.testing.assert_close(item, want.as_subclass(torch.Tensor), atol=1e-6, rtol=0)
        torch.testing.assert_close(batch_item, item, atol=1e-6, rtol=0)
        assert item_label == batch_label
    assert [label for _, label in by_batch] == [3, 1, 8]

    batch, labels = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch.shape == (4, 1, 32, 32) and labels.tolist() == [0, 1, 2, 3]


def test_in_memory_dataset_erases_each_image_of_a_batch_in_its_own_place():
    # RandomErasing after Normalize is not elementwise: run on a stacked batch it would blank the same box in
    # every image, so the dataset must keep it (and the normalisation before it) per sample.
    images = torch.full((16, 1, 28, 28), 255, dtype=torch.uint8)
    dataset = InMemoryImageDataset(images, torch.zeros(16), small_image_train_preset(32, (0.5,), (0.5,), padding=0,
                                                                                     random_erase=1.0))
    assert dataset.per_batch is None
    torch.manual_seed(0)
    batch = torch.stack([image for image, _ in dataset.__getitems__(list(range(16)))])
    erased = batch == 0
    assert erased.flatten(1).any(1).all()  # every image has an erased patch
    assert len({tuple(mask.nonzero()[0].tolist()) for mask in erased}) > 8  # in different places


def test_in_memory_dataset_keeps_a_large_resize_per_sample(monkeypatch):
    monkeypatch.setattr("googlenet.data.in_memory.PRECOMPUTE_LIMIT_BYTES", 1000)
    dataset = InMemoryImageDataset(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), [0, 1, 2, 3],
                                   small_image_train_preset(64, (0.5,), (0.5,)))
    assert dataset.images.shape == (4, 1, 28, 28)
    assert dataset[0][0].shape == (1, 64, 64) and dataset.__getitems__([0, 1])[1][0].shape == (1, 64, 64)


# --- CIFAR ----------------------------------------------------------------------------------------


def write_cifar(root: Path, hundred: bool = False) -> tuple[type, dict]:
    """A tiny CIFAR python folder (torchvision's file names and pickle format) under root/."""
    dataset_class = datasets.CIFAR100 if hundred else datasets.CIFAR10
    folder = root / dataset_class.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    label_key = "fine_labels" if hundred else "labels"
    written = {}
    for name, _ in dataset_class.train_list + dataset_class.test_list:
        data = rng.integers(0, 256, (4, 3 * 32 * 32), dtype=np.uint8)
        labels = [1, 0, 3, 2]
        written[name] = (data, labels)
        with open(folder / name, "wb") as file:
            pickle.dump({"data": data, label_key: labels}, file)
    names = [f"class{index}" for index in range(100 if hundred else 10)]
    with open(folder / dataset_class.meta["filename"], "wb") as file:
        pickle.dump({dataset_class.meta["key"]: names}, file)
    return dataset_class, written


def accept_checksums(monkeypatch, dataset_class, folder: Path) -> None:
    """Make torchvision's md5 check accept the files written here (it knows only the real ones)."""
    def md5(name):
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    monkeypatch.setattr(dataset_class, "train_list", [[name, md5(name)] for name, _ in dataset_class.train_list])
    monkeypatch.setattr(dataset_class, "test_list", [[name, md5(name)] for name, _ in dataset_class.test_list])
    monkeypatch.setattr(dataset_class, "meta", {**dataset_class.meta, "md5": md5(dataset_class.meta["filename"])})


def test_cifar10_from_its_python_archive(tmp_path, monkeypatch):
    dataset_class, written = write_cifar(tmp_path / "build")
    accept_checksums(monkeypatch, dataset_class, tmp_path / "build" / dataset_class.base_folder)
    (tmp_path / "data").mkdir()
    with tarfile.open(tmp_path / "data" / "cifar-10-python.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "build" / dataset_class.base_folder, arcname=dataset_class.base_folder)

    splits = load_data("cifar10", data_dir=tmp_path / "data")
    assert (len(splits.train), len(splits.val), splits.in_chans) == (20, 4, 3)
    assert splits.classes[:2] == ["class0", "class1"] and splits.preprocessing.channel_order == "RGB"
    assert splits.preprocessing.mean == DATASET_STATS["cifar10"][0]
    image, label = splits.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 1
    pil, label = splits.val_images[2]
    test_data, test_labels = written["test_batch"]
    assert pil.mode == "RGB" and label == test_labels[2]
    assert np.array_equal(np.asarray(pil), test_data[2].reshape(3, 32, 32).transpose(1, 2, 0))
    mean, std = DATASET_STATS["cifar10"]
    expected = (torch.from_numpy(test_data[2].reshape(3, 32, 32)).float() / 255 - torch.tensor(mean)[:, None, None]) \
        / torch.tensor(std)[:, None, None]
    torch.testing.assert_close(splits.val[2][0], expected)
    assert list((tmp_path / "cache" / "extracted").glob(f"*/{dataset_class.base_folder}/test_batch"))


def test_cifar100_from_its_extracted_folder(tmp_path, monkeypatch):
    dataset_class, _ = write_cifar(tmp_path / "data", hundred=True)
    accept_checksums(monkeypatch, dataset_class, tmp_path / "data" / dataset_class.base_folder)
    splits = load_data("cifar100", data_dir=tmp_path / "data")
    assert len(splits.classes) == 100 and (len(splits.train), len(splits.val)) == (4, 4)
    assert splits.val[0][0].shape == (3, 32, 32) and splits.val[0][1] == 1


def test_cifar_damaged_files_and_missing_files_are_reported(tmp_path):
    write_cifar(tmp_path / "data")  # checksums differ from the real files: torchvision calls this corrupted
    with pytest.raises(ValueError, match="cifar10 in .*damaged"):
        load_data("cifar10", data_dir=tmp_path / "data")
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match="cifar-100-python.tar.gz or its extracted cifar-100-python/"):
        load_data("cifar100", data_dir=tmp_path / "none")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz: cannot be extracted"):
        load_data("cifar10", data_dir=tmp_path / "bad")


# --- Image folders --------------------------------------------------------------------------------


def save_image(path: Path, mode: str = "RGB", size=(40, 30), seed: int = 0, **save_options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, **save_options)
    return path


def image_tree(root: Path, classes=("cat", "dog"), per_class: int = 5) -> None:
    for class_index, name in enumerate(classes):
        for index in range(per_class):
            suffix = ".png" if index % 2 else ".jpg"
            save_image(root / name / f"{index}{suffix}", seed=class_index * 100 + index)


def test_image_folder_with_train_and_val(tmp_path):
    image_tree(tmp_path / "set" / "train", per_class=4)
    image_tree(tmp_path / "set" / "val", per_class=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        splits = load_data(str(tmp_path / "set"))
    assert splits.name == str(tmp_path / "set") and splits.classes == ["cat", "dog"] and splits.in_chans == 3
    assert (len(splits.train), len(splits.val), len(splits.val_images)) == (8, 4, 4)
    assert splits.preprocessing.input_size == 224 and splits.preprocessing.resize_size == 256
    assert splits.preprocessing.mean == DATASET_STATS["imagenet"][0]
    image, label = splits.train[5]
    assert image.shape == (3, 224, 224) and image.dtype == torch.float32 and label == 1
    assert isinstance(splits.train.transform.transforms[0], v2.RandomChoice)  # "auto" is the paper preset
    pil, label = splits.val_images[3]
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (40, 30) and label == 1
    torch.testing.assert_close(splits.val[3][0], splits.val[3][0])  # eval preset: deterministic
    small = load_data(str(tmp_path / "set"), input_size=64, train_preset="small")
    assert small.train[0][0].shape == (3, 64, 64) and small.preprocessing.resize_size == 73


def test_single_image_folder_is_split_per_class_with_the_seed(tmp_path):
    image_tree(tmp_path / "set", classes=("a", "b", "c"), per_class=10)
    save_image(tmp_path / "set" / "c" / "extra.png")
    splits = load_data(tmp_path / "set", val_fraction=0.2, seed=3)
    val_paths = [path for path, _ in splits.val.samples]
    train_paths = [path for path, _ in splits.train.samples]
    assert not set(val_paths) & set(train_paths) and len(val_paths) + len(train_paths) == 31
    assert sorted(label for _, label in splits.val.samples) == [0, 0, 1, 1, 2, 2]  # 20% of each class
    assert [path for path, _ in splits.val_images.samples] == val_paths
    again = load_data(tmp_path / "set", val_fraction=0.2, seed=3)
    assert [path for path, _ in again.val.samples] == val_paths
    other = load_data(tmp_path / "set", val_fraction=0.2, seed=4)
    assert [path for path, _ in other.val.samples] != val_paths


def test_split_per_class_keeps_one_image_per_class_in_train():
    train, val = split_per_class([0] * 10 + [1] * 2 + [2], val_fraction=0.5, seed=0)
    assert sorted(train + val) == list(range(13))
    assert [sum(1 for index in val if index < 10), sum(1 for index in val if 10 <= index < 12)] == [5, 1]
    assert 12 in train  # a class of one image stays in train


def test_image_modes_are_converted_to_rgb(tmp_path):
    root = tmp_path / "set"
    save_image(root / "a" / "gray.png", "L")
    save_image(root / "a" / "rgba.png", "RGBA")
    save_image(root / "a" / "palette.png", "P")
    save_image(root / "a" / "cmyk.jpg", "CMYK")
    save_image(root / "b" / "la.png", "LA")
    save_image(root / "b" / "bits.bmp", "1")
    Image.fromarray(np.arange(30 * 40, dtype=np.uint16).reshape(30, 40) * 50).save(root / "b" / "sixteen.png")
    save_image(root / "b" / "photo.webp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits = load_data(root, val_fraction=0.5, input_size=32)
    untransformed_train = splits.train.subset(range(len(splits.train)), None)
    images = [image for image, _ in untransformed_train] + [image for image, _ in splits.val_images]
    assert len(images) == 8 and {image.mode for image in images} == {"RGB"}
    assert all(splits.train[index][0].shape == (3, 32, 32) for index in range(len(splits.train)))
    # the 16-bit image scaled, not clipped: its top-right pixel is 39 * 50 = 1950 -> 1950 / 65535 * 255 = 8
    assert load_image(root / "b" / "sixteen.png").getpixel((39, 0)) == (8, 8, 8)


def test_unreadable_files_are_skipped_with_one_warning(tmp_path):
    root = tmp_path / "set"
    image_tree(root, per_class=4)
    (root / "cat" / "empty.jpg").write_bytes(b"")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "text.png").write_text("not a png either")
    jpeg = save_image(root / "dog" / "cut.jpg", size=(64, 64)).read_bytes()
    (root / "dog" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = save_image(root / "dog" / "cut.png", size=(64, 64)).read_bytes()
    (root / "dog" / "cut.png").write_bytes(png[: len(png) // 2])
    (root / "dog" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: ignored, not reported
    save_image(root / "dog" / ".ipynb_checkpoints" / "0-checkpoint.jpg")

    with pytest.warns(SkippedImagesWarning) as caught:
        splits = load_data(root, val_fraction=0.25)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"skipping 5 file(s) in {root} that are not readable images: ")
    for name, problem in (("empty.jpg", "empty file"), ("notes.txt", "not an image"), ("text.png", "not an image"),
                          ("cut.jpg", "damaged"), ("cut.png", "damaged")):
        assert f"{name} ({problem}" in message
    assert ".DS_Store" not in message and "checkpoint" not in message
    kept = [Path(path) for path, _ in splits.train.samples + splits.val.samples]
    assert len(kept) == 8 and {path.stem for path in kept} == {"0", "1", "2", "3"}

    with pytest.raises(ValueError, match=r"found 5 file\(s\) in .* that are not readable images: .*empty.jpg \(empty "
                                         r"file\).*load without strict to skip them"):
        load_data(root, strict=True)


def test_the_warning_names_the_first_five_and_counts_the_rest(tmp_path):
    image_tree(tmp_path / "set", per_class=2)
    for index in range(8):
        (tmp_path / "set" / "cat" / f"broken{index}.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.warns(SkippedImagesWarning, match=r"skipping 8 file\(s\).*broken4.jpg.*; and 3 more$"):
        load_data(tmp_path / "set")


def test_image_file_problem_accepts_good_images_of_any_format(tmp_path):
    for name in ("a.jpg", "a.png", "a.bmp", "a.gif", "a.webp", "a.tiff", "a.ppm"):
        assert image_file_problem(save_image(tmp_path / name)) is None, name
    # data after a JPEG's end marker is decoded to decide, and is fine
    jpeg = save_image(tmp_path / "trailer.jpg")
    jpeg.write_bytes(jpeg.read_bytes() + b"trailing thumbnail data")
    assert image_file_problem(jpeg) is None
    bmp = save_image(tmp_path / "cut.bmp")
    bmp.write_bytes(bmp.read_bytes()[:-50])
    assert image_file_problem(bmp).startswith("damaged")


def test_an_image_damaged_after_loading_is_replaced_or_named(tmp_path):
    image_tree(tmp_path / "set" / "train", per_class=3)
    image_tree(tmp_path / "set" / "val", per_class=1)
    splits = load_data(tmp_path / "set")
    strict_splits = load_data(tmp_path / "set", strict=True)
    broken_path, _ = splits.train.samples[1]
    Path(broken_path).write_bytes(b"\xff\xd8\xff\xe0 damaged since")
    with pytest.warns(SkippedImagesWarning, match=f"{broken_path}: cannot decode the image"):
        image, label = splits.train[1]
    assert image.shape == (3, 224, 224) and label == splits.train.samples[2][1]  # the next sample
    with pytest.raises(ValueError, match=f"{broken_path}: cannot decode the image"):
        strict_splits.train[1]


def test_empty_class_folders_are_named(tmp_path):
    image_tree(tmp_path / "set", per_class=2)
    (tmp_path / "set" / "zebra").mkdir()
    (tmp_path / "set" / "yak").mkdir()
    (tmp_path / "set" / "yak" / "broken.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"2 class folder\(s\) hold no readable image: .*yak, .*zebra"), \
            pytest.warns(SkippedImagesWarning):
        load_data(tmp_path / "set")


def test_no_images_at_all_is_refused(tmp_path):
    (tmp_path / "flat").mkdir()
    save_image(tmp_path / "flat" / "loose.png")
    with pytest.raises(ValueError, match="no class folders in .*flat: expected .*flat/<class>/<images>"):
        load_data(tmp_path / "flat")
    (tmp_path / "hollow" / "a").mkdir(parents=True)
    (tmp_path / "hollow" / "b").mkdir()
    with pytest.raises(ValueError, match="no readable images in .*hollow"):
        load_data(tmp_path / "hollow")


def test_train_and_val_with_different_classes_are_refused(tmp_path):
    image_tree(tmp_path / "set" / "train", classes=("cat", "dog", "emu"), per_class=1)
    image_tree(tmp_path / "set" / "val", classes=("cat", "dog", "fox"), per_class=1)
    with pytest.raises(ValueError, match="only in train: emu; only in val: fox"):
        load_data(tmp_path / "set")


def test_image_folder_arguments_are_checked(tmp_path):
    image_tree(tmp_path / "set", per_class=2)
    with pytest.raises(ValueError, match="data_dir is for the built-in data sets"):
        load_data(tmp_path / "set", data_dir=tmp_path)
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        load_data(tmp_path / "set", val_fraction=1.0)
    with pytest.raises(ValueError, match="holds out no image"):
        shutil.rmtree(tmp_path / "set" / "dog")
        (tmp_path / "set" / "cat" / "0.jpg").unlink()
        load_data(tmp_path / "set")
    with pytest.raises(ValueError, match="is a file"):
        load_data(str(tmp_path / "set" / "cat" / "1.png"))


# --- The real Fashion-MNIST -----------------------------------------------------------------------


@pytest.mark.slow
def test_real_fashion_mnist_from_the_debian_package():
    assert {f"{name}.gz" for name in IDX_NAMES} <= set(os.listdir(FASHION_MNIST_DIR))  # dataset-fashion-mnist
    splits = load_data("fashion-mnist")
    assert (len(splits.train), len(splits.val), len(splits.val_images)) == (60000, 10000, 10000)
    assert splits.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                              "Bag", "Ankle boot"]
    assert torch.bincount(splits.train.targets).tolist() == [6000] * 10
    image, label = splits.train[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and label == 9  # an ankle boot
    pil, label = splits.val_images[0]
    assert pil.size == (28, 28) and pil.mode == "L" and label == 9
    batch = torch.stack([splits.val[index][0] for index in range(0, 10000, 10)])
    # DATASET_STATS normalise the real data to about zero mean, unit std
    assert abs(batch.mean().item()) < 0.03 and abs(batch.std().item() - 1) < 0.05
