"""Defaults chosen from the data (preset, crop scale, input size, flips, channels), each recorded with its reason,
on folders written here."""

import pytest
import torch
from torchvision.transforms import v2

from googlenet.data import load_data
from googlenet.data.defaults import SHORT_RUN_STEPS, choose_preprocessing
from googlenet.data.transforms import BOUNDED_CROP_SCALE, TRAIN_PRESET_SUMMARIES, eval_preset
from googlenet.models.preprocessing import IMAGENET_GRAY_MEAN, IMAGENET_MEAN
from googlenet.data.splits import LoadOptions
from helpers import image_tree, save_image


def steps(splits):
    return splits.train.transform.transforms


def has_step(splits, kind) -> bool:
    return any(isinstance(step, kind) for step in steps(splits))


def has_flips(splits) -> bool:
    return has_step(splits, v2.RandomHorizontalFlip)


def test_small_grayscale_images_get_the_small_preset_one_channel_and_no_flips(tmp_path):
    image_tree(tmp_path / "digits", classes=("one", "seven"), per_class=5, size=(28, 28), mode="L")
    splits = load_data(tmp_path / "digits", val_fraction=0.2)
    assert splits.in_chans == 1 and splits.preprocessing.channel_order == "L"
    assert splits.preprocessing.mean == IMAGENET_GRAY_MEAN
    assert (splits.preprocessing.input_size, splits.preprocessing.resize_size) == (32, 32)  # seen whole
    assert has_step(splits, v2.RandomCrop) and not has_flips(splits)  # the small preset
    assert splits.decisions == [
        "all 10 training images are grayscale: 1 input channel",
        "images are 28 px on their shorter side: preset small (shifts of up to 4 px; random-area crops would cut "
        "away most of an image this small)",
        "input size 32: the images' median shorter side (28 px) rounded up to a multiple of 8, at least 32",
        "no horizontal flips: not known to be mirror-safe (digits, characters and text are not); pass hflip=True "
        "(--hflip) to enable",
    ]
    image, _ = splits.train[0]
    assert image.shape == (1, 32, 32)
    pil, _ = splits.validation_images[0]
    assert pil.mode == "L"


def test_large_images_get_the_papers_crops_bounded_and_table_1s_input(tmp_path):
    image_tree(tmp_path / "photos" / "train", per_class=3, size=(300, 260))
    image_tree(tmp_path / "photos" / "val", per_class=1, size=(300, 260))
    splits = load_data(tmp_path / "photos", hflip=True)
    assert splits.in_chans == 3 and splits.preprocessing.mean == IMAGENET_MEAN
    assert (splits.preprocessing.input_size, splits.preprocessing.resize_size) == (224, 256)
    crops = steps(splits)[0]
    assert isinstance(crops, v2.RandomChoice) and {crop.scale for crop in crops.transforms} == {BOUNDED_CROP_SCALE}
    assert has_flips(splits)
    assert splits.decisions[0] == "6 of 6 training images are in colour: 3 input channels (RGB)"
    bounded = TRAIN_PRESET_SUMMARIES["bounded"]
    assert splits.decisions[1] == f"images are 260 px on their shorter side: preset bounded ({bounded})"
    assert "horizontal flips on, as given" in splits.decisions
    assert splits.train[0][0].shape == (3, 224, 224)
    as_paper = load_data(tmp_path / "photos", train_preset="paper", input_size=64)
    assert {crop.scale for crop in steps(as_paper)[0].transforms} == {(0.08, 1.0)}
    assert as_paper.decisions[1:3] == ["preset paper, as given", "no horizontal flips: not known to be mirror-safe "
                                       "(digits, characters and text are not); pass hflip=True (--hflip) to enable"]


@pytest.mark.parametrize("side, input_size, resize_size", [(28, 32, 32), (44, 48, 48), (64, 64, 64), (100, 80, 91),
                                                           (180, 152, 174), (256, 224, 256), (1000, 224, 256)])
def test_the_input_size_follows_the_images(side, input_size, resize_size):
    choice = choose_preprocessing([side, side + 4, side], 3, IMAGENET_MEAN, (0.2, 0.2, 0.2), LoadOptions())
    assert (choice.preprocessing.input_size, choice.preprocessing.resize_size) == (input_size, resize_size)
    given = choose_preprocessing([side], 3, IMAGENET_MEAN, (0.2, 0.2, 0.2), LoadOptions(input_size=40))
    assert given.preprocessing.input_size == 40 and not any("input size" in line for line in given.decisions)


def test_mixed_modes_make_an_rgb_folder_and_in_chans_can_be_forced(tmp_path):
    image_tree(tmp_path / "set", per_class=4, size=(30, 30), mode="L")
    save_image(tmp_path / "set" / "cat" / "colour.png", size=(30, 30))
    splits = load_data(tmp_path / "set")
    assert splits.in_chans == 3 and splits.decisions[0] == "1 of 9 training images are in colour: 3 input channels (RGB)"
    forced = load_data(tmp_path / "set", in_chans=1)
    assert forced.in_chans == 1 and forced.train[0][0].shape[0] == 1 and forced.decisions[0] == (
        "1 input channel(s), as given")
    with pytest.raises(ValueError, match="in_chans must be 1 \\(grayscale\\) or 3 \\(RGB\\), got 2"):
        load_data(tmp_path / "set", in_chans=2)


def test_the_decision_names_the_range_of_sizes_and_the_median_it_went_by():
    choice = choose_preprocessing([20, 300, 40, 36], 3, IMAGENET_MEAN, (0.2, 0.2, 0.2), LoadOptions())
    assert choice.decisions[0].startswith("images are 20 to 300 px on their shorter side (median 40): preset small")
    larger = choose_preprocessing([20, 300, 400, 360], 3, IMAGENET_MEAN, (0.2, 0.2, 0.2), LoadOptions())
    assert larger.decisions[0].startswith("images are 20 to 400 px on their shorter side (median 360): preset bounded")


def test_given_normalization_replaces_the_folders_and_follows_its_channels(tmp_path):
    image_tree(tmp_path / "colour", classes=("a", "b"), per_class=5, size=(28, 28), mode="RGB")
    image_tree(tmp_path / "grey", classes=("a", "b"), per_class=5, size=(28, 28), mode="L")
    colour = load_data(tmp_path / "colour", val_fraction=0.2, normalization=((0.5,), (0.25,), "the weights'"))
    assert colour.in_chans == 3 and colour.preprocessing.mean == (0.5, 0.5, 0.5)
    assert colour.preprocessing.std == (0.25, 0.25, 0.25)
    assert colour.decisions[1] == "normalised with mean (0.500, 0.500, 0.500), std (0.250, 0.250, 0.250): the weights'"
    normalize = [step for step in steps(colour) if isinstance(step, v2.Normalize)]
    assert [tuple(step.mean) for step in normalize] == [(0.5, 0.5, 0.5)]  # training normalises with it too
    grey = load_data(tmp_path / "grey", val_fraction=0.2,
                     normalization=((0.4, 0.5, 0.6), (0.2, 0.3, 0.4), "the weights'"))
    assert grey.in_chans == 1 and grey.preprocessing.mean == pytest.approx((0.5,))
    assert grey.preprocessing.std == pytest.approx((0.3,))
    with pytest.raises(ValueError, match="1 or 3 means"):
        load_data(tmp_path / "grey", normalization=((0.4, 0.5), (0.2, 0.3), "two"))


def test_a_run_too_short_for_augmentation_trains_without_it(tmp_path):
    image_tree(tmp_path / "digits", classes=("one", "seven"), per_class=40, size=(28, 28), mode="L")
    short = load_data(tmp_path / "digits", val_fraction=0.2, batch_size=8, epochs=6)  # 64 images: 6 x 8 steps
    assert short.decisions[1] == (
        "images are 28 px on their shorter side: preset none (a run of 48 steps is too short for augmentation to "
        "pay back the slower fitting it causes; pass --train-preset small to augment)")
    assert not any(isinstance(step, v2.RandomCrop) for step in steps(short))
    long = load_data(tmp_path / "digits", val_fraction=0.2, batch_size=8, epochs=200)  # 1,600 steps
    assert "preset small" in long.decisions[1] and has_step(long, v2.RandomCrop)
    asked = load_data(tmp_path / "digits", val_fraction=0.2, batch_size=8, epochs=6, train_preset="small")
    assert has_step(asked, v2.RandomCrop)
    # googlenet train's Fashion-MNIST default, 5 epochs of 210 steps of 256, is a short run; 7 of 128 is not.
    assert 5 * (54_000 // 256) < SHORT_RUN_STEPS <= 7 * (54_000 // 128)


def test_a_short_run_on_large_images_trains_on_what_evaluation_sees(tmp_path):
    image_tree(tmp_path / "photos", classes=("a", "b"), per_class=20, size=(300, 260))
    splits = load_data(tmp_path / "photos", val_fraction=0.2, batch_size=8, epochs=2)
    assert "preset none" in splits.decisions[1]
    resize = next(step for step in steps(splits) if isinstance(step, v2.Resize))
    assert resize.size == [splits.preprocessing.resize_size] and splits.preprocessing.resize_size == 256
    image, _ = splits.train[0]
    evaluated, _ = splits.validation[0]
    assert image.shape == evaluated.shape == (3, 224, 224)


def shifted(image, dy: int, dx: int, fill):
    """`image` moved down by dy and right by dx, the uncovered border set to `fill` (RandomCrop's padding)."""
    moved = fill.expand_as(image).clone()
    side = image.shape[-1]
    moved[:, max(0, dy):side + min(0, dy), max(0, dx):side + min(0, dx)] = \
        image[:, max(0, -dy):side - max(0, dy), max(0, -dx):side - max(0, dx)]
    return moved


def test_the_small_preset_on_larger_images_shifts_what_evaluation_sees(tmp_path):
    # 128 px images with the small preset: evaluation resizes them to 256/224 of the input side and keeps the
    # centre, so every training view must be that picture moved by at most the 4 px padding, not the whole image.
    image_tree(tmp_path / "photos", classes=("a", "b"), per_class=4, size=(128, 128))
    splits = load_data(tmp_path / "photos", val_fraction=0.5, input_size=32, train_preset="small", hflip=False)
    assert (splits.preprocessing.input_size, splits.preprocessing.resize_size) == (32, 37)
    image = splits.validation_images[0][0]
    evaluated = eval_preset(splits.preprocessing)(image)
    black = torch.tensor([-mean / std for mean, std in zip(splits.preprocessing.mean, splits.preprocessing.std)])
    black = black.view(3, 1, 1)
    torch.manual_seed(0)
    for _ in range(8):
        trained = splits.train.transform(image)
        assert any(torch.allclose(trained, shifted(evaluated, dy, dx, black), atol=1e-5)
                   for dy in range(-4, 5) for dx in range(-4, 5))
