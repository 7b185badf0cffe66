"""`predict`: one entry per input, failures included and named, the others still predicted; the report names
the model, its weights and epoch; images that do not fit the model are said to, once."""

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from googlenet.data import eval_preset, load_image
from googlenet.evaluation.input_fit import InputFitWarning
from googlenet.evaluation.predict import PredictionReport, predict
from helpers import save_image, write_model_dir, write_run_dir

CLASSES = ["cat", "dog", "emu"]


def expected_top(model, path, k):
    tensor = eval_preset(model.preprocessing)(load_image(path, model.preprocessing.in_chans))
    with torch.no_grad():
        probabilities = torch.softmax(model(tensor[None]), dim=1)[0]
    values, indices = probabilities.topk(k)
    return [(CLASSES[index], value) for value, index in zip(values.tolist(), indices.tolist())]


def test_a_directory_with_unreadable_files_predicts_the_others_and_names_the_skipped(tmp_path):
    run = tmp_path / "run"
    model = write_run_dir(run, {"data": "somewhere"}, CLASSES, epoch=5, weights="raw")
    photos = tmp_path / "photos"
    for index in range(3):
        save_image(photos / f"{index}.png", size=(36, 36), seed=index)
    (photos / "1b-truncated.jpg").write_bytes(save_image(tmp_path / "whole.jpg").read_bytes()[:200])
    (photos / "2b-notes.txt").write_text("not an image")
    (photos / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: not an input
    single = save_image(tmp_path / "single.png", size=(36, 36), seed=9)

    with warnings.catch_warnings():
        warnings.simplefilter("error", InputFitWarning)  # RGB 36 px into an RGB 32 px model: fits
        report = predict(run, [photos, single, tmp_path / "missing.png"], top_k=2)
    assert isinstance(report, PredictionReport)
    assert (report.model, report.weights, report.epoch, report.warnings) == (str(run / "model"), "raw", 5, [])
    names = [entry.path for entry in report.predictions]
    assert names == [str(photos / name) for name in ("0.png", "1.png", "1b-truncated.jpg", "2.png", "2b-notes.txt")] \
        + [str(single), str(tmp_path / "missing.png")]
    errors = {entry.path.rsplit("/", 1)[1]: entry.error for entry in report.failed}
    assert errors["2b-notes.txt"] == "not an image" and errors["missing.png"] == "does not exist"
    assert errors["1b-truncated.jpg"].startswith("cannot read the image (")
    assert len(report.failed) == 3 and all(entry.top_k == [] for entry in report.failed)
    for entry in report.predictions:
        if entry.error is None:
            got = [(guess["class_name"], guess["probability"]) for guess in entry.top_k]
            want = expected_top(model, entry.path, 2)
            assert [name for name, _ in got] == [name for name, _ in want]
            assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=1e-5)
    document = report.to_dict()
    assert document["model"] == str(run / "model") and document["predictions"][4]["error"] == "not an image"


def test_images_given_as_objects_or_bytes(tmp_path):
    model = write_model_dir(tmp_path / "model", CLASSES)
    path = save_image(tmp_path / "a.png", size=(32, 32))
    report = predict(model, [Image.open(path), path.read_bytes(), b"garbage"], top_k=1)
    assert [entry.path for entry in report.predictions] == ["<image 0>", "<image 1>", "<image 2>"]
    assert report.predictions[0].top_k == report.predictions[1].top_k and report.predictions[2].error == "not an image"
    assert report.model is None and report.epoch is None  # a model object given without its source
    with pytest.raises(ValueError, match=r"top_k must be from 1 to 3 \(this model has 3 classes\), got 0"):
        predict(model, [path], top_k=0)


def test_an_rgb_photo_into_a_small_grayscale_model_is_answered_with_one_warning(tmp_path):
    write_model_dir(tmp_path / "gray", CLASSES, in_chans=1, input_size=32)
    photos = [save_image(tmp_path / f"photo{index}.jpg", size=(320, 240), seed=index) for index in range(2)]
    digit = save_image(tmp_path / "digit.png", "L", size=(28, 28))
    with pytest.warns(InputFitWarning) as caught:
        report = predict(tmp_path / "gray", [*photos, digit])
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 2 and report.warnings == messages  # one per kind, not one per image
    assert messages[0].startswith(f"2 of 3 image(s) converted colour -> grayscale to fit the model (1 channel, "
                                  f"32x32 input), e.g. {photos[0]}")
    assert messages[1].startswith("2 of 3 image(s) resized by a factor over 4 to fit the model") \
        and "shrunk 7.5x" in messages[1]
    assert all(entry.error is None and len(entry.top_k) == 3 for entry in report.predictions)


def test_a_tiny_image_into_a_large_model_is_noted_as_enlarged(tmp_path):
    write_model_dir(tmp_path / "big", CLASSES, input_size=64, resize_size=256)
    tiny = io.BytesIO()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tiny, format="PNG")
    with pytest.warns(InputFitWarning, match=r"1 of 1 image\(s\) resized .*\(enlarged 12.8x\)"):
        predict(tmp_path / "big", [tiny.getvalue()])
