"""The model card every model directory gets: README.md with the metadata block the Hugging Face Hub reads."""

import copy
import functools
import json

import huggingface_hub
import pytest

import googlenet
from googlenet.training.config import TrainConfig
from googlenet.training.outputs import RunOutputs
from googlenet.weights.model_card import GENERATED_MARK
from googlenet.weights.model_dir import save_pretrained


@functools.cache
def _built():
    model = googlenet.googlenet("torchvision", num_classes=3, in_chans=1, aux_logits=False)
    model.class_names = ["shirt", "shoe", "bag"]
    return model


def small_model():
    return copy.deepcopy(_built())  # built once: the cards need a model, not its numbers


def hub_card(path):
    """The card as the Hub's own parser reads it: (metadata dict, text, evaluation results)."""
    card = huggingface_hub.ModelCard.load(path)
    results = huggingface_hub.repocard_data.model_index_to_eval_results(card.data.to_dict()["model-index"]) \
        if "model-index" in card.data.to_dict() else (None, [])
    return card.data.to_dict(), card.text, results[1]


def test_save_pretrained_writes_a_card_the_hub_reads(tmp_path):
    directory = save_pretrained(small_model(), tmp_path / "model")
    metadata, text, results = hub_card(directory / "README.md")
    assert metadata["library_name"] == "googlenet" and metadata["pipeline_tag"] == "image-classification"
    assert metadata["license"] == "mit" and metadata["metrics"] == ["accuracy"]
    assert {"image-classification", "googlenet", "googlenet-torchvision"} <= set(metadata["tags"])
    assert results == [] and "datasets" not in metadata  # nothing measured, no data set known
    for heading in ("## What it is", "## How it was trained", "## How to use it", "## Intended use", "## Limits",
                    "## Citation"):
        assert heading in text
    assert "Classes, in output order: shirt, shoe, bag." in text and "arXiv:1409.4842" in text
    assert "Not recorded" in text and "No accuracy was recorded" in text


def test_an_owners_card_is_kept_and_a_written_one_rewritten(tmp_path):
    directory = save_pretrained(small_model(), tmp_path / "model")
    assert GENERATED_MARK in (directory / "README.md").read_text()
    model = small_model()
    model.class_names = ["red", "green", "blue"]
    save_pretrained(model, directory)  # the card written before is the weights' own: it follows them
    assert "red, green, blue" in (directory / "README.md").read_text()
    (directory / "README.md").write_text("# My model\n\nMy words.\n")
    save_pretrained(small_model(), directory)
    assert (directory / "README.md").read_text() == "# My model\n\nMy words.\n"


@pytest.mark.parametrize("data", ["fashion-mnist", "folder"])
def test_a_runs_card_says_how_it_was_trained_and_what_it_measured_without_local_paths(tmp_path, data):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data = str(tmp_path / "my-private-photos") if data == "folder" else data
    outputs = RunOutputs(run_dir, tensorboard=False)
    init = "hf-hub:someone/fashion-googlenet" if data == "fashion-mnist" else str(tmp_path / "my-weights")
    outputs.write_config(TrainConfig(data=data, epochs=3, batch_size=16, lr=0.05, seed=4, output_dir=str(run_dir),
                                     init=init))
    figures = {"loss": 0.4, "top1": 88.125, "top5": 99.5, "count": 600}
    record = {"data": data, "epoch": 3, "weights": "ema", "selected_by": "validation top-1", "validation": figures}
    outputs.write_model(small_model(), record)
    metadata, text, results = hub_card(run_dir / "model" / "README.md")
    assert [(result.metric_name, result.metric_value) for result in results] == [("top-1, validation split", 88.12)]
    outputs.write_evaluation({**record, "test": {**figures, "top1": 87.5, "count": 1000}})  # the end of the run
    metadata, text, results = hub_card(run_dir / "model" / "README.md")
    assert [(result.metric_name, result.metric_value) for result in results] == [
        ("top-1, validation split", 88.12), ("top-1, test split", 87.5)]
    assert "- `epochs`: 3" in text and "- `lr`: 0.05" in text and "- `seed`: 4" in text
    assert "Kept: epoch 3, averaged (EMA) weights, chosen by validation top-1." in text
    assert "- test split: top-1 87.50%, top-5 99.50% on 1000 images, never used to choose" in text
    assert str(tmp_path) not in (run_dir / "model" / "README.md").read_text()
    shown_init = '"hf-hub:someone/fashion-googlenet"' if data == "fashion-mnist" else "a local file or directory"
    assert f"- `init`: {shown_init}" in text or f"- `init`: initial weights from {shown_init}" in text
    if data == "fashion-mnist":
        assert metadata["datasets"] == ["zalando-datasets/fashion_mnist"]
        assert "# GoogLeNet (torchvision flavour) on fashion-mnist" in text
    else:
        assert "datasets" not in metadata and "on an image folder" in text
    assert json.loads((run_dir / "model" / "config.json").read_text())["class_names"] == ["shirt", "shoe", "bag"]


def test_a_card_takes_what_a_record_holds(tmp_path):
    outputs = RunOutputs(tmp_path, tensorboard=False)
    outputs.write_model(small_model(), {"epoch": 2, "validation": {"top1": 50.0}, "test": {"loss": 1.0}})
    _, text, results = hub_card(tmp_path / "model" / "README.md")
    assert "- validation split: top-1 50.00%" in text and "test split" not in text
    assert [result.metric_value for result in results] == []  # no data set named: no results block
