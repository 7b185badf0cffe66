"""A model built in Python carries no preprocessing: predict, explain, serve and timm's pretrained_cfg all
use the one default for its own channels (`preprocessing_of`), so a grayscale model takes a grayscale image."""

import io
import warnings

import numpy as np
import pytest
import torch
from helpers import real_scale_googlenet
from PIL import Image

from googlenet.data.transforms import eval_preset
from googlenet.models.preprocessing import IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD, default_preprocessing, preprocessing_of

CLASSES = [f"class{index}" for index in range(10)]


@pytest.fixture(scope="module")
def gray_model():
    model = real_scale_googlenet("bn", num_classes=10, in_chans=1, aux_logits=False).eval()
    model.class_names = list(CLASSES)
    assert model.preprocessing is None
    return model


@pytest.fixture(scope="module")
def gray_png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (160, 192), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def expected(gray_model, gray_png) -> torch.Tensor:
    """The model's probabilities for the image through ImageNet's grayscale preprocessing, computed here."""
    with Image.open(io.BytesIO(gray_png)) as image:
        batch = eval_preset(default_preprocessing(1))(image).unsqueeze(0)
    with torch.no_grad():
        probabilities = torch.softmax(gray_model(batch), dim=1)[0]
    assert probabilities.max() - probabilities.min() > 1e-3  # the classes differ: the comparisons can fail
    return probabilities


def test_the_default_follows_the_models_channels(gray_model):
    gray = preprocessing_of(gray_model)
    assert (gray.mean, gray.std, gray.channel_order) == (IMAGENET_GRAY_MEAN, IMAGENET_GRAY_STD, "L")
    assert preprocessing_of(real_scale_googlenet("bn", num_classes=10, aux_logits=False)).channel_order == "RGB"
    cfg = gray_model.pretrained_cfg
    assert (cfg["input_size"], cfg["mean"], cfg["std"]) == ((1, gray.input_size, gray.input_size), gray.mean, gray.std)


def predicted_by_predict(model, data: bytes, tmp_path) -> dict[str, float]:
    from googlenet.evaluation.predict import predict

    path = tmp_path / "gray.png"
    path.write_bytes(data)
    entry = predict(model, [path], top_k=3).predictions[0]
    assert entry.error is None, entry.error
    return {item["class_name"]: item["probability"] for item in entry.top_k}


def predicted_by_explain(model, data: bytes, tmp_path) -> dict[str, float]:
    from googlenet.explain.attribution import explain

    result = explain(model, data)
    return {result.class_name: result.probability}


def predicted_by_serve(model, data: bytes, tmp_path) -> dict[str, float]:
    pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")
    from fastapi.testclient import TestClient
    from test_serve import wait_until_ready

    from googlenet.serving.app import create_app
    from googlenet.serving.options import ServeOptions

    with TestClient(create_app(model, name="gray", options=ServeOptions(backend="eager"))) as client:
        wait_until_ready(client)
        answer = client.post("/v1/predict?top_k=3", content=data, headers={"content-type": "image/png"})
    assert answer.status_code == 200, answer.text
    return {item["class_name"]: item["probability"] for item in answer.json()["predictions"][0]["top_k"]}


@pytest.mark.parametrize("entry_point", [predicted_by_predict, predicted_by_explain, predicted_by_serve],
                         ids=["predict", "explain", "serve"])
def test_a_grayscale_image_into_a_grayscale_model_without_preprocessing(entry_point, gray_model, gray_png, expected,
                                                                       tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing converted: the image already has the model's one channel
        answered = entry_point(gray_model, gray_png, tmp_path)
    for name, probability in answered.items():
        assert probability == pytest.approx(float(expected[CLASSES.index(name)]), rel=1e-4, abs=1e-6)
    assert max(answered, key=answered.get) == CLASSES[int(expected.argmax())]
