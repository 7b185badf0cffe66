"""Image folders on small folders written here: layouts, checks, unreadable files, what each split holds."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from googlenet.data import (
    Batch,
    SkippedImagesWarning,
    UnreadableImage,
    collate_skipping_unreadable,
    image_file_problem,
    load_data,
    load_image,
    split_per_class,
)
from googlenet.models.preprocessing import IMAGENET_MEAN
from helpers import image_tree, save_image


def test_image_folder_with_train_val_and_test(tmp_path):
    image_tree(tmp_path / "set" / "train", per_class=4)
    image_tree(tmp_path / "set" / "val", per_class=2)
    image_tree(tmp_path / "set" / "test", per_class=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        splits = load_data(str(tmp_path / "set"))
    assert splits.name == str(tmp_path / "set") and splits.classes == ["cat", "dog"] and splits.in_chans == 3
    assert (len(splits.train), len(splits.validation), len(splits.validation_images)) == (8, 4, 4)
    assert (len(splits.test), len(splits.test_images)) == (6, 6)
    assert splits.validation_source == "the val/ folder: 4 images"
    assert [Path(path).parent.parent.name for path, _ in splits.validation.samples] == ["val"] * 4
    assert [Path(path).parent.parent.name for path, _ in splits.test.samples] == ["test"] * 6
    assert splits.preprocessing.mean == IMAGENET_MEAN and splits.image_side == 30
    image, label = splits.train[5]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 1
    pil, label = splits.validation_images[3]
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (40, 30) and label == 1
    torch.testing.assert_close(splits.validation[3][0], splits.validation[3][0])  # eval preset: deterministic
    assert splits.test[5][0].shape == (3, 32, 32) and splits.test_images[5][1] == 1


def test_train_and_test_folders_without_val_carve_the_validation_split_from_train(tmp_path):
    image_tree(tmp_path / "set" / "train", per_class=10)
    image_tree(tmp_path / "set" / "test", per_class=2)
    splits = load_data(tmp_path / "set", val_fraction=0.2)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (16, 4, 4)
    assert splits.validation_source == (f"4 images held out of the 20 training images in {tmp_path / 'set' / 'train'}"
                                        " (20% of each class, seed 0)")
    assert {Path(path).parent.parent.name for path, _ in splits.validation.samples} == {"train"}
    everything = load_data(tmp_path / "set", val_fraction=0)
    assert everything.validation is None and len(everything.train) == 20 and len(everything.test) == 4


def test_single_image_folder_is_split_per_class_with_the_seed(tmp_path):
    image_tree(tmp_path / "set", classes=("a", "b", "c"), per_class=10)
    save_image(tmp_path / "set" / "c" / "extra.png")
    splits = load_data(tmp_path / "set", val_fraction=0.2, seed=3)
    val_paths = [path for path, _ in splits.validation.samples]
    train_paths = [path for path, _ in splits.train.samples]
    assert not set(val_paths) & set(train_paths) and len(val_paths) + len(train_paths) == 31
    assert sorted(label for _, label in splits.validation.samples) == [0, 0, 1, 1, 2, 2]  # 20% of each class
    assert [path for path, _ in splits.validation_images.samples] == val_paths
    assert splits.test is None and splits.test_images is None
    again = load_data(tmp_path / "set", val_fraction=0.2, seed=3)
    assert [path for path, _ in again.validation.samples] == val_paths
    other = load_data(tmp_path / "set", val_fraction=0.2, seed=4)
    assert [path for path, _ in other.validation.samples] != val_paths


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
    images = [image for image, _ in untransformed_train] + [image for image, _ in splits.validation_images]
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
    kept = [Path(path) for path, _ in splits.train.samples + splits.validation.samples]
    assert len(kept) == 8 and {path.stem for path in kept} == {"0", "1", "2", "3"}
    filed = splits.unreadable["train"] + splits.unreadable["validation"]  # each under the split it fell in
    assert sorted(Path(path).name for path, _ in filed) == sorted(
        ["empty.jpg", "notes.txt", "text.png", "cut.jpg", "cut.png"])

    with pytest.raises(ValueError, match=r"found 5 file\(s\) in .* that are not readable images: .*empty.jpg \(empty "
                                         r"file\).*load without strict to skip them"):
        load_data(root, strict=True)


def test_an_unreadable_file_of_a_carved_validation_split_is_filed_and_reported_there(tmp_path):
    root = tmp_path / "set"
    image_tree(root, per_class=6, size=(24, 24))
    readable = load_data(root, val_fraction=0.5, seed=2)
    validation_file = Path(readable.validation.samples[0][0])  # a file the seeded split holds out
    validation_file.write_bytes(b"not an image any more")
    with pytest.warns(SkippedImagesWarning):
        damaged = load_data(root, val_fraction=0.5, seed=2)
    assert damaged.unreadable == {"train": [], "validation": [(str(validation_file), "not an image")]}
    # the split is drawn over every file: the damaged one moves no other file to the other split
    assert damaged.train.samples == readable.train.samples
    assert damaged.validation.samples == readable.validation.samples[1:]

    from googlenet.evaluation.evaluate import evaluate
    from googlenet.models.network import googlenet

    model = googlenet("bn", num_classes=2, aux_logits=False).eval()
    result = evaluate(model, damaged, split="validation")
    assert result.skipped == [{"path": str(validation_file), "reason": "not an image"}]


def test_a_class_whose_readable_images_all_fall_in_validation_is_refused(tmp_path):
    root = tmp_path / "set"
    image_tree(root, per_class=3, size=(24, 24))
    for index in range(1, 3):
        (root / "cat" / f"{index}{'.png' if index % 2 else '.jpg'}").write_bytes(b"")
    seeds = []
    for seed in range(20):  # a seed whose split holds out the one readable cat
        with pytest.warns(SkippedImagesWarning):
            try:
                load_data(root, val_fraction=0.5, seed=seed)
            except ValueError as error:
                seeds.append((seed, str(error)))
    assert seeds and all("readable images of cat all fall in the validation split" in message
                         for _, message in seeds)


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


def test_an_image_damaged_after_loading_is_never_replaced_by_another(tmp_path):
    image_tree(tmp_path / "set" / "train", per_class=3)
    image_tree(tmp_path / "set" / "val", per_class=1)
    splits = load_data(tmp_path / "set")
    strict_splits = load_data(tmp_path / "set", strict=True)
    broken_path, broken_label = splits.train.samples[1]
    Path(broken_path).write_bytes(b"\xff\xd8\xff\xe0 damaged since")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the dataset does not warn: the batch names it
        image, label = splits.train[1]
    assert isinstance(image, UnreadableImage) and image.path == broken_path and label == broken_label
    assert image.reason.startswith("cannot decode the image (")
    with pytest.raises(ValueError, match=f"{broken_path}: cannot decode the image"):
        strict_splits.train[1]

    batches = list(DataLoader(splits.train, batch_size=4, collate_fn=collate_skipping_unreadable))
    assert all(isinstance(batch, Batch) for batch in batches)
    assert [len(batch.targets) for batch in batches] == [3, 2]  # 6 images, one left out, none counted twice
    assert batches[0].images.shape == (3, 3, 32, 32) and batches[0].skipped == [(broken_path, image.reason)]
    assert batches[0].targets.tolist() == [splits.train.samples[index][1] for index in (0, 2, 3)]
    untransformed = list(DataLoader(splits.train.subset([1], None), batch_size=2, collate_fn=collate_skipping_unreadable))
    assert untransformed[0].images.shape == (0,) and len(untransformed[0].skipped) == 1  # a batch of none


def test_a_folder_with_one_class_is_refused(tmp_path):
    image_tree(tmp_path / "set", classes=("cat",), per_class=6)
    with pytest.raises(ValueError, match=r"holds one class folder \(cat\): a classifier needs at least two classes"):
        load_data(tmp_path / "set")


def test_a_folder_smaller_than_a_few_batches_is_refused(tmp_path):
    image_tree(tmp_path / "set", per_class=10)
    with pytest.raises(ValueError, match=r"the training split holds 18 images, fewer than 4 batches of 8 "
                                         r"\(an epoch would be 2 step\(s\)\); use a batch size of 4 or less"):
        load_data(tmp_path / "set", batch_size=8)
    assert len(load_data(tmp_path / "set", batch_size=4).train) == 18


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
    with pytest.raises(ValueError, match="val_fraction must be at least 0 and below 1"):
        load_data(tmp_path / "set", val_fraction=1.0)
    with pytest.raises(ValueError, match="holds out no image"):
        (tmp_path / "set" / "dog" / "0.jpg").unlink()
        (tmp_path / "set" / "cat" / "0.jpg").unlink()
        load_data(tmp_path / "set")
    shutil.rmtree(tmp_path / "set" / "cat")
    image_tree(tmp_path / "set" / "val", per_class=1)
    with pytest.raises(ValueError, match="has a val/ folder but no train/ folder"):
        load_data(tmp_path / "set")
    with pytest.raises(ValueError, match="is a file"):
        load_data(str(tmp_path / "set" / "dog" / "1.png"))
