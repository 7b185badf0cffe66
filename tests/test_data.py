"""The built-in data sets on small real files written here: IDX files, CIFAR archives (crafted ones refused); the
in-memory dataset; and, marked slow, the real Fashion-MNIST that Debian's dataset-fashion-mnist installs.
Image folders: test_data_folders.py; defaults chosen from the data: test_data_defaults.py."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from googlenet.data import BUILTIN_DATASETS, DATASET_STATS, InMemoryImageDataset, load_data
from googlenet.data.transforms import small_image_train_preset
from helpers import idx_bytes, image_tree, write_idx_set

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))


# --- IDX files --------------------------------------------------------------------------------------


def test_idx_set_from_gzipped_files_with_a_validation_split_carved_from_train(tmp_path):
    arrays = write_idx_set(tmp_path / "fm", train=40)
    splits = load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=0.25, seed=1)
    assert splits.name == "fashion-mnist" and splits.in_chans == 1
    assert splits.classes[:2] == ["T-shirt/top", "Trouser"] and len(splits.classes) == 10
    # 4 training images per class: one of each held out, seeded; the official test split kept as it is
    assert (len(splits.train), len(splits.validation), len(splits.validation_images)) == (30, 10, 10)
    assert (len(splits.test), len(splits.test_images)) == (6, 6)
    assert splits.validation_source == "10 images held out of the 40 training images (25% of each class, seed 1)"
    assert splits.preprocessing.input_size == splits.preprocessing.resize_size == 32
    assert splits.preprocessing.channel_order == "L" and splits.preprocessing.mean == DATASET_STATS["fashion-mnist"][0]

    train_images = arrays["train-images-idx3-ubyte"]
    held_out = [_index_of(train_images, np.asarray(image)) for image, _ in splits.validation_images]
    assert sorted(label for _, label in splits.validation_images) == list(range(10))
    resize = splits.train.transform.transforms[0]  # the in-memory train set holds its images resized already
    resized = resize(torch.from_numpy(train_images)[:, None]).numpy()[:, 0]
    kept = [_index_of(resized, image[0].numpy()) for image in splits.train.images]
    assert not set(held_out) & set(kept) and sorted(held_out + kept) == list(range(40))
    again = load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=0.25, seed=1)
    assert [_index_of(train_images, np.asarray(image)) for image, _ in again.validation_images] == held_out
    other = load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=0.25, seed=2)
    assert [_index_of(train_images, np.asarray(image)) for image, _ in other.validation_images] != held_out

    image, label = splits.train[3]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and type(image) is torch.Tensor
    assert type(label) is int
    pil, label = splits.test_images[4]
    assert pil.mode == "L" and pil.size == (28, 28) and label == 4
    assert np.array_equal(np.asarray(pil), arrays["t10k-images-idx3-ubyte"][4])
    # test is the eval preset on those images: 28 -> 32, normalised
    tensor, label = splits.test[4]
    expected = v2.functional.resize(torch.from_numpy(arrays["t10k-images-idx3-ubyte"][4])[None], [32])
    mean, std = DATASET_STATS["fashion-mnist"]
    torch.testing.assert_close(tensor, (expected.float() / 255 - mean[0]) / std[0])
    # and validation the same preset on the held-out training images
    torch.testing.assert_close(splits.validation[0][0], v2.functional.resize(
        torch.from_numpy(np.array(splits.validation_images[0][0]))[None], [32]).float().div(255).sub(mean[0])
        .div(std[0]))
    assert any(isinstance(step, v2.RandomHorizontalFlip) for step in splits.train.transform.transforms)
    assert "horizontal flips on: a mirrored garment, shoe or bag is the same class" in splits.decisions


def _index_of(images: np.ndarray, image: np.ndarray) -> int:
    [index] = np.flatnonzero((images == image).all(axis=(1, 2)))
    return int(index)


def test_val_fraction_0_trains_on_every_training_image(tmp_path):
    write_idx_set(tmp_path / "fm", train=20)
    splits = load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=0)
    assert splits.validation is None and splits.validation_images is None and len(splits.train) == 20
    assert splits.validation_source == "none: val_fraction=0, training on all 20 training images"
    with pytest.raises(ValueError, match="fashion-mnist has no validation split \\(none: val_fraction=0"):
        splits.split("validation")
    assert splits.split("test")[0] is splits.test
    with pytest.raises(ValueError, match="val_fraction must be at least 0 and below 1, got 1.0"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=1.0)


def test_a_training_split_smaller_than_a_few_batches_is_refused(tmp_path):
    write_idx_set(tmp_path / "fm", train=40)
    load_data("fashion-mnist", data_dir=tmp_path / "fm", val_fraction=0, batch_size=10)  # 4 batches: enough
    with pytest.raises(ValueError, match=r"fashion-mnist: the training split holds 30 images, fewer than 4 batches "
                                         r"of 10 \(an epoch would be 3 step\(s\)\); use a batch size of 7 or less"):
        load_data("fashion-mnist", data_dir=tmp_path / "fm", batch_size=10)


def test_idx_set_from_plain_files_without_flips_for_digits(tmp_path):
    write_idx_set(tmp_path / "digits", compress=False)
    splits = load_data("MNIST", data_dir=tmp_path / "digits", input_size=40)
    assert splits.name == "mnist" and splits.classes[0] == "0 - zero"
    assert splits.train[0][0].shape == (1, 40, 40) and splits.test[0][0].shape == (1, 40, 40)
    assert splits.validation[0][0].shape == (1, 40, 40)
    assert not any(isinstance(step, v2.RandomHorizontalFlip) for step in splits.train.transform.transforms)
    assert ("no horizontal flips: a mirrored digit is another symbol or none; pass hflip=True (--hflip) to enable"
            in splits.decisions)
    flipped = load_data("MNIST", data_dir=tmp_path / "digits", hflip=True)
    assert any(isinstance(step, v2.RandomHorizontalFlip) for step in flipped.train.transform.transforms)
    assert "horizontal flips on, as given" in flipped.decisions


def test_idx_set_in_torchvisions_layout_is_read_in_place(tmp_path):
    write_idx_set(tmp_path / "root" / "KMNIST" / "raw", compress=False)
    splits = load_data("kmnist", data_dir=tmp_path / "root", train_preset="paper", val_fraction=0)
    assert splits.classes[:3] == ["o", "ki", "su"] and len(splits.train) == 12
    assert not (tmp_path / "cache" / "idx").exists()  # nothing staged
    assert isinstance(splits.train.transform.transforms[0], v2.RandomChoice)  # the paper preset, as given:
    assert splits.train.transform.transforms[0].transforms[0].scale == (0.08, 1.0)  # the paper's crops
    assert splits.train[0][0].shape == (1, 32, 32) and "preset paper, as given" in splits.decisions


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
    # what a command-line user reads: one line, no Python call
    assert "\n" not in message and "load_data(" not in message and "download=True" not in message
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

    splits = load_data("cifar10", data_dir=tmp_path / "data", val_fraction=0)
    assert (len(splits.train), len(splits.test), splits.in_chans) == (20, 4, 3)
    assert splits.classes[:2] == ["class0", "class1"] and splits.preprocessing.channel_order == "RGB"
    assert splits.preprocessing.mean == DATASET_STATS["cifar10"][0]
    image, label = splits.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 1
    pil, label = splits.test_images[2]
    test_data, test_labels = written["test_batch"]
    assert pil.mode == "RGB" and label == test_labels[2]
    assert np.array_equal(np.asarray(pil), test_data[2].reshape(3, 32, 32).transpose(1, 2, 0))
    mean, std = DATASET_STATS["cifar10"]
    expected = (torch.from_numpy(test_data[2].reshape(3, 32, 32)).float() / 255 - torch.tensor(mean)[:, None, None]) \
        / torch.tensor(std)[:, None, None]
    torch.testing.assert_close(splits.test[2][0], expected)
    assert list((tmp_path / "cache" / "extracted").glob(f"*/{dataset_class.base_folder}/test_batch"))


def test_cifar100_from_its_extracted_folder(tmp_path, monkeypatch):
    dataset_class, _ = write_cifar(tmp_path / "data", hundred=True)
    accept_checksums(monkeypatch, dataset_class, tmp_path / "data" / dataset_class.base_folder)
    splits = load_data("cifar100", data_dir=tmp_path / "data", val_fraction=0)
    assert len(splits.classes) == 100 and (len(splits.train), len(splits.test)) == (4, 4)
    assert splits.test[0][0].shape == (3, 32, 32) and splits.test[0][1] == 1


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


def crafted_archive(path: Path, member_name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> Path:
    """A tar.gz holding cifar-10-batches-py/ and one member named `member_name` (a file, or a link to `link`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        folder = tarfile.TarInfo("cifar-10-batches-py")
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        member = tarfile.TarInfo(member_name)
        member.type = kind
        member.linkname = link
        payload = b"written outside" if kind == tarfile.REGTYPE else b""
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    return path


# Every refusal the same on every Python: tarfile's `data` filter (3.11.4 on; absent from Debian 12's 3.11.2)
# would extract the absolute member (as a relative one) and the link that stays inside.
@pytest.mark.parametrize("python_has_data_filter", [True, False], ids=["data-filter", "no-data-filter"])
@pytest.mark.parametrize("member, kind, link", [
    ("../escaped.txt", tarfile.REGTYPE, ""),
    ("cifar-10-batches-py/../../escaped.txt", tarfile.REGTYPE, ""),
    ("/ABSOLUTE/escaped.txt", tarfile.REGTYPE, ""),
    ("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"),
    ("cifar-10-batches-py/link", tarfile.SYMTYPE, "../../escaped.txt"),
    ("cifar-10-batches-py/link", tarfile.LNKTYPE, "../escaped.txt"),
    ("cifar-10-batches-py/link", tarfile.SYMTYPE, "data_batch_1"),
], ids=["dot-dot", "nested-dot-dot", "absolute", "symlink-out", "relative-symlink-out", "hard-link-out",
        "symlink-inside"])
def test_a_crafted_cifar_archive_is_refused(tmp_path, monkeypatch, python_has_data_filter, member, kind, link):
    if not python_has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    member = member.replace("/ABSOLUTE", str(tmp_path / "outside"))
    archive = crafted_archive(tmp_path / "data" / "cifar-10-python.tar.gz", member, kind, link)
    with pytest.raises(ValueError, match=f"{archive}: refused to extract: .*"):
        load_data("cifar10", data_dir=tmp_path / "data")
    assert not list(tmp_path.rglob("escaped*"))
    assert not list((tmp_path / "cache" / "extracted").glob("*/cifar-10-batches-py"))  # nothing half-extracted


# --- The real Fashion-MNIST -----------------------------------------------------------------------


@pytest.mark.slow
def test_real_fashion_mnist_from_the_debian_package():
    assert {f"{name}.gz" for name in IDX_NAMES} <= set(os.listdir(FASHION_MNIST_DIR))  # dataset-fashion-mnist
    splits = load_data("fashion-mnist")
    assert (len(splits.train), len(splits.validation), len(splits.test), len(splits.test_images)) == (
        54000, 6000, 10000, 10000)
    assert splits.validation_source == "6,000 images held out of the 60,000 training images (10% of each class, seed 0)"
    assert splits.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                              "Bag", "Ankle boot"]
    assert torch.bincount(splits.train.targets).tolist() == [5400] * 10
    assert torch.bincount(splits.validation.targets).tolist() == [600] * 10
    image, label = splits.train[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32
    pil, label = splits.test_images[0]
    assert pil.size == (28, 28) and pil.mode == "L" and label == 9
    batch = torch.stack([splits.test[index][0] for index in range(0, 10000, 10)])
    # DATASET_STATS normalise the real data to about zero mean, unit std
    assert abs(batch.mean().item()) < 0.03 and abs(batch.std().item() - 1) < 0.05
