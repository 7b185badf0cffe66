"""Every argument that names a model or weights, through every entry point, against one table of inputs: a path
is a path (a missing one is "does not exist" with the nearest name, at once, without the network), the Hub
only as hf-hub:user/repo (here offline, not in the cache). googlenet.weights.sources answers for all."""

import importlib.util
import json
import re
import socket
import time
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from PIL import Image

from helpers import copy_linking_weights, write_model_dir
from googlenet.cli import main

CHECKOUT = Path(__file__).resolve().parents[1]
SECONDS = 2.0  # generous: a name taken for a Hub repository costs 25 s of retries

# input -> what every model entry point answers: None (it loads) or a pattern its one line must match
INPUTS = {
    "model directory": ("saved/model-dir", None),
    "run directory": ("runs/fashion-mnist", None),
    "typo": ("runs/fashon-mnist", r"runs/fashon-mnist does not exist \(did you mean runs/fashion-mnist\?\)"),
    "file": ("notes.txt", r"notes.txt is a file"),
    "empty directory": ("empty", r"empty is an empty directory"),
    "bare user/repo": ("someone/googlenet-tiny", r"someone/googlenet-tiny does not exist \(a Hugging Face Hub "
                                                 r"repository is written hf-hub:someone/googlenet-tiny\)"),
    "hf-hub, not cached": ("hf-hub:someone/googlenet-tiny", r"Hub repository hf-hub:someone/googlenet-tiny: "
                                                            r"config.json is not in the Hugging Face cache"),
}
# entry points whose answers differ from a model loader's
RESUME = {"model directory": r"saved/model-dir is a model directory, not a training run directory",
          "run directory": None, "hf-hub, not cached": r"hf-hub:someone/googlenet-tiny does not exist"}
HUBCONF_WEIGHTS = r"unknown GoogLeNet weights '{name}'; choose one of: IMAGENET1K_V1, DEFAULT \(a model directory.*" \
                  r"loads with from_pretrained\)"


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """runs/fashion-mnist (a run with its model/), saved/model-dir, notes.txt, empty/, photo.png."""
    root = tmp_path_factory.mktemp("names")
    write_model_dir(root / "saved" / "model-dir", ["cat", "dog"])
    run = root / "runs" / "fashion-mnist"
    copy_linking_weights(root / "saved" / "model-dir", run / "model")
    (run / "config.json").write_text(json.dumps({"data": str(root / "images"), "epochs": 3}))
    (run / "checkpoint_last.pt").write_bytes(b"")
    (root / "notes.txt").write_text("not a model\n")
    (root / "empty").mkdir()
    for index, name in enumerate(("cat", "dog")):
        (root / "images" / name).mkdir(parents=True)
        pixels = np.random.default_rng(index).integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / name / "0.png")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "photo.png")
    return root


@pytest.fixture
def offline(place, monkeypatch):
    """In `place`, an empty Hugging Face cache read offline; any connection fails the test."""
    monkeypatch.chdir(place)
    cache = place / "hf" / "hub"
    for name, value in (("HF_HUB_CACHE", str(cache)), ("HF_HUB_OFFLINE", True)):
        monkeypatch.setattr(huggingface_hub.constants, name, value)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def connect(self, address):
        pytest.fail(f"a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)


def _hubconf():
    spec = importlib.util.spec_from_file_location("hubconf_for_names", CHECKOUT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python(call):
    """Run an API entry point: (None, elapsed) when it returns, (the error's one line, elapsed) when it raises."""
    start = time.perf_counter()
    try:
        call()
    except (ValueError, FileNotFoundError, ImportError) as error:
        return str(error), time.perf_counter() - start
    return None, time.perf_counter() - start


def _command(capsys, *argv):
    """Run `googlenet ARGV` in this process until its work begins (`stop_the_work`): (None, elapsed) when the
    model was loaded, (stderr's error line, elapsed) otherwise."""
    start = time.perf_counter()
    code = main(list(argv))
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    if "Reached: the model was loaded" in err:
        return None, elapsed
    assert code == 2, err  # bad input, said in one line
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"googlenet {argv[0]}: error: "), err
    return lines[0], elapsed


class Reached(Exception):
    """Raised by a command's work once it has the model: what follows (the forward passes, the server) is not
    about names, and costs seconds."""


@pytest.fixture(scope="module")
def warm():
    """The modules the commands import on first use, imported before any clock starts."""
    import googlenet.evaluation.evaluate
    import googlenet.evaluation.predict
    import googlenet.explain.render
    import googlenet.serving.app
    import googlenet.weights.export
    import torchvision.transforms.v2  # noqa: F401
    import uvicorn  # noqa: F401


def stop_the_work(monkeypatch, loaded):
    """Each command's work replaced by a recorder of the model it was given (`loaded`), then `Reached`."""
    import googlenet.evaluation.evaluate
    import googlenet.evaluation.predict
    import googlenet.explain.attribution
    import googlenet.serving.app
    import googlenet.weights.export
    from googlenet.explain.inputs import as_model
    from googlenet.weights.model_dir import read_model_config

    def record(model, *args, **kwargs):
        if isinstance(model, Path):  # export is given the model directory the command found
            loaded.append(read_model_config(model / "config.json")[1])
        else:
            loaded.append(as_model(model))  # explain is given the name, as the command line was
        raise Reached("the model was loaded")

    for module, name in ((googlenet.evaluation.predict, "predict"), (googlenet.evaluation.evaluate, "evaluate"),
                         (googlenet.explain.attribution, "explain"), (googlenet.serving.app, "create_app"),
                         (googlenet.weights.export, "export")):
        monkeypatch.setattr(module, name, record)


def entry_points(capsys, tmp_path):
    """entry point -> call(name) -> (its error line or None, seconds)."""
    import googlenet
    from googlenet.weights.init import read_initial_weights
    from googlenet.weights.sources import locate_run

    hubconf = _hubconf()
    return {
        "googlenet.from_pretrained": lambda name: _python(lambda: googlenet.from_pretrained(name)),
        "googlenet.transforms_for": lambda name: _python(lambda: googlenet.transforms_for(name)),
        "hubconf from_pretrained": lambda name: _python(lambda: hubconf.from_pretrained(name)),
        "hubconf googlenet": lambda name: _python(lambda: hubconf.googlenet(weights=name)),
        "--init": lambda name: _python(lambda: read_initial_weights(name)),
        "--resume": lambda name: _python(lambda: locate_run(name)),
        "predict": lambda name: _command(capsys, "predict", name, "photo.png"),
        "evaluate": lambda name: _command(capsys, "evaluate", name, "--data", "images", "--split", "validation"),
        "explain": lambda name: _command(capsys, "explain", name, "photo.png",  # through explain's as_model
                                         "--output", str(tmp_path / "e.png")),
        "export": lambda name: _command(capsys, "export", name, "--format", "torchscript",
                                        "--output", str(tmp_path / "model.pt")),
        "serve": lambda name: _command(capsys, "serve", name, "--port", "0"),
    }


def expected(entry: str, case: str, name: str) -> str | None:
    if entry == "hubconf googlenet":
        return HUBCONF_WEIGHTS.format(name=re.escape(name))
    if entry == "--resume" and case in RESUME:
        return RESUME[case]
    return INPUTS[case][1]


@pytest.mark.parametrize("case", list(INPUTS))
def test_every_entry_point_answers_a_name_at_once_in_one_line(case, offline, warm, capsys, monkeypatch, tmp_path):
    name = INPUTS[case][0]
    loaded = []
    stop_the_work(monkeypatch, loaded)
    answers = {entry: call(name) for entry, call in entry_points(capsys, tmp_path).items()}
    for entry, (line, seconds) in answers.items():
        want = expected(entry, case, name)
        if want is None:  # loaded: its time is the model's, on a shared machine; no name reached the network
            assert line is None, f"{entry} {name}: {line}"
        else:
            assert line is not None and "\n" not in line, f"{entry} {name}: {line!r}"
            assert re.search(want, line), f"{entry} {name}: {line}"
            assert seconds < SECONDS, f"{entry} {name}: {seconds:.1f} s"
    # The commands that loaded got the model the name stands for (its classes), not another.
    assert all(list(model.class_names) == ["cat", "dog"] for model in loaded)
    assert len(loaded) == (5 if INPUTS[case][1] is None else 0)
