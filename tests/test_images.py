"""The one image open-and-convert (`load_image`), the up-front check with sizes and modes, and batches that
leave unreadable images out."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from googlenet.data import (
    Batch,
    UnreadableImage,
    collate_skipping_unreadable,
    inspect_images,
    load_image,
    read_image,
)
from googlenet.data.batches import as_batch
from helpers import save_image


def test_load_image_from_a_path_bytes_or_a_file_object_gives_the_same_pixels(tmp_path):
    path = save_image(tmp_path / "a.png", "RGBA", size=(20, 10))
    from_path = load_image(path, in_chans=3)
    from_bytes = load_image(path.read_bytes(), in_chans=3)
    with open(path, "rb") as file:
        from_file = load_image(file, in_chans=3)
    assert from_path.mode == "RGB" and from_path.size == (20, 10)
    assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))
    assert np.array_equal(np.asarray(from_path), np.asarray(from_file))
    gray = load_image(path, in_chans=1)
    assert gray.mode == "L" and gray.size == (20, 10)
    assert read_image(path).mode == "RGBA"  # read_image keeps the file's own mode
    with pytest.raises(Image.UnidentifiedImageError):
        load_image(b"not an image")


def test_inspect_images_gives_size_and_mode_or_the_problem(tmp_path):
    good = save_image(tmp_path / "good.jpg", "L", size=(31, 17))
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray(np.zeros((5, 7), np.uint16)).save(sixteen)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cut = save_image(tmp_path / "cut.png", size=(64, 64))
    cut.write_bytes(cut.read_bytes()[:300])
    found = inspect_images([str(good), str(sixteen), str(empty), str(cut)])
    assert (found[str(good)].problem, found[str(good)].size, found[str(good)].mode) == (None, (31, 17), "L")
    assert found[str(sixteen)].size == (7, 5) and found[str(sixteen)].mode.startswith("I;16")
    assert found[str(empty)].problem == "empty file"
    assert found[str(cut)].problem.startswith("damaged")


def test_collate_leaves_unreadable_images_out_and_names_them():
    samples = [(torch.full((1, 2, 2), float(index)), index) for index in range(4)]
    samples[1] = (UnreadableImage("b.png", "cannot decode the image (x)"), 1)
    batch = collate_skipping_unreadable(samples)
    assert isinstance(batch, Batch)
    images, targets, skipped = batch  # unpacks as the NamedTuple it is
    assert images[:, 0, 0, 0].tolist() == [0.0, 2.0, 3.0] and targets.tolist() == [0, 2, 3]
    assert skipped == [("b.png", "cannot decode the image (x)")]
    none = collate_skipping_unreadable([(UnreadableImage("a.png", "gone"), 0)])
    assert none.images.numel() == 0 and none.targets.dtype == torch.long and len(none.targets) == 0
    assert as_batch((images, targets)) == Batch(images, targets, [])
    assert as_batch(batch) is batch


def test_a_truncated_file_is_unreadable_only_when_decoded(tmp_path):
    jpeg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(jpeg, format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    with Image.open(cut) as image:  # the header alone opens
        assert image.size == (64, 64)
    with pytest.raises(OSError):
        load_image(cut)
    assert inspect_images([str(cut)])[str(cut)].problem.startswith("damaged")
