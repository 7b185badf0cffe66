"""Evaluation counts what it says: images that fail to decode are excluded and named, never replaced; `evaluate`
reads the data set from the run, names the model, its weights and epoch, and says when images do not fit."""

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from googlenet.data import UnreadableImage, collate_skipping_unreadable, eval_preset, load_data, load_image
from googlenet.evaluation.evaluate import evaluate, evaluate_loader, evaluate_model
from googlenet.evaluation.input_fit import InputFitWarning
from helpers import image_tree, real_scale_googlenet, save_image, write_idx_set, write_model_dir, write_run_dir

CLASSES = ["cat", "dog"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))


class Samples(Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


def expected_top1(model, samples) -> tuple[float, int]:
    """Top-1 (percent) and count over the readable samples, computed one by one."""
    readable = [(image, label) for image, label in samples if not isinstance(image, UnreadableImage)]
    with torch.no_grad():  # one batch: eval-mode BatchNorm treats each image alone
        predicted = model(torch.stack([image for image, _ in readable])).argmax(dim=1).tolist()
    return 100 * sum(p == label for p, (_, label) in zip(predicted, readable)) / len(readable), len(readable)


def test_unreadable_images_are_excluded_counted_and_named_not_replaced():
    model = real_scale_googlenet("bn", num_classes=3, aux_logits=False).eval()
    generator = torch.Generator().manual_seed(0)
    samples = [(torch.randn(3, 32, 32, generator=generator), index % 3) for index in range(7)]
    samples[2] = (UnreadableImage("/data/b.png", "cannot decode the image (truncated)"), 1)
    samples[5] = (UnreadableImage("/data/e.png", "cannot decode the image (broken)"), 0)
    loader = DataLoader(Samples(samples), batch_size=3, collate_fn=collate_skipping_unreadable)
    result = evaluate_loader(model, loader, num_classes=3)
    top1, count = expected_top1(model, samples)
    assert result.count == count == 5 and result.top1 == pytest.approx(top1)
    assert result.skipped == [{"path": "/data/b.png", "reason": "cannot decode the image (truncated)"},
                              {"path": "/data/e.png", "reason": "cannot decode the image (broken)"}]
    assert sum(map(sum, result.confusion_matrix)) == 5
    assert json.loads(json.dumps(result.to_dict()))["skipped"][1]["path"] == "/data/e.png"
    assert "model" not in result.to_dict()  # the naming fields only where set: evaluate_loader sets none

    plain = DataLoader(Samples([sample for sample in samples if not isinstance(sample[0], UnreadableImage)]),
                       batch_size=3)  # torch's default collate: (images, targets)
    again = evaluate_loader(model, plain, num_classes=3)
    assert (again.count, again.top1, again.skipped) == (5, result.top1, [])

    everything_broken = [(UnreadableImage(f"/data/{index}.png", "gone"), 0) for index in range(2)]
    with pytest.raises(ValueError, match=r"nothing to evaluate.*all 2 image\(s\) failed to decode, e.g. /data/0.png"):
        evaluate_loader(model, DataLoader(Samples(everything_broken), collate_fn=collate_skipping_unreadable), 3)


@pytest.mark.parametrize("tta", ["center", "10crop"])
def test_evaluate_model_excludes_an_image_damaged_after_loading(tmp_path, tta):
    image_tree(tmp_path / "set" / "train", per_class=4)
    image_tree(tmp_path / "set" / "val", per_class=3)
    splits = load_data(tmp_path / "set")
    model = write_model_dir(tmp_path / "model", CLASSES, input_size=32, resize_size=36 if tta == "10crop" else 32)
    broken, _ = splits.validation_images.samples[4]
    Path(broken).write_bytes(b"\xff\xd8\xff\xe0 damaged since it was checked")
    result = evaluate_model(model, splits.validation_images, model.preprocessing, 2, tta=tta, batch_size=40)
    assert result.count == 5 and [entry["path"] for entry in result.skipped] == [broken]
    assert result.skipped[0]["reason"].startswith("cannot decode the image")
    if tta == "center":
        transform = eval_preset(model.preprocessing)
        samples = [(transform(load_image(path)), label) for path, label in splits.validation_images.samples
                   if path != broken]
        assert result.top1 == pytest.approx(expected_top1(model, samples)[0])


def run_with_folder(tmp_path: Path, **model_options) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    image_tree(folder / "train", per_class=4)
    image_tree(folder / "val", per_class=2)
    image_tree(folder / "test", per_class=3)
    (folder / "test" / "dog" / "broken.png").write_bytes(b"not a png")
    run = tmp_path / "run"
    write_run_dir(run, {"data": str(folder), "data_dir": None, "val_fraction": 0.1, "seed": 0}, CLASSES, epoch=4,
                  weights="ema", **model_options)
    return run, folder


def test_evaluate_reads_the_data_set_from_the_run_and_names_what_it_measured(tmp_path):
    run, folder = run_with_folder(tmp_path)
    with pytest.warns(UserWarning, match="broken.png"):  # the up-front check of the folder
        result = evaluate(run)
    assert (result.model, result.weights, result.epoch) == (str(run / "model"), "ema", 4)
    assert (result.data, result.split, result.tta, result.count) == (str(folder), "test", "center", 6)
    assert result.skipped == [{"path": str(folder / "test" / "dog" / "broken.png"), "reason": "not an image"}]
    model = load_model_for_check(run)
    transform = eval_preset(model.preprocessing)
    samples = [(transform(load_image(path)), ["cat", "dog"].index(Path(path).parent.name))
               for path in sorted(map(str, (folder / "test").rglob("*.*"))) if not path.endswith("broken.png")]
    assert result.top1 == pytest.approx(expected_top1(model, samples)[0])

    with pytest.warns(UserWarning):
        validation = evaluate(run / "model", split="validation", limit=3)  # the model directory inside the run
    assert (validation.split, validation.count, validation.skipped, validation.epoch) == ("validation", 3, [], 4)
    document = validation.to_dict()
    assert {"model", "weights", "epoch", "data", "split", "tta", "count", "skipped", "top1"} <= set(document)


def load_model_for_check(run: Path):
    from googlenet.weights.model_dir import from_pretrained

    return from_pretrained(run / "model")


def test_evaluate_uses_the_runs_validation_split_for_a_built_in_set(tmp_path):
    write_idx_set(tmp_path / "fm", train=40)
    run = tmp_path / "run"
    names = load_data("fashion-mnist", data_dir=tmp_path / "fm").classes
    write_run_dir(run, {"data": "fashion-mnist", "data_dir": str(tmp_path / "fm"), "val_fraction": 0.5, "seed": 3},
                  names, in_chans=1)
    result = evaluate(run, split="validation")
    assert result.count == 20 and result.data == "fashion-mnist"  # half of each class, as the run held out
    test = evaluate(run)
    assert (test.split, test.count) == ("test", 6)


def test_evaluate_without_a_recorded_data_set_or_with_other_classes_says_so(tmp_path):
    write_model_dir(tmp_path / "model", CLASSES)
    with pytest.raises(ValueError, match=r"no data given, and .*model records no data set .*pass data"):
        evaluate(tmp_path / "model")
    image_tree(tmp_path / "other", classes=("ant", "bee"), per_class=4)
    with pytest.raises(ValueError, match=r"has classes \['ant', 'bee'\].*trained on \['cat', 'dog'\]"):
        evaluate(tmp_path / "model", tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="does not exist: give a model directory or a training run"):
        evaluate(tmp_path / "nowhere", tmp_path / "other")


def test_evaluate_warns_once_when_every_image_must_change_channels(tmp_path):
    image_tree(tmp_path / "photos", per_class=6, size=(40, 40))
    write_model_dir(tmp_path / "gray", CLASSES, in_chans=1)
    with pytest.warns(InputFitWarning) as caught:
        result = evaluate(tmp_path / "gray", tmp_path / "photos", split="validation")
    assert len(caught) == 1 and "converted colour -> grayscale" in str(caught[0].message)
    assert result.warnings == [str(caught[0].message)] and result.count == 2
    big = tmp_path / "big"
    for name in CLASSES:
        for index in range(4):
            save_image(big / name / f"{index}.png", "L", size=(300, 300), seed=index)
    with pytest.warns(InputFitWarning, match=r"images shrunk 9.4x \(median shorter side 300 px\)"):
        evaluate(tmp_path / "gray", big, split="validation")
