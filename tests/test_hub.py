"""Model directories, safe checkpoint loading and torchvision's ImageNet weights (googlenet.weights.model_dir)."""

import copy
import json
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torchvision

from helpers import copy_linking_weights, give_real_scale, real_scale_googlenet, tree_fingerprint
from googlenet import googlenet
from googlenet.cli import main
from googlenet.weights.loading import load_checkpoint_file, load_state_dict_checked
from googlenet.weights.imagenet import import_torchvision
from googlenet.weights.model_dir import from_pretrained, save_pretrained
from googlenet.models.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

IMAGENET_CATEGORIES = torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "googlenet", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def _saved_small_model(tmp_path_factory):
    model = real_scale_googlenet("bn", num_classes=3)
    model.class_names = ["cat", "dog", "bird"]
    model.preprocessing = Preprocessing(input_size=64, resize_size=72)
    return model, save_pretrained(model, tmp_path_factory.mktemp("small") / "model")


@pytest.fixture
def small_model_dir(_saved_small_model):
    """small_model_dir(where) -> (model, where/"model"): a real-scale 3-class model and its model directory,
    saved once per module; each test gets a copy whose weights file is a hard link to the saved one (a test
    that damages the weights replaces the file; the check after the test catches one that rewrites it)."""
    model, saved = _saved_small_model
    before = tree_fingerprint(saved)

    def copy_into(where):
        return copy.deepcopy(model), copy_linking_weights(saved, where / "model")

    yield copy_into
    assert tree_fingerprint(saved) == before, "a test rewrote the shared model directory in place"


# -- round trip --------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour, options", [
    ("bn", {"in_chans": 1, "num_classes": 5}),
    ("paper", {"dropout": 0.5, "aux_dropout": 0.6}),
    ("torchvision", {"aux_logits": False, "transform_input": True}),
])
def test_round_trip_gives_the_same_model(tmp_path, flavour, options):
    model = real_scale_googlenet(flavour, **options).eval()
    names = [f"class {i}" for i in range(model.num_classes)]
    channels = model.in_chans
    preprocessing = Preprocessing(input_size=64, resize_size=80, mean=(0.5,) * channels, std=(0.25,) * channels,
                                  channel_order="L" if channels == 1 else "RGB")
    directory = save_pretrained(model, tmp_path / "saved", class_names=names, preprocessing=preprocessing)

    assert sorted(path.name for path in directory.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((directory / "config.json").read_text())
    assert config["architecture"] == f"googlenet_{flavour}" and config["format_version"] == 1  # timm's name
    assert config["model"] == model.config.to_dict()
    assert config["preprocessing"]["mean"] == [0.5] * channels and config["preprocessing"]["input_size"] == 64

    loaded = from_pretrained(directory)
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.class_names == names and loaded.preprocessing == preprocessing
    x = torch.randn(2, channels, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert expected.std() > 0.1  # a near-constant output would make any weights "agree"
        assert torch.equal(loaded(x), expected)
    assert model.class_names is None  # the arguments were written, the model was left alone


def test_model_attributes_are_saved_and_arguments_override_them(tmp_path, small_model_dir):
    model, directory = small_model_dir(tmp_path)
    assert from_pretrained(directory).class_names == ["cat", "dog", "bird"]
    save_pretrained(model, directory, class_names=["a", "b", "c"])
    loaded = from_pretrained(directory)
    assert loaded.class_names == ["a", "b", "c"] and loaded.preprocessing.input_size == 64


def test_a_directory_with_aux_heads_loads_for_inference_and_for_training(tmp_path, small_model_dir):
    model, directory = small_model_dir(tmp_path)
    loaded = from_pretrained(directory)
    assert loaded.aux1 is not None
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
        model.train(), loaded.train()
        for module in (model, loaded):
            module.dropout.p = module.aux1.dropout.p = module.aux2.dropout.p = 0.0
        for got, want in zip(loaded(x), model(x)):
            assert torch.equal(got, want)


def test_saving_refuses_class_names_that_do_not_match_the_classifier(tmp_path):
    model = googlenet("bn", num_classes=3)
    with pytest.raises(ValueError, match="'class_names' has 2 names but model.num_classes is 3"):
        save_pretrained(model, tmp_path / "model", class_names=["a", "b"])
    assert not (tmp_path / "model").exists()


# -- checkpoints that do not fit ---------------------------------------------------------------------


def test_weights_without_aux_heads_into_a_config_with_them_is_a_clear_error(tmp_path):
    model = googlenet("bn", num_classes=3, aux_logits=False)
    directory = save_pretrained(model, tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    config["model"]["aux_logits"] = True
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as error:
        from_pretrained(directory)
    message = str(error.value)
    assert str(directory / "model.safetensors") in message
    assert "missing from the checkpoint" in message and "aux1.conv.conv.weight" in message
    assert "aux_logits=False" in message


def test_torchvision_weights_into_a_true_5x5_network_name_the_keys_and_shapes():
    model = googlenet("bn", aux_logits=False)
    before = model.conv1.conv.weight.clone()
    state_dict = googlenet("torchvision", aux_logits=False).state_dict()
    with pytest.raises(ValueError) as error:
        load_state_dict_checked(model, state_dict, "googlenet-1378be20.pth")
    message = str(error.value)
    assert message.startswith("googlenet-1378be20.pth does not fit the GoogLeNet (flavour 'bn'")
    assert "\n" not in message  # one line: a count, and the first three
    assert "9 of other shape (inception3a.branch3.1.conv.weight model (32, 16, 5, 5) checkpoint (32, 16, 3, 3), " \
        in message and ", and 6 more)" in message
    assert "flavour 'torchvision'" in message  # the hint
    assert torch.equal(model.conv1.conv.weight, before)  # nothing was loaded


def test_a_different_classifier_size_is_named_with_both_shapes():
    model = googlenet("bn", num_classes=10, aux_logits=False)
    with pytest.raises(ValueError) as error:
        load_state_dict_checked(model, googlenet("bn", num_classes=1000, aux_logits=False).state_dict(), "other")
    message = str(error.value)
    assert "fc.weight model (10, 1024) checkpoint (1000, 1024)" in message and "fc.bias" in message
    assert "reset_classifier" in message
    assert "conv1" not in message  # only what differs is listed


def test_unexpected_and_non_tensor_entries_are_listed():
    model = googlenet("paper", num_classes=3, aux_logits=False)
    state_dict = {**model.state_dict(), "module.extra": torch.zeros(1), "fc.bias": [0.0, 0.0, 0.0]}
    with pytest.raises(ValueError, match=r"^mixed.pth does not fit the GoogLeNet .*: 1 not in the model \(module.extra\); "
                                         r"1 not tensors \(fc.bias\); hint: [^\n]*$"):
        load_state_dict_checked(model, state_dict, "mixed.pth")


# -- bad files ---------------------------------------------------------------------------------------


def test_truncated_safetensors_is_a_clear_error(tmp_path, small_model_dir):
    _, directory = small_model_dir(tmp_path)
    weights = directory / "model.safetensors"
    content = weights.read_bytes()
    weights.unlink()  # a hard link to the module's saved model: replace it, do not rewrite it
    weights.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match=rf"{weights} is not a readable safetensors file \(truncated or corrupt\?\)"):
        from_pretrained(directory)


def test_zero_byte_and_missing_weights_are_clear_errors(tmp_path, small_model_dir):
    _, directory = small_model_dir(tmp_path)
    weights = directory / "model.safetensors"
    weights.unlink()  # a hard link to the module's saved model: replace it, do not rewrite it
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{weights} is empty \(0 bytes\)"):
        from_pretrained(directory)
    weights.unlink()
    with pytest.raises(ValueError, match=rf"{weights} does not exist"):
        from_pretrained(directory)
    with pytest.raises(FileNotFoundError, match="nowhere does not exist: give a model directory or a training run"):
        from_pretrained(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_pth_is_a_clear_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "weights.pth"
    torch.save(googlenet("bn", num_classes=3, aux_logits=False).state_dict(), path)
    content = {"truncated": path.read_bytes()[:100_000], "garbage": b"not a checkpoint at all", "empty": b""}[damage]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{path} (is not a readable PyTorch checkpoint|is empty)"):
        load_checkpoint_file(path)


def test_a_pth_that_is_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ValueError, match=rf"{path}: expected a dict .* got list"):
        load_checkpoint_file(path)


def edit_config(directory, edit):
    config = json.loads((directory / "config.json").read_text())
    edit(config)
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["model"].pop("num_classes"), r"field 'model' is missing 'num_classes'"),
    (lambda c: c.pop("preprocessing"), r"missing field 'preprocessing'"),
    (lambda c: c["preprocessing"].pop("mean"), r"field 'preprocessing' is missing 'mean'"),
    (lambda c: c["model"].update(num_classes="3"), r"field 'model.num_classes' must be int, got '3'"),
    (lambda c: c["model"].update(num_classes=True), r"field 'model.num_classes' must be int, got True"),
    (lambda c: c["model"].update(aux_logits=1), r"field 'model.aux_logits' must be bool, got 1"),
    (lambda c: c["model"].update(dropout="0.4"), r"field 'model.dropout' must be int or float or null"),
    (lambda c: c["model"].update(flavour="inception_v3"), r"field 'model.flavour' is 'inception_v3'; choose one of: paper, bn, torchvision"),
    (lambda c: c["model"].update(dropout=1.5), r"field 'model': dropout must be in \[0, 1\)"),
    (lambda c: c["model"].update(colour="red"), r"field 'model' has unknown fields \['colour'\]"),
    (lambda c: c.update(class_names=["a"]), r"'class_names' has 1 names but model.num_classes is 3"),
    (lambda c: c.update(class_names="cat dog bird"), r"'class_names' must be a list of strings or null"),
    (lambda c: c["preprocessing"].update(std=[0.5]), r"'preprocessing.std' must be 3 numbers .* got \[0.5\]"),
    (lambda c: c["preprocessing"].update(input_size="64"), r"'preprocessing.input_size' must be int"),
    (lambda c: c.update(architecture="resnet"), r"field 'architecture' must be one of \['googlenet', 'googlenet_paper', .*\], got 'resnet'"),
    (lambda c: c.update(format_version=2), r"'format_version' must be 1, got 2 \(written by a newer version"),
])
def test_config_with_missing_or_wrong_fields_is_a_clear_error(tmp_path, edit, message, small_model_dir):
    _, directory = small_model_dir(tmp_path)
    edit_config(directory, edit)
    with pytest.raises(ValueError, match=rf"^{directory / 'config.json'}: .*{message}"):
        from_pretrained(directory)


def test_config_that_is_not_json_or_missing_is_a_clear_error(tmp_path, small_model_dir):
    _, directory = small_model_dir(tmp_path)
    (directory / "config.json").write_text('{"architecture": "googlenet",')
    with pytest.raises(ValueError, match=rf"{directory / 'config.json'} is not valid JSON"):
        from_pretrained(directory)
    (directory / "config.json").unlink()
    with pytest.raises(ValueError, match=rf"{directory / 'config.json'} does not exist"):
        from_pretrained(directory)


# -- security ----------------------------------------------------------------------------------------


class RunsCodeWhenUnpickled:
    """A pickle payload: unpickling it calls open(marker, "w"), creating the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_payload_really_runs_code_when_unpickled_unsafely(tmp_path):
    """The control for the tests below: without weights_only the same kind of file runs its code."""
    marker = tmp_path / "control-marker"
    torch.save({"weights": torch.zeros(1), "payload": RunsCodeWhenUnpickled(marker)}, tmp_path / "evil.pth")
    torch.load(tmp_path / "evil.pth", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("load", [load_checkpoint_file, lambda path: import_torchvision(path, path.parent / "out")])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, load):
    marker = tmp_path / "marker"
    path = tmp_path / "googlenet-1378be20.pth"
    state_dict = googlenet("torchvision", aux_logits=False).state_dict()
    torch.save({**state_dict, "payload": RunsCodeWhenUnpickled(marker)}, path)
    with pytest.raises(ValueError) as error:
        load(path)
    message = str(error.value)
    assert message.startswith(f"refused to load {path}: it holds pickled Python objects")
    assert f"asks for {open.__module__}.open" in message  # what the file asked for (io.open)
    assert "weights_only=False" not in message  # torch's suggestion to run it anyway is not passed on
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_a_training_checkpoint_with_rng_states_loads_and_restores_them(tmp_path):
    """The forms documented in googlenet.weights.model_dir: what the training code stores must load weights-only."""
    model = googlenet("bn", num_classes=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 64, 64)).logits.sum().backward()
    optimizer.step()
    numpy_state = np.random.get_state()
    checkpoint = {
        "format": 1, "epoch": 3, "best_top1": 71.5, "name": "run", "history": [{"epoch": 1, "loss": 2.0}],
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "python": random.getstate(),
            "numpy": (numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]),
            "numpy_generator": np.random.default_rng(5).bit_generator.state,
        },
    }
    torch.save(checkpoint, tmp_path / "checkpoint.pth")
    expected = (torch.rand(3), random.random(), np.random.rand(3))

    loaded = load_checkpoint_file(tmp_path / "checkpoint.pth")
    torch.set_rng_state(loaded["rng"]["torch"])
    random.setstate(loaded["rng"]["python"])
    np.random.set_state(loaded["rng"]["numpy"])
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]
    assert np.array_equal(np.random.rand(3), expected[2])
    generator = np.random.default_rng()
    generator.bit_generator.state = loaded["rng"]["numpy_generator"]
    assert generator.random() == np.random.default_rng(5).random()
    assert loaded["optimizer"]["param_groups"][0]["momentum"] == 0.9 and loaded["history"][0]["loss"] == 2.0


def test_numpy_arrays_in_a_checkpoint_are_refused_with_the_fix(tmp_path):
    torch.save({"rng": {"numpy": np.random.get_state()}}, tmp_path / "checkpoint.pth")
    with pytest.raises(ValueError, match="numpy arrays are not loaded: store numpy's RNG state as a list"):
        load_checkpoint_file(tmp_path / "checkpoint.pth")


# -- torchvision's ImageNet weights ------------------------------------------------------------------


def torchvision_googlenet(aux_logits: bool) -> torch.nn.Module:
    """torchvision's googlenet as `googlenet(weights=IMAGENET1K_V1)` builds it, with random weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = torchvision.models.googlenet(weights=None, aux_logits=aux_logits, transform_input=True,
                                             init_weights=False)
    return give_real_scale(model).eval()


@pytest.fixture(scope="module")
def torchvision_checkpoint(tmp_path_factory):
    """A file saved as torchvision's googlenet-1378be20.pth is: a state_dict with the aux heads."""
    reference = torchvision_googlenet(aux_logits=True)
    path = tmp_path_factory.mktemp("downloads") / "googlenet-1378be20.pth"
    torch.save(reference.state_dict(), path)
    return reference, path


@pytest.mark.slow
def test_import_torchvision_reproduces_torchvisions_outputs_and_predict_names_imagenet_classes(
    tmp_path, torchvision_checkpoint
):
    reference, checkpoint = torchvision_checkpoint
    result = run_cli("import-torchvision", str(checkpoint), str(tmp_path / "imagenet"))
    assert result.returncode == 0, result.stderr
    model = from_pretrained(tmp_path / "imagenet")

    config = json.loads((tmp_path / "imagenet" / "config.json").read_text())
    assert config["model"]["flavour"] == "torchvision" and config["model"]["transform_input"] is True
    assert config["model"]["aux_logits"] is False and model.aux1 is None  # torchvision's were never trained
    assert config["class_names"] == IMAGENET_CATEGORIES and config["class_names"][0] == "tench"
    assert config["preprocessing"] == {
        "input_size": 224, "resize_size": 256, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
        "interpolation": "bilinear", "channel_order": "RGB", "extra": {},
    }

    x = torch.randn(2, 3, 224, 224)  # ImageNet-normalised input, as torchvision documents for these weights
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.std() > 0.1
    assert (got - expected).abs().max().item() <= 1e-5
    assert torch.equal(got.topk(5).indices, expected.topk(5).indices)

    from PIL import Image

    from googlenet.data.transforms import eval_preset

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 260, 3), dtype=np.uint8))
    image.save(tmp_path / "photo.png")
    result = run_cli("predict", str(tmp_path / "imagenet"), str(tmp_path / "photo.png"), "--json")
    assert result.returncode == 0, result.stderr
    top_k = json.loads(result.stdout)["predictions"][0]["top_k"]
    with torch.no_grad():
        top5 = reference(eval_preset(model.preprocessing)(image).unsqueeze(0)).topk(5).indices[0].tolist()
    assert [entry["class_index"] for entry in top_k] == top5
    assert [entry["class_name"] for entry in top_k] == [IMAGENET_CATEGORIES[index] for index in top5]


def test_import_a_checkpoint_without_aux_heads_and_keep_them_when_asked(tmp_path, torchvision_checkpoint):
    reference, checkpoint = torchvision_checkpoint
    with_aux = from_pretrained(import_torchvision(checkpoint, tmp_path / "with-aux", aux_logits=True))
    assert torch.equal(with_aux.aux2.fc2.weight, reference.aux2.fc2.weight)

    no_aux = torchvision_googlenet(aux_logits=False)
    torch.save(no_aux.state_dict(), tmp_path / "no-aux.pth")
    model = from_pretrained(import_torchvision(tmp_path / "no-aux.pth", tmp_path / "out"))
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), no_aux(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="(?s)no-aux.pth does not fit.*missing from the checkpoint.*aux1"):
        import_torchvision(tmp_path / "no-aux.pth", tmp_path / "out2", aux_logits=True)


def test_import_a_fine_tuned_torchvision_checkpoint_in_a_training_dict(tmp_path):
    """torchvision's reference trainer saves {"model": state_dict, "optimizer": ...}; other class counts
    get no ImageNet names."""
    model = googlenet("torchvision", num_classes=7, aux_logits=False)
    torch.save({"model": model.state_dict(), "epoch": 4}, tmp_path / "checkpoint.pth")
    loaded = from_pretrained(import_torchvision(tmp_path / "checkpoint.pth", tmp_path / "out", transform_input=False))
    assert loaded.num_classes == 7 and loaded.class_names is None and not loaded.config.transform_input


def test_import_torchvision_refuses_a_file_that_is_not_a_googlenet(tmp_path, capsys):
    torch.save({"epoch": 1, "lr": 0.1}, tmp_path / "notes.pth")
    assert main(["import-torchvision", str(tmp_path / "notes.pth"), str(tmp_path / "out")]) == 2
    assert f"googlenet import-torchvision: error: {tmp_path / 'notes.pth'}: no state_dict found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- Hugging Face's spelling and the metadata record ----------------------------------------------------


def test_a_model_saves_and_loads_as_hugging_face_spells_it(tmp_path, small_model_dir):
    from googlenet import from_pretrained, save_pretrained

    model, _ = small_model_dir(tmp_path)
    directory = save_pretrained(model, tmp_path / "hf")
    loaded = from_pretrained(directory)
    assert loaded.config == model.config and loaded.class_names == ["cat", "dog", "bird"]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_a_run_directory_loads_its_model_subdirectory(tmp_path, small_model_dir):
    from googlenet import from_pretrained

    run = tmp_path / "run"
    model, _ = small_model_dir(run)  # run/model
    (run / "config.json").write_text(json.dumps({"epochs": 3, "flavour": "bn"}))  # a run's TrainConfig
    loaded = from_pretrained(run)
    assert loaded.class_names == ["cat", "dog", "bird"] and loaded.preprocessing.input_size == 64

    early = tmp_path / "early-run"  # interrupted before its first epoch ended
    early.mkdir()
    (early / "config.json").write_text(json.dumps({"epochs": 3}))
    (early / "checkpoint_last.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=f"{early} is a training run directory without a model yet"):
        from_pretrained(early)


def test_class_names_and_preprocessing_live_in_one_checked_record():
    from googlenet.models.metadata import ModelMetadata, attach_metadata

    model = googlenet("bn", num_classes=3)
    assert model.metadata is None and model.class_names is None and model.preprocessing is None
    model.class_names = ["a", "b", "c"]
    model.preprocessing = Preprocessing(input_size=64)
    assert model.metadata == ModelMetadata(("a", "b", "c"), Preprocessing(input_size=64))
    assert model.class_names == ["a", "b", "c"]
    with pytest.raises(ValueError, match="class_names has 2 names but the model has 3 classes"):
        model.class_names = ["a", "b"]
    with pytest.raises(ValueError, match=r"normalises 1 channels .* in_chans=3"):
        attach_metadata(model, preprocessing=Preprocessing(mean=(0.5,), std=(0.5,)))
    assert model.class_names == ["a", "b", "c"]  # a refused change leaves the record as it was
    model.reset_classifier(5)
    assert model.class_names is None and model.preprocessing == Preprocessing(input_size=64)


# -- written whole or not at all ---------------------------------------------------------------------------


def test_a_failed_save_leaves_the_previous_model_directory_whole_and_loadable(tmp_path, monkeypatch, small_model_dir):
    from pathlib import Path

    from googlenet.atomic_files import AtomicWriteError

    old_model, directory = small_model_dir(tmp_path)
    (directory / "README.md").write_text("my notes\n")
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    new_model = real_scale_googlenet("bn", num_classes=3, seed=1)
    import googlenet.weights.model_dir as model_dir

    real_write_text = model_dir.write_text

    def fail_on_config(path, *args, **kwargs):
        if Path(path).name == "config.json":  # the weights are already written by then
            raise OSError(28, "No space left on device")
        return real_write_text(path, *args, **kwargs)

    monkeypatch.setattr(model_dir, "write_text", fail_on_config)
    with pytest.raises(AtomicWriteError, match=f"cannot write {directory}: No space left on device"):
        save_pretrained(new_model, directory)
    monkeypatch.undo()

    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
    assert [path.name for path in tmp_path.iterdir()] == ["model"]  # no staging directory left behind
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(from_pretrained(directory)(x), old_model.eval()(x))
    save_pretrained(new_model, directory)  # a save that succeeds replaces the weights, keeps the README
    assert (directory / "README.md").read_text() == "my notes\n"
    with torch.no_grad():
        assert torch.equal(from_pretrained(directory)(x), new_model.eval()(x))


def test_saving_over_a_directory_that_is_not_a_model_directory_is_refused(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"...")
    with pytest.raises(ValueError, match="holds other files and is not a model directory"):
        save_pretrained(googlenet("bn", num_classes=3), tmp_path / "photos")
    assert [path.name for path in (tmp_path / "photos").iterdir()] == ["cat.jpg"]
