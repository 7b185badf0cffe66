"""Run and model directories written before the package was restructured still load, predict and resume.

The fixture is made by the code of that time itself: the source at LEGACY_COMMIT, taken from this
repository's history, trains a tiny run in a subprocess. (Committing its files instead would add
~170 MB of checkpoints to the repository.)
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

LEGACY_COMMIT = "5535074"  # the last commit before the subpackage layout
REPOSITORY = Path(__file__).resolve().parents[1]

_LEGACY_TRAIN = """
from googlenet.train import TrainConfig, train
train(TrainConfig(output_dir={run!r}, train_subset=32, val_subset=16, batch_size=16, epochs=1, workers=0,
                  amp="off", progress=False, tensorboard=False, seed=1))
"""


@pytest.fixture(scope="module")
def legacy_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("legacy")
    found = subprocess.run(["git", "-C", str(REPOSITORY), "cat-file", "-e", f"{LEGACY_COMMIT}^{{commit}}"])
    assert found.returncode == 0, f"this test needs the repository's history (commit {LEGACY_COMMIT}): a full clone"
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", LEGACY_COMMIT, "src"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    run = root / "run"
    subprocess.run([sys.executable, "-c", _LEGACY_TRAIN.format(run=str(run))], check=True, capture_output=True,
                   env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"}, cwd=root)
    assert json.loads((run / "model" / "config.json").read_text())["architecture"] == "googlenet"
    return run


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "googlenet", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_a_legacy_model_directory_loads_with_its_classes_and_preprocessing(legacy_run):
    from googlenet import GoogLeNet

    model = GoogLeNet.from_pretrained(legacy_run / "model")
    assert len(model.class_names) == 10 and model.class_names[0] == "T-shirt/top"
    assert model.preprocessing.channel_order == "L"


@pytest.mark.slow
def test_a_legacy_run_directory_predicts(legacy_run, tmp_path):
    from PIL import Image

    image = tmp_path / "shirt.png"
    Image.new("L", (28, 28), 128).save(image)
    done = _cli("predict", str(legacy_run), str(image), "--json")
    assert done.returncode == 0, done.stderr
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert any(f'"{name}"' in done.stdout for name in classes), done.stdout


@pytest.mark.slow
def test_a_legacy_run_resumes_to_more_epochs(legacy_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(legacy_run, run)
    done = _cli("train", "--resume", str(run), "--epochs", "2", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    history = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
