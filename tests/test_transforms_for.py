"""googlenet.transforms_for: a model's evaluation transform as an object (from the model, its directory, its
run directory), the same tensor `googlenet evaluate` feeds the model, on a real picture."""

from pathlib import Path

import pytest
import torch
from PIL import Image

import googlenet
from googlenet.data.images import to_model_channels
from googlenet.models.preprocessing import Preprocessing
from googlenet.evaluation.evaluate import evaluate_model
from googlenet.weights.model_dir import save_pretrained
from helpers import real_scale_googlenet

IMAGE = Path(__file__).resolve().parents[1] / "docs" / "serve-page.png"  # a real picture, RGBA, 1280x2213


def what_evaluate_feeds(model, image):
    seen = []
    hook = model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    evaluate_model(model, [(image, 0)], model.preprocessing, model.config.num_classes)
    hook.remove()
    return seen[0][0]


@pytest.mark.parametrize("in_chans, preprocessing", [
    (3, Preprocessing(input_size=96, resize_size=110, interpolation="bicubic")),
    (1, Preprocessing(input_size=64, resize_size=72, mean=(0.5,), std=(0.25,), channel_order="L")),
])
def test_the_transform_is_what_evaluate_applies(tmp_path, in_chans, preprocessing):
    model = real_scale_googlenet("bn", num_classes=2, in_chans=in_chans)
    model.preprocessing = preprocessing
    directory = save_pretrained(model, tmp_path / "model")
    image = Image.open(IMAGE)
    fed = what_evaluate_feeds(model.eval(), image)
    assert fed.shape == (in_chans, preprocessing.input_size, preprocessing.input_size)
    for source in (model, directory, str(directory)):
        assert torch.equal(googlenet.transforms_for(source)(to_model_channels(image, in_chans)), fed)


def test_a_model_without_preprocessing_is_named(tmp_path):
    directory = save_pretrained(real_scale_googlenet("bn", num_classes=2), tmp_path / "model")
    with pytest.raises(ValueError, match=rf"{directory} records no preprocessing"):
        googlenet.transforms_for(directory)
