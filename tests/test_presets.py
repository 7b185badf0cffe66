"""The train/eval presets and the channel conversion, on small real images."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from googlenet.data.images import to_model_channels
from googlenet.models.preprocessing import Preprocessing
from googlenet.data.transforms import (
    BOUNDED_CROP_SCALE,
    TRAIN_PRESET_SUMMARIES,
    TRAIN_PRESETS,
    PAPER_INTERPOLATIONS,
    eval_preset,
    paper_train_preset,
    small_image_train_preset,
    train_preset_by_name,
)

GRAY = ((0.25,), (0.5,))
RGB = ((0.4, 0.5, 0.6), (0.2, 0.25, 0.3))


def random_image(mode: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    channels = {"L": 1, "RGB": 3}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels)


def outputs(transform, image, count=8):
    return [transform(image) for _ in range(count)]


def test_the_preset_names_are_the_command_line_choices():
    assert TRAIN_PRESETS == ("paper", "bounded", "small", "none") == tuple(TRAIN_PRESET_SUMMARIES)
    with pytest.raises(ValueError, match="unknown train preset 'flip'.*paper, bounded, small, none"):
        train_preset_by_name("flip", 32, *GRAY, in_chans=1)


@pytest.mark.parametrize("name, scale, words", [("paper", (0.08, 1.0), "8 to 100 percent of the area"),
                                                ("bounded", BOUNDED_CROP_SCALE, "25 to 100 percent of the area")])
def test_a_preset_name_means_one_crop_range_and_its_summary_says_which(name, scale, words):
    crops = train_preset_by_name(name, 64, *RGB).transforms[0].transforms
    assert {crop.scale for crop in crops} == {scale}
    assert words in TRAIN_PRESET_SUMMARIES[name]
    assert sum(words in summary for summary in TRAIN_PRESET_SUMMARIES.values()) == 1


def test_the_none_preset_only_resizes_and_normalises_and_is_deterministic():
    transform = train_preset_by_name("none", 32, *GRAY, in_chans=1, hflip=False)
    image = Image.fromarray((torch.rand(28, 28) * 255).byte().numpy(), "L")
    first, *others = outputs(transform, image)
    assert first.shape == (1, 32, 32) and all(torch.equal(first, other) for other in others)
    shifted = outputs(train_preset_by_name("small", 32, *GRAY, in_chans=1, hflip=False), image)
    assert any(not torch.equal(first, other) for other in shifted)  # the small preset does move the image


def test_small_preset_resizes_28_to_32_and_normalises():
    transform = small_image_train_preset(32, *GRAY, padding=0)
    constant = Image.new("L", (28, 28), 153)  # 153/255 = 0.6
    out = transform(constant)
    assert out.shape == (1, 32, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full((1, 32, 32), (0.6 - 0.25) / 0.5))
    tensor_out = transform(torch.full((1, 28, 28), 153, dtype=torch.uint8))  # tensors as well as PIL images
    torch.testing.assert_close(tensor_out, out)


def test_small_preset_shifts_with_zero_padding_and_flips():
    torch.manual_seed(0)
    image = random_image("L", (32, 32))
    results = outputs(small_image_train_preset(32, *GRAY, padding=4), image, 20)
    assert all(out.shape == (1, 32, 32) for out in results)
    assert len({out.sum().item() for out in results}) > 5  # random shifts and flips give different crops
    black = (0 - 0.25) / 0.5
    assert any((out[0, 0] == black).all() or (out[0, -1] == black).all() for out in results)  # padding is black
    unflipped = outputs(small_image_train_preset(32, *GRAY, padding=0, hflip=False), image, 5)
    assert all(torch.equal(out, unflipped[0]) for out in unflipped)
    flips = outputs(small_image_train_preset(32, *GRAY, padding=0), image, 20)
    assert {torch.equal(out, unflipped[0]) for out in flips} == {True, False}
    assert any(torch.equal(out, unflipped[0].flip(-1)) for out in flips)


def test_paper_preset_crops_8_to_100_percent_with_random_interpolation():
    transform = paper_train_preset(224, *RGB)
    choice = transform.transforms[0]
    assert isinstance(choice, v2.RandomChoice)
    assert {crop.interpolation.value for crop in choice.transforms} == set(PAPER_INTERPOLATIONS)
    assert {len(PAPER_INTERPOLATIONS)} == {len(choice.transforms)} == {3}
    for crop in choice.transforms:
        assert crop.scale == (0.08, 1.0)
        assert crop.ratio == pytest.approx((3 / 4, 4 / 3))
    jitter = next(step for step in transform.transforms if isinstance(step, v2.ColorJitter))
    assert jitter.brightness == pytest.approx((0.6, 1.4)) and jitter.saturation == pytest.approx((0.6, 1.4))
    assert jitter.hue is not None and jitter.hue[1] <= 0.1
    assert any(isinstance(step, v2.RandomHorizontalFlip) for step in transform.transforms)

    torch.manual_seed(0)
    results = outputs(transform, random_image("RGB", (300, 200)), 6)
    assert all(out.shape == (3, 224, 224) and out.dtype == torch.float32 for out in results)
    assert len({round(out.mean().item(), 5) for out in results}) == 6


def test_paper_preset_for_grayscale_has_no_colour_jitter():
    transform = paper_train_preset(32, *GRAY, in_chans=1, hflip=False)
    jitter = next(step for step in transform.transforms if isinstance(step, v2.ColorJitter))
    assert jitter.saturation is None and jitter.hue is None and jitter.brightness is not None
    assert not any(isinstance(step, v2.RandomHorizontalFlip) for step in transform.transforms)
    out = transform(torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8))
    assert out.shape == (1, 32, 32)


def test_presets_refuse_statistics_of_the_wrong_length():
    with pytest.raises(ValueError, match="need 3 values"):
        paper_train_preset(224, *GRAY, in_chans=3)
    with pytest.raises(ValueError, match="one value per channel"):
        small_image_train_preset(32, (0.5,), (0.5, 0.5))
    with pytest.raises(ValueError, match="1 .grayscale. or 3"):
        paper_train_preset(224, (0.5,) * 2, (0.5,) * 2, in_chans=2)


def test_eval_preset_resizes_the_shorter_side_then_centre_crops():
    preprocessing = Preprocessing(input_size=224, resize_size=256, mean=RGB[0], std=RGB[1])
    transform = eval_preset(preprocessing)
    # A 400x300 image: white frame 60 px wide around grey. Resized to 341x256 the frame is 51 px; the centre
    # crop cuts 16 px off the top and bottom, leaving 35 px of frame there, and 58 px off the sides, all of it.
    pixels = np.full((300, 400, 3), 255, dtype=np.uint8)
    pixels[60:-60, 60:-60] = 128
    out = transform(Image.fromarray(pixels))
    assert out.shape == (3, 224, 224)
    white = (1.0 - torch.tensor(RGB[0])) / torch.tensor(RGB[1])
    grey = (128 / 255 - torch.tensor(RGB[0])) / torch.tensor(RGB[1])
    torch.testing.assert_close(out[:, 30, 112], white)  # inside the frame, 35 px
    torch.testing.assert_close(out[:, 40, 112], grey)  # past it
    torch.testing.assert_close(out[:, 112, 0], grey)
    torch.testing.assert_close(out[:, 112, -1], grey)
    assert torch.equal(transform(Image.fromarray(pixels)), out)  # deterministic


def test_eval_preset_follows_the_recorded_interpolation_and_sizes():
    preprocessing = Preprocessing(input_size=32, resize_size=32, mean=GRAY[0], std=GRAY[1], interpolation="bicubic",
                                  channel_order="L")
    transform = eval_preset(preprocessing)
    assert transform.transforms[0].interpolation == v2.InterpolationMode.BICUBIC
    image = random_image("L", (28, 28))
    assert transform(image).shape == (1, 32, 32)
    torch.testing.assert_close(transform(torch.from_numpy(np.array(image))[None]), transform(image), atol=0.05, rtol=0)


@pytest.mark.parametrize("in_chans, mode", [(1, "L"), (3, "RGB")])
def test_to_model_channels_gives_the_model_mode(in_chans, mode):
    for source in (random_image("L", (8, 8)), random_image("RGB", (8, 8)), Image.new("1", (8, 8), 1),
                   Image.new("CMYK", (8, 8)), Image.new("RGBA", (8, 8)), Image.new("LA", (8, 8)),
                   Image.new("P", (8, 8)), Image.new("I;16", (8, 8)), Image.new("I", (8, 8)), Image.new("F", (8, 8)),
                   Image.new("YCbCr", (8, 8))):
        assert to_model_channels(source, in_chans).mode == mode, source.mode


def test_to_model_channels_keeps_gray_levels_and_colours():
    gray = random_image("L", (8, 8))
    rgb = np.asarray(to_model_channels(gray, 3))
    assert (rgb == np.asarray(gray)[..., None]).all()
    colour = random_image("RGB", (8, 8))
    assert to_model_channels(colour, 3) is colour
    assert np.array_equal(np.asarray(to_model_channels(colour, 1)), np.asarray(colour.convert("L")))


def test_transparent_pixels_become_black():
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)  # transparent, with colour underneath
    rgba[0, 1] = (10, 200, 30, 255)  # opaque
    rgba[0, 2] = (200, 100, 50, 128)  # half transparent
    out = np.asarray(to_model_channels(Image.fromarray(rgba, "RGBA"), 3)).astype(int)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 1].tolist() == [10, 200, 30]
    assert np.abs(out[0, 2] - np.array([100, 50, 25])).max() <= 1
    la = Image.fromarray(np.array([[[255, 0], [90, 255]]], dtype=np.uint8), "LA")
    assert np.asarray(to_model_channels(la, 1)).tolist() == [[0, 90]]


def test_palette_images_use_their_colours_and_transparency():
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 250, 20, 10, 5, 240, 6])
    palette.putpixel((0, 0), 1)
    palette.putpixel((1, 0), 2)
    assert np.asarray(to_model_channels(palette, 3)).tolist() == [[[250, 20, 10], [5, 240, 6]]]
    palette.info["transparency"] = 2
    assert np.asarray(to_model_channels(palette, 3)).tolist() == [[[250, 20, 10], [0, 0, 0]]]


def test_cmyk_is_converted_to_rgb():
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putpixel((0, 0), (0, 0, 0, 0))  # white
    cmyk.putpixel((1, 0), (255, 0, 0, 0))  # cyan
    assert np.asarray(to_model_channels(cmyk, 3)).tolist() == [[[255, 255, 255], [0, 255, 255]]]


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "sixteen.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as sixteen:
        assert sixteen.mode.startswith("I;16")
        # PIL's own convert("L") gives 0, 255, 255, 255
        assert np.asarray(to_model_channels(sixteen, 1)).tolist() == [[0, 1, 128, 255]]
        assert np.asarray(to_model_channels(sixteen, 3))[0, 2].tolist() == [128, 128, 128]


def test_32_bit_and_float_images_are_scaled_to_8_bits():
    as_16_bit = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))
    assert as_16_bit.mode == "I"
    assert np.asarray(to_model_channels(as_16_bit, 1)).tolist() == [[0, 128, 255]]
    as_8_bit = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))
    assert np.asarray(to_model_channels(as_8_bit, 1)).tolist() == [[0, 100, 255]]
    wide = Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32))
    assert np.asarray(to_model_channels(wide, 1)).tolist() == [[0, 128, 255]]
    fractions = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert np.asarray(to_model_channels(fractions, 1)).tolist() == [[0, 128, 255]]


def test_to_model_channels_refuses_other_channel_counts():
    with pytest.raises(ValueError, match="in_chans must be 1 .grayscale. or 3 .RGB., got 4"):
        to_model_channels(Image.new("RGB", (4, 4)), 4)


@pytest.mark.parametrize("preset", TRAIN_PRESETS)
def test_random_erase_blanks_a_rectangle_to_the_mean_only_when_asked(preset):
    torch.manual_seed(0)
    image = Image.new("L", (32, 32), 255)  # white: normalised far from 0, so an erased (0) patch stands out
    plain = outputs(train_preset_by_name(preset, 32, *GRAY, in_chans=1, hflip=False), image, 20)
    erased = outputs(train_preset_by_name(preset, 32, *GRAY, in_chans=1, hflip=False, random_erase=1.0), image, 20)
    assert not any((out == 0).any() for out in plain)
    for out in erased:
        patch = out == 0  # the data set's mean after normalisation
        share = patch.float().mean().item()
        assert 0.01 <= share <= 0.4, share  # 2%-33% of the area, give or take rounding to whole pixels
        rows, cols = patch[0].any(1).nonzero(), patch[0].any(0).nonzero()  # one solid rectangle
        assert patch[0, rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert len({tuple(out.eq(0).nonzero()[0].tolist()) for out in erased}) > 5  # at random places
    with pytest.raises(ValueError, match="random erase probability must be in \\[0, 1\\], got 1.5"):
        train_preset_by_name(preset, 32, *GRAY, in_chans=1, random_erase=1.5)
