"""Every error path of the command line prints one line, `googlenet <command>: error: ... (see googlenet
<command> --help)`, and exits 2: usage errors argparse finds, and bad input the commands find."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from googlenet.cli import COMMANDS, main
from helpers import write_run_dir

CLASSES = [f"class {index}" for index in range(10)]
# what each command needs besides options, so that the mistyped option is the only problem
POSITIONALS = {"predict": ["MODEL", "IMAGE"], "explain": ["MODEL", "IMAGE"], "evaluate": ["MODEL"],
               "export": ["MODEL"], "serve": ["MODEL"], "import-torchvision": ["IN.pth", "OUT"],
               "visualise": ["MODEL"], "dream": ["MODEL", "IMAGE"]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("errors") / "run"
    write_run_dir(run, {"data": "fashion-mnist"}, CLASSES, in_chans=1)
    return run


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    return path


def error_of(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_info:  # argparse's own errors
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, command: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.fullmatch(rf"googlenet {command}: error: .+ \(see googlenet {command} --help\)", lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_mistyped_option_names_the_command_and_its_help(capsys, command):
    code, err = error_of(capsys, command, *POSITIONALS.get(command, []), "--topk", "3")
    line = assert_one_line_error(code, err, command)
    assert "--topk" in line


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "serve", "explain"])
def test_a_missing_model_directory_names_the_command_and_its_help(capsys, tmp_path, command, photo):
    images = [str(photo)] if command in ("predict", "explain") else []
    code, err = error_of(capsys, command, str(tmp_path / "nowhere"), *images)
    assert "nowhere" in assert_one_line_error(code, err, command)


def test_the_other_error_paths_are_one_line_too(capsys, tmp_path, run_dir, photo, monkeypatch):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    gray = tmp_path / "gray.png"  # fits the grayscale model: no warning line before the error
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(gray)
    monkeypatch.chdir(tmp_path)  # train's default output directory
    cases = [
        ("explain", [str(run_dir), str(broken)], "broken.png"),
        ("explain", [str(run_dir), str(tmp_path / "missing.png")], "missing.png"),
        ("explain", [str(run_dir), str(gray), "--class", "Giraffe"], "Giraffe"),
        ("predict", [str(run_dir), str(photo), "--top-k", "50"], "--top-k must be from 1 to 10"),
        ("predict", [str(run_dir), str(photo), "--top-k", "many"], "invalid int value"),
        ("train", ["--data", str(tmp_path / "no-such-folder")], "no-such-folder"),
        ("train", ["--epochs", "0"], "--epochs"),
        ("train", ["--flavour", "none"], "invalid choice"),
        ("summary", ["--input-size", "8"], "8"),
        ("evaluate", [str(run_dir), "--tta", "sideways"], "sideways"),
    ]
    for command, arguments, named in cases:
        code, err = error_of(capsys, command, *arguments)
        assert named in assert_one_line_error(code, err, command), (command, arguments)


def test_top_k_beyond_the_classes_is_refused_by_predict_as_by_the_server(run_dir, photo):
    from googlenet.evaluation.predict import predict

    with pytest.raises(ValueError, match=r"top_k must be from 1 to 10 \(this model has 10 classes\), got 50"):
        predict(run_dir, [photo], top_k=50)
    assert len(predict(run_dir, [photo]).predictions[0].top_k) == 5


def test_the_default_top_k_is_every_class_of_a_model_with_fewer_than_5(tmp_path, photo, capsys):
    run = tmp_path / "run"
    write_run_dir(run, {"data": "fashion-mnist"}, ["cat", "dog"])
    code = main(["predict", str(run), str(photo), "--json"])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)["predictions"][0]["top_k"]) == 2


def test_an_unavailable_backend_lists_plain_the_default(capsys, run_dir, photo, monkeypatch):
    import googlenet.inference.optimize as optimize

    monkeypatch.setattr(optimize, "backend_problem",
                        lambda backend, device="cpu": "the openvino backend needs OpenVINO: pip install openvino"
                        if backend == "openvino" else None)
    code, err = error_of(capsys, "predict", str(run_dir), str(photo), "--backend", "openvino")
    line = assert_one_line_error(code, err, "predict")
    assert "pip install openvino" in line and "Available here: plain (the default), auto, eager" in line


def test_train_help_offers_no_flavour_called_none(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--flavour {paper,bn,torchvision}" in capsys.readouterr().out


def test_the_licence_pyproject_names_is_in_the_repository():
    root = Path(__file__).resolve().parents[1]
    assert 'license = { text = "MIT" }' in (root / "pyproject.toml").read_text()
    text = (root / "LICENSE").read_text()
    assert text.startswith("MIT License") and "the googlenet authors" in text


def test_a_library_warning_points_at_the_callers_line(run_dir, photo):
    from googlenet.evaluation.input_fit import InputFitWarning
    from googlenet.evaluation.predict import predict

    with pytest.warns(InputFitWarning) as record:
        predict(run_dir, [photo])  # a colour photo for a grayscale model, through torch.no_grad's wrapper
    assert record[0].filename == __file__
