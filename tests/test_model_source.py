"""MODEL as users give it: every command and loader tells a model directory from a run directory by one
rule (weights/model_dir.py `locate_model`), and every user of "the data the run trained on" splits it as
the run did (evaluation/model_source.py `load_run_data`)."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from helpers import image_tree, write_run_dir
from googlenet.data.load import load_data
from googlenet.evaluation.model_source import ModelSource, find_model, load_run_data
from googlenet.serving.metrics import ServerMetrics
from googlenet.serving.options import ServeOptions
from googlenet.serving.service import ModelService
from googlenet.weights.export import export
from googlenet.weights.init import load_initial_weights
from googlenet.weights.model_dir import from_pretrained
from googlenet.weights.sources import locate_model

CLASSES = ["cat", "dog"]


def _error_of(call) -> tuple[type, str]:
    with pytest.raises((ValueError, FileNotFoundError)) as raised:
        call()
    return type(raised.value), str(raised.value)


def _entry_points(path):
    return {
        "find_model": lambda: find_model(path),
        "from_pretrained": lambda: from_pretrained(path),
        "export": lambda: export(path),
        "--init": lambda: load_initial_weights(path, num_classes=2, in_chans=3),
    }


def _run_without_model(tmp_path):
    run = tmp_path / "early-run"  # interrupted before its first epoch ended
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist", "epochs": 3}))
    (run / "checkpoint_last.pt").write_bytes(b"")
    return run, "is a training run directory without a model yet"


def _empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty", "is an empty directory: give a model directory or a training run directory"


def _run_with_only_its_config(tmp_path):
    run = tmp_path / "just-started"  # config.json is written first; no checkpoint yet
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist", "epochs": 3}))
    return run, "is a training run directory without a model yet"


@pytest.mark.parametrize("case", [_run_without_model, _empty_directory, _run_with_only_its_config])
def test_every_entry_point_names_a_directory_that_holds_no_model_the_same_way(tmp_path, case):
    path, expected = case(tmp_path)
    errors = {name: _error_of(call) for name, call in _entry_points(path).items()}
    assert len(set(errors.values())) == 1, errors
    kind, message = errors["find_model"]
    assert kind is ValueError and message.startswith(f"{path} {expected}")


def test_a_run_directory_and_its_model_directory_name_the_same_model_and_run(tmp_path):
    run = tmp_path / "run"
    write_run_dir(run, {"data": "fashion-mnist", "val_fraction": 0.2, "seed": 4}, CLASSES)
    assert locate_model(run) == locate_model(run / "model")
    assert (locate_model(run).model_dir, locate_model(run).run_dir) == (run / "model", run)
    for given in (run, run / "model"):
        source = find_model(given)
        assert (source.model_dir, source.run_dir, source.epoch, source.run_config["seed"]) == (run / "model", run, 3, 4)
        assert load_initial_weights(given, num_classes=2, in_chans=3).source == str(run / "model")
    loose = tmp_path / "loose"
    write_run_dir(loose, {}, CLASSES)  # a run config without a data set: still a run
    (loose / "config.json").write_text("{}")
    assert locate_model(loose / "model").run_dir == loose
    with pytest.raises(FileNotFoundError, match="nowhere does not exist: give a model directory or a training run"):
        from_pretrained(tmp_path / "nowhere")


def _decoded(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def test_the_served_examples_come_from_the_validation_split_the_run_carved(tmp_path):
    folder = tmp_path / "photos"  # no val/ and no test/: the run carved its validation split from the images
    image_tree(folder, classes=CLASSES, per_class=8, size=(24, 24))
    run = tmp_path / "run"
    model = write_run_dir(run, {"data": str(folder), "data_dir": None, "val_fraction": 0.5, "seed": 3}, CLASSES)
    service = ModelService(model, "run", ServeOptions(backend="eager", warm_up=False), ServerMetrics(),
                           find_model(run))
    examples = service.examples().items
    assert [example.split for example in examples] == ["validation", "validation"]

    held_out = load_data(folder, val_fraction=0.5, seed=3).validation_images  # what the run validated on
    default = load_data(folder).validation_images  # another split of the same folder
    assert held_out.samples[:4] != default.samples[:4]  # the check below can tell the two splits apart
    for example in examples:
        image, label = held_out[example.index]
        assert CLASSES[label] == example.label
        assert np.array_equal(_decoded(example.png), np.asarray(image.convert("RGB")))
    assert len({example.label for example in examples}) == 2


def test_load_run_data_takes_the_runs_split_even_for_data_given_instead(tmp_path):
    folder = tmp_path / "photos"
    image_tree(folder, classes=CLASSES, per_class=8, size=(24, 24))
    source = ModelSource(model_dir=tmp_path, data=None, run_config={"val_fraction": 0.25, "seed": 9})
    splits = load_run_data(source, folder, input_size=24)
    assert splits.validation_images.samples == load_data(folder, val_fraction=0.25, seed=9).validation_images.samples
    assert splits.validation_images.samples != load_data(folder).validation_images.samples
    with pytest.raises(ValueError, match="records no data set"):
        load_run_data(source, input_size=24)
