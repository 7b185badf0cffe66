"""Feature visualisation and dataset examples on a GoogLeNet trained for a few steps on 500 real
Fashion-MNIST images: the optimised image excites its channel more than any image of the validation split,
the dataset examples are the true top-k, and their cache is used until the weights change."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from googlenet.models.network import GoogLeNet
from googlenet.visualise import channel_means, dataset_examples, resolve_unit, visualise, visualise_channels
from googlenet.visualise.examples import CACHE_FOLDER, top_k_pass
from googlenet.visualise.units import all_units
from helpers import idx_bytes

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
UNIT = "inception4c.branch3"


def _real_subset(directory: Path, train: int, test: int) -> Path:
    directory.mkdir(parents=True)
    for split, count in (("train", train), ("t10k", test)):
        for kind, offset, shape in (("images-idx3", 16, (-1, 28, 28)), ("labels-idx1", 8, (-1,))):
            name = f"{split}-{kind}-ubyte.gz"
            array = np.frombuffer(gzip.open(FASHION_MNIST / name).read(), np.uint8, offset=offset).reshape(shape)
            (directory / name).write_bytes(gzip.compress(idx_bytes(array[:count])))
    return directory


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run trained for 8 steps on the first 500 Fashion-MNIST training images (its validation split: 50)."""
    from googlenet.training.config import TrainConfig
    from googlenet.training.trainer import train

    root = tmp_path_factory.mktemp("visualise")
    data = _real_subset(root / "fashion-mnist", 500, 50)
    train(TrainConfig(data="fashion-mnist", data_dir=str(data), output_dir=str(root / "run"), epochs=1,
                      batch_size=56, tensorboard=False, progress=False, workers=0))
    return root / "run"


@pytest.fixture(scope="module")
def trained(run_dir) -> GoogLeNet:
    from googlenet.evaluation.model_source import load_model

    return load_model(run_dir).eval()


@pytest.fixture(scope="module")
def validation(run_dir, trained) -> torch.Tensor:
    """The run's validation split as images in [0, 1]."""
    examples = dataset_examples(run_dir, cache=False)
    mean, std = examples.normalisation
    return torch.stack([image for image, _ in examples.dataset]) * std[0] + mean[0]


def test_a_visualised_channel_excites_it_more_than_every_validation_image_and_than_its_start(trained, validation):
    unit = resolve_unit(trained, UNIT)
    channels = [0, 7, 21, 40]
    start = visualise_channels(trained, unit, channels, steps=0)
    optimised = visualise_channels(trained, unit, channels)
    assert optimised.shape == (4, 1, 32, 32) and 0 <= optimised.min() and optimised.max() <= 1
    reached = channel_means(trained, unit, optimised)[range(4), channels]
    best_validation = channel_means(trained, unit, validation)[:, channels].max(dim=0).values
    at_start = channel_means(trained, unit, start)[range(4), channels]
    assert (reached > best_validation).all(), (reached, best_validation)
    assert (reached > at_start).all(), (reached, at_start)


def test_the_same_seed_gives_the_same_image_and_leaves_the_model_as_it_was(trained):
    trained.train()
    before = {name: value.clone() for name, value in trained.state_dict().items()}
    first = visualise(trained, UNIT, 3, steps=12, seed=5)
    assert torch.equal(first, visualise(trained, UNIT, 3, steps=12, seed=5))
    assert not torch.equal(first, visualise(trained, UNIT, 3, steps=12, seed=6))
    assert trained.training and all(torch.equal(value, before[name]) for name, value in trained.state_dict().items())
    assert all(parameter.grad is None for parameter in trained.parameters())
    trained.eval()


def test_a_module_channel_is_its_branchs_channel(trained):
    widths = [resolve_unit(trained, f"inception3a.branch{number}").channels for number in (1, 2, 3)]
    assert resolve_unit(trained, "inception3a").channels == sum(widths) + resolve_unit(trained, "inception3a.branch4").channels
    assert torch.equal(visualise(trained, "inception3a", widths[0] + 2, steps=3),
                       visualise(trained, "inception3a.branch2", 2, steps=3))


def test_bad_units_and_channels_are_named(trained):
    with pytest.raises(ValueError, match="unknown module 'inception9z'.*inception3a"):
        visualise(trained, "inception9z", 0)
    with pytest.raises(ValueError, match="unknown branch 'branch5'"):
        visualise(trained, "inception4c.branch5", 0)
    with pytest.raises(ValueError, match="channel 64 is out of range: inception4c.branch3 has 64 channels"):
        visualise(trained, UNIT, 64)


def test_dataset_examples_are_the_brute_force_top_k(run_dir, trained, validation):
    examples = dataset_examples(run_dir, cache=False, k=5)
    assert (examples.split, examples.size, examples.k) == ("validation", len(validation), 5)
    for unit in all_units(trained):
        means = channel_means(trained, unit, validation)  # [images, channels], one unit at a time
        order = torch.sort(means.T, dim=1, descending=True, stable=True)
        assert torch.equal(examples.indices[unit.name], order.indices[:, :5]), unit.name
        # the same images in other batches: convolutions round differently (4e-5 seen)
        torch.testing.assert_close(examples.values[unit.name], order.values[:, :5], rtol=1e-3, atol=1e-4)
    in_small_batches = top_k_pass(trained, examples.dataset, 5, batch_size=7)
    assert all(torch.equal(in_small_batches[0][name], examples.indices[name]) for name in examples.indices)
    top = examples.top("inception4c", 128 + 256 + 3)  # branch3's channel 3 in the module's numbering
    assert top == examples.top(UNIT, 3)
    pictures = examples.images(UNIT, 3)
    torch.testing.assert_close(pictures, validation[[index for index, _ in top]], rtol=0, atol=1e-5)


def test_the_cache_answers_the_second_time_and_is_rebuilt_when_the_weights_change(run_dir, tmp_path, monkeypatch):
    import shutil

    from googlenet.weights.model_dir import from_pretrained, save_pretrained

    run_dir = shutil.copytree(run_dir, tmp_path / "run")  # its weights change below: the other tests keep theirs
    passes = []
    forward_features = GoogLeNet.forward_features
    monkeypatch.setattr(GoogLeNet, "forward_features", lambda self, x: passes.append(len(x)) or forward_features(self, x))
    first = dataset_examples(run_dir)
    assert sum(passes) == first.size
    passes.clear()
    again = dataset_examples(run_dir)
    assert passes == [] and all(torch.equal(again.indices[name], first.indices[name]) for name in first.indices)

    model_dir = run_dir / "model"
    model = from_pretrained(model_dir)
    with torch.no_grad():
        model.inception4c.branch3[1].conv.weight.mul_(-1)
    save_pretrained(model, model_dir)
    rebuilt = dataset_examples(run_dir)
    assert sum(passes) == first.size
    assert not torch.equal(rebuilt.indices[UNIT], first.indices[UNIT])
    assert len(list((model_dir / CACHE_FOLDER).glob("validation-*.pt"))) == 1


def test_the_page_computes_a_branchs_sheet_in_the_background_then_answers_from_memory(run_dir):
    import time

    from fastapi.testclient import TestClient

    from googlenet.evaluation.model_source import find_model, load_model
    from googlenet.serving.app import create_app
    from googlenet.serving.options import ServeOptions

    app = create_app(load_model(run_dir), options=ServeOptions(backend="eager", warm_up=False),
                     source=find_model(run_dir))
    with TestClient(app) as client:
        assert client.get("/v1/channels/inception9z.branch1").status_code == 404
        refused = client.get("/v1/channels/inception3a.branch3?channels=31-32")
        assert refused.status_code == 422 and "channel 32 is out of range" in refused.json()["error"]
        first = client.get("/v1/channels/inception3a.branch3?channels=0,5").json()
        assert first["state"] == "computing" and 0 <= first["progress"] <= 1
        deadline = time.monotonic() + 300
        answer = first
        while answer["state"] == "computing" and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = client.get("/v1/channels/inception3a.branch3?channels=0,5").json()
        assert answer["state"] == "ready", answer
        assert [row["channel"] for row in answer["channels"]] == [0, 5]
        assert "validation split of fashion-mnist" in answer["examples_note"]
        examples = app.state.channel_sheets.examples
        row = answer["channels"][1]
        assert [item["index"] for item in row["examples"]] == [index for index, _ in examples.top("inception3a.branch3", 5)][:6]
        for url in (row["image"], row["examples"][0]["url"]):
            picture = client.get(url)
            assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        sheets = app.state.channel_sheets
        sheets.examples = None  # were anything recomputed, the next answer would say "computing"
        sheets.examples_note = "kept"
        assert client.get("/v1/channels/inception3a.branch3?channels=5,0").json()["state"] == "ready"


def test_the_commands_write_a_sheet_per_module_and_a_dream(run_dir, tmp_path, capsys):
    from PIL import Image

    from googlenet.cli import main
    from googlenet.visualise.sheet import GAP, TILE, TITLE_HEIGHT

    status = main(["visualise", str(run_dir), "--module", "inception3a,inception4c", "--branch", "3",
                   "--channels", "0-1,5", "--steps", "4", "--examples", "3", "--output", str(tmp_path / "sheets")])
    assert status == 0, capsys.readouterr().err
    for module in ("inception3a", "inception4c"):
        sheet = Image.open(tmp_path / "sheets" / f"{module}.branch3.png")
        assert sheet.height == TITLE_HEIGHT + 3 * (TILE + GAP) + GAP  # three channels, one row each
        columns = np.asarray(sheet.convert("L"))[TITLE_HEIGHT + TILE // 2]
        assert (columns < 250).sum() > 4 * TILE * 0.5  # the visualisation and three examples drawn, not blank

    assert main(["visualise", str(run_dir), "--module", "inception3a", "--channels", "0-300", "--steps", "1"]) == 2
    assert "channel 256 is out of range: inception3a has 256 channels" in capsys.readouterr().err

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60), dtype=np.uint8)).save(photo)
    dreamed = tmp_path / "dream.png"
    assert main(["dream", str(run_dir), str(photo), "--module", "inception3b", "--octaves", "2", "--steps", "3",
                 "--output", str(dreamed)]) == 0
    result = Image.open(dreamed)
    assert result.size == (60, 40) and result.mode == "L"
    assert np.abs(np.asarray(result, np.int16) - np.asarray(Image.open(photo), np.int16)).mean() > 1
