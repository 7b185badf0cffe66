"""Test-time crop geometry: the paper's 144 crops and torchvision's 10."""

import pytest
import torch
from PIL import Image

from googlenet.evaluation.tta import MultiCrop, crop_function, crop_specs_144, crops_144, ten_crops
from googlenet.models.preprocessing import Preprocessing


def test_144_crops_for_a_landscape_image():
    specs = crop_specs_144(500, 375)
    assert len(specs) == 144 == 4 * 3 * 6 * 2
    assert sorted({spec.shorter_side for spec in specs}) == [256, 288, 320, 352]
    # At shorter side 256 the image is 341x256: left, centre and right squares.
    squares = sorted({spec.square for spec in specs if spec.shorter_side == 256})
    assert squares == [(0, 0, 256, 256), (42, 0, 256, 256), (85, 0, 256, 256)]
    crops = [spec.crop for spec in specs if spec.shorter_side == 352 and spec.square[0] == 0 and not spec.mirrored]
    assert crops == [(0, 0, 224, 224), (128, 0, 224, 224), (0, 128, 224, 224), (128, 128, 224, 224),
                     (64, 64, 224, 224), None]
    assert sum(spec.mirrored for spec in specs) == 72
    assert len(set(specs)) == 144


def test_144_crops_for_a_portrait_image_take_top_centre_bottom():
    specs = crop_specs_144(300, 400)
    squares = sorted({spec.square for spec in specs if spec.shorter_side == 320})
    resized_height = round(400 * 320 / 300)
    slack = resized_height - 320
    assert squares == [(0, 0, 320, 320), (0, slack // 2, 320, 320), (0, slack, 320, 320)]


def test_144_crops_scale_with_the_input_size():
    specs = crop_specs_144(28, 28, input_size=32)
    assert sorted({spec.shorter_side for spec in specs}) == [37, 41, 46, 50]
    assert all(spec.crop is None or spec.crop[2:] == (32, 32) for spec in specs)


def test_crops_144_tensor_and_mirrors():
    image = Image.fromarray((torch.rand(40, 60, 3) * 255).byte().numpy(), "RGB")
    preprocessing = Preprocessing(input_size=32, resize_size=36, mean=(0.5,) * 3, std=(0.25,) * 3)
    crops = crops_144(image, preprocessing)
    assert crops.shape == (144, 3, 32, 32)
    # Each crop is followed by its mirror image.
    torch.testing.assert_close(crops[1], crops[0].flip(-1))
    assert not torch.allclose(crops[0], crops[2])


def test_ten_crops():
    image = Image.fromarray((torch.rand(40, 40) * 255).byte().numpy(), "L")
    crops = ten_crops(image, Preprocessing(input_size=32, resize_size=36, mean=(0.5,), std=(0.5,)))
    assert crops.shape == (10, 1, 32, 32)
    # torchvision mirrors the whole image, then crops: its mirrored top-left is the top-right, mirrored.
    torch.testing.assert_close(crops[5], crops[1].flip(-1))
    torch.testing.assert_close(crops[9], crops[4].flip(-1))


def test_unknown_mode():
    with pytest.raises(ValueError, match="center, 10crop, 144crop"):
        crop_function("5crop", Preprocessing())


def distinct(crops: torch.Tensor) -> int:
    return len({tuple(crop.flatten().tolist()) for crop in crops})


def test_ten_crops_of_an_image_seen_whole_are_ten_different_views():
    image = Image.fromarray((torch.rand(28, 28) * 255).byte().numpy(), "L")
    whole = Preprocessing(input_size=32, resize_size=32, mean=(0.5,), std=(0.5,))  # small images: no crop
    multi_crop = crop_function("10crop", whole)
    assert multi_crop.resize_size == 37 and multi_crop.views == 10  # 32 x 256/224
    crops = multi_crop(image)
    assert crops.shape == (10, 1, 32, 32) and distinct(crops) == 10
    assert "resized to 37 px" in multi_crop.note
    cropped = Preprocessing(input_size=32, resize_size=36, mean=(0.5,), std=(0.5,))
    assert crop_function("10crop", cropped).resize_size == 36 and crop_function("10crop", cropped).note is None
    torch.testing.assert_close(crop_function("10crop", cropped)(image), ten_crops(image, cropped))


def test_no_mirrored_crops_where_the_data_set_is_not_mirror_safe():
    image = Image.fromarray((torch.rand(40, 60) * 255).byte().numpy(), "L")  # landscape: 3 different squares
    preprocessing = Preprocessing(input_size=32, resize_size=36, mean=(0.5,), std=(0.5,))
    five = crop_function("10crop", preprocessing, mirrors=False)
    crops = five(image)
    assert five.views == 5 and crops.shape == (5, 1, 32, 32) and distinct(crops) == 5
    torch.testing.assert_close(crops, ten_crops(image, preprocessing)[:5])  # the unmirrored half
    assert five.note == "5 crops without mirror images, as the data set is not mirror-safe"
    many = MultiCrop("144crop", preprocessing, mirrors=False)
    crops = many(image)
    assert many.views == 72 and crops.shape == (72, 1, 32, 32) and distinct(crops) == 72
    assert not any(spec.mirrored for spec in crop_specs_144(60, 40, 32, mirrors=False))
    torch.testing.assert_close(crops, crops_144(image, preprocessing)[::2])


@pytest.mark.parametrize("name, views, note", [
    ("mnist", 5, "cut from the image resized to 37 px, as the model's own resize (32 px) is its input size and would "
                 "give one view five times; 5 crops without mirror images, as the data set is not mirror-safe"),
    ("fashion-mnist", 10, "cut from the image resized to 37 px, as the model's own resize (32 px) is its input size "
                          "and would give one view five times"),
])
def test_evaluate_takes_the_mirrors_from_the_data_set_and_says_how_it_cropped(tmp_path, name, views, note):
    import googlenet
    from googlenet.data import load_data
    from googlenet.evaluation.evaluate import evaluate
    from helpers import write_idx_set

    write_idx_set(tmp_path / name, compress=False)
    splits = load_data(name, data_dir=tmp_path / name)
    assert splits.mirror_safe is (name == "fashion-mnist")
    model = googlenet.googlenet("torchvision", num_classes=10, in_chans=1).eval()
    model.preprocessing = splits.preprocessing
    result = evaluate(model, splits, tta="10crop", limit=4)
    assert (result.count, result.tta, result.views, result.tta_note) == (4, "10crop", views, note)
    centre = evaluate(model, splits, limit=4)
    assert (centre.views, centre.tta_note) == (1, None)
