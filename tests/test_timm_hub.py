"""A model directory pushed to the Hugging Face Hub loads with timm.create_model("hf-hub:user/repo"): its
config.json holds timm's fields beside googlenet's, and both readers agree. Offline, through a Hugging Face
cache laid out as huggingface_hub writes it (the fixtures of test_hf_hub)."""

import json

import pytest
import timm
import torch

import googlenet
import googlenet.timm_registry  # noqa: F401 - registers the models with timm
from googlenet.weights.model_dir import read_config, save_pretrained
from helpers import real_scale_googlenet
from test_hf_hub import cache_repo, hf_cache  # noqa: F401 - hf_cache is a fixture


@pytest.fixture(scope="module")
def gray_paper_model(tmp_path_factory):
    model = real_scale_googlenet("paper", num_classes=3, in_chans=1).eval()
    model.class_names = ["a", "b", "c"]
    model.preprocessing = googlenet.Preprocessing(input_size=64, resize_size=72, mean=(0.3,), std=(0.2,),
                                                  channel_order="L")
    return model, save_pretrained(model, tmp_path_factory.mktemp("pushed") / "model")


def test_config_json_holds_timms_fields_and_googlenets_reader_agrees(gray_paper_model):
    model, directory = gray_paper_model
    document = json.loads((directory / "config.json").read_text())
    assert document["architecture"] == "googlenet_paper" and timm.is_model(document["architecture"])
    assert (document["num_classes"], document["num_features"], document["label_names"]) == (3, 1024, ["a", "b", "c"])
    assert document["model_args"] == {"in_chans": 1, "drop_rate": 0.4}
    cfg = document["pretrained_cfg"]
    assert (cfg["input_size"], cfg["mean"], cfg["crop_pct"]) == ([1, 64, 64], [0.3], 64 / 72)
    assert read_config(directory / "config.json")[0] == model.config
    older = directory.parent / "older.json"  # what googlenet wrote before: still read
    older.write_text(json.dumps({**document, "architecture": "googlenet"}))
    assert read_config(older)[0] == model.config
    wrong = directory.parent / "wrong.json"
    wrong.write_text(json.dumps({**document, "architecture": "googlenet_bn"}))
    with pytest.raises(ValueError, match=r"field 'architecture' is 'googlenet_bn' but model.flavour is 'paper'"):
        read_config(wrong)


def test_a_pushed_directory_loads_with_timms_hf_hub_name(hf_cache, gray_paper_model):
    model, directory = gray_paper_model
    cache_repo(hf_cache, "someone/googlenet-gray", directory)
    x = torch.randn(2, 1, 64, 64)
    loaded = timm.create_model("hf-hub:someone/googlenet-gray", pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.class_names == ["a", "b", "c"] and loaded.pretrained_cfg["hf_hub_id"] == "someone/googlenet-gray"
    data = timm.data.resolve_data_config(model=loaded)
    assert (data["input_size"], data["mean"], data["std"]) == ((1, 64, 64), (0.3,), (0.2,))

    tuned = timm.create_model("hf-hub:someone/googlenet-gray", pretrained=True, num_classes=5, drop_rate=0.1)
    assert tuned.fc.out_features == 5 and tuned.dropout.p == 0.1 and tuned.in_chans == 1
    assert torch.equal(tuned.inception5b.branch1.conv.weight, model.inception5b.branch1.conv.weight)
    untrained = timm.create_model("hf-hub:someone/googlenet-gray")  # timm's meaning: the architecture only
    assert untrained.config.flavour == "paper" and untrained.in_chans == 1 and untrained.num_classes == 3
    assert not torch.equal(untrained.conv1.conv.weight, model.conv1.conv.weight)


def test_a_model_pooled_otherwise_is_not_saved_as_if_averaged(tmp_path):
    model = googlenet.googlenet("bn", num_classes=0, global_pool="")
    with pytest.raises(ValueError, match=r"global_pool='' is not kept in a model directory"):
        save_pretrained(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()
