"""The command line: exit codes, one-line errors, MODEL as a run or a model directory, --json, --version.

Most tests call `googlenet.cli.main` in this process (a second each); a few run the installed command
the way a user types it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import googlenet
from googlenet.cli import COMMANDS, main
from googlenet.cli.common import EXIT_CODES
from helpers import write_idx_set

FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]


def saved_run(root: Path, epoch: int = 3, weights: str = "ema", classes: list[str] = FASHION_NAMES,
              in_chans: int = 1) -> Path:
    """A run directory as training leaves it: config.json (the TrainConfig) and model/ with evaluation.json;
    its data set is a tiny Fashion-MNIST in root/idx."""
    from googlenet.models.preprocessing import Preprocessing
    from googlenet.weights.model_dir import save_pretrained

    run = root / "run"
    model = googlenet.googlenet("bn", num_classes=len(classes), in_chans=in_chans, aux_logits=False)
    preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.286,) * in_chans, std=(0.353,) * in_chans,
                                  channel_order="L" if in_chans == 1 else "RGB")
    save_pretrained(model, run / "model", class_names=classes, preprocessing=preprocessing)
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist", "data_dir": str(root / "idx"),
                                                 "val_fraction": 0.1, "seed": 0}))
    (run / "model" / "evaluation.json").write_text(json.dumps({"epoch": epoch, "weights": weights}))
    write_idx_set(root / "idx", train=20, test=10)
    return run


def images(root: Path) -> tuple[Path, Path]:
    """A readable RGB photo and a file that is not an image."""
    photo, broken = root / "photo.png", root / "broken.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photo)
    broken.write_bytes(b"not an image")
    return photo, broken


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, command: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(f"googlenet {command}: error: "), err
    assert "Traceback" not in err


# --- help, version, exit codes ---------------------------------------------------------------------


def test_version_names_the_package_and_torch(capsys):
    import torch

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip().startswith(f"googlenet {googlenet.__version__} (torch {torch.__version__}")


def test_top_level_help_lists_every_command_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in text
    for code, meaning in EXIT_CODES.items():
        assert f"{code:<4} {meaning}" in text


@pytest.mark.parametrize(("stop", "status", "said"), [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                     (signal.SIGINT, 130, "interrupted")], ids=["sigterm", "ctrl-c"])
def test_a_stop_signal_ends_a_command_after_its_clean_up_with_128_plus_the_signal(capsys, monkeypatch, stop, status,
                                                                                    said):
    """Every command: SIGTERM raises where the command is, as Ctrl-C does, so `finally` blocks (temporary
    files, checkpoints) run; the status is what a shell reports for a process the signal stopped."""
    cleaned_up = []

    def stopped_midway(args):
        try:
            os.kill(os.getpid(), stop)
            time.sleep(30)  # the signal arrives first
        finally:
            cleaned_up.append(True)
        return 0

    monkeypatch.setattr(COMMANDS["summary"], "run", stopped_midway)
    # Ctrl-C as a terminal delivers it: a process started in the background (`cmd &`, nohup) inherits SIGINT
    # ignored, and then the signal above would never arrive.
    previous_interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGTERM)
    try:
        code, _, err = run_main(capsys, "summary")
    finally:
        signal.signal(signal.SIGINT, previous_interrupt)
    assert (code, err.strip(), cleaned_up) == (status, f"googlenet summary: {said}", [True])
    assert signal.getsignal(signal.SIGTERM) is before  # this process's own handling, back as it was


def test_a_usage_error_is_one_line_and_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--top-k", "many", "model", "x.png"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == ("googlenet predict: error: argument --top-k: invalid int value: 'many' "
                           "(see googlenet predict --help)")


def test_an_unexpected_failure_is_one_line_exit_3_and_traceback_on_request(capsys, monkeypatch):
    def broken(args):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(COMMANDS["summary"], "run", broken)
    code, _, err = run_main(capsys, "summary")
    assert code == 3
    assert err.strip() == ("googlenet summary: error: RuntimeError: CUDA out of memory "
                           "(GOOGLENET_TRACEBACK=1 shows where)")
    monkeypatch.setenv("GOOGLENET_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        main(["summary"])


def test_library_warnings_are_one_line_named_by_the_command(capsys, monkeypatch):
    import warnings

    def warns(args):
        warnings.warn("an RGB image was converted to grayscale to fit the model", UserWarning)
        return 0

    monkeypatch.setattr(COMMANDS["summary"], "run", warns)
    code, _, err = run_main(capsys, "summary")
    assert code == 0
    assert err.strip() == "googlenet summary: warning: an RGB image was converted to grayscale to fit the model"


# --- MODEL: a run directory or a model directory ---------------------------------------------------


@pytest.mark.parametrize("which", ["run", "model"])
def test_predict_json_has_one_entry_per_input_and_names_the_model(tmp_path, capsys, which):
    run = saved_run(tmp_path)
    photo, broken = images(tmp_path)
    model = run if which == "run" else run / "model"
    code, out, err = run_main(capsys, "predict", str(model), str(photo), str(broken), str(tmp_path / "gone.png"),
                              "--top-k", "2", "--json")
    assert code == 1  # some inputs failed
    report = json.loads(out)
    assert (report["model"], report["run_dir"], report["epoch"], report["weights"]) == (
        str(run / "model"), str(run), 3, "ema")
    entries = report["predictions"]
    assert [entry["path"] for entry in entries] == [str(photo), str(broken), str(tmp_path / "gone.png")]
    assert [guess["class_name"] in FASHION_NAMES for guess in entries[0]["top_k"]] == [True, True]
    assert entries[0]["error"] is None and entries[1]["error"] and entries[2]["error"]
    assert any("colour -> grayscale" in warning for warning in report["warnings"])  # an RGB photo, a grayscale model
    assert f"googlenet predict: {broken}: {entries[1]['error']}" in err
    assert "googlenet predict: warning: " in err


def test_predict_succeeds_with_exit_0_and_names_the_model_in_text(tmp_path, capsys):
    run = saved_run(tmp_path, epoch=5, weights="raw")
    photo, _ = images(tmp_path)
    code, out, _ = run_main(capsys, "predict", str(run), str(photo), "--top-k", "1")
    assert code == 0
    assert out.splitlines()[0] == f"model: {run / 'model'} (epoch 5, raw weights)"
    assert out.splitlines()[1] == str(photo)


def test_evaluate_defaults_to_the_data_set_the_run_recorded(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))
    run = saved_run(tmp_path)
    code, out, err = run_main(capsys, "evaluate", str(run), "--json", "--batch-size", "4")
    assert code == 0, err
    result = json.loads(out)
    assert (result["data"], result["split"], result["count"]) == ("fashion-mnist", "test", 10)
    assert (result["model"], result["run_dir"], result["epoch"], result["weights"]) == (
        str(run / "model"), str(run), 3, "ema")
    assert result["skipped"] == [] and len(result["confusion_matrix"]) == 10


def test_evaluate_counts_and_names_unreadable_images_with_exit_1(tmp_path, capsys):
    run = saved_run(tmp_path, classes=["apple", "pear"], in_chans=3)
    folder = tmp_path / "fruit"
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("apple", "pear"):
            (folder / split / name).mkdir(parents=True)
            for index in range(3):
                pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / name / f"{index}.png")
    broken = folder / "val" / "pear" / "broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    code, out, err = run_main(capsys, "evaluate", str(run), "--data", str(folder), "--json")
    assert code == 1, err
    result = json.loads(out)
    assert (result["split"], result["count"]) == ("validation", 6)
    assert [entry["path"] for entry in result["skipped"]] == [str(broken)]
    assert f"googlenet evaluate: {broken}: " in err


@pytest.mark.slow
def test_export_takes_a_run_directory(tmp_path, capsys):
    run = saved_run(tmp_path)
    code, out, err = run_main(capsys, "export", str(run), "--format", "torchscript")
    assert code == 0, err
    assert (run / "model" / "model.torchscript.pt").is_file()
    assert json.loads((run / "model" / "model.torchscript.pt.json").read_text())["class_names"] == FASHION_NAMES


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_a_missing_model_is_bad_input(tmp_path, capsys, command):
    extra = [str(tmp_path)] if command == "predict" else []
    code, _, err = run_main(capsys, command, str(tmp_path / "nowhere"), *extra)
    assert code == 2
    assert_one_line_error(err, command)
    assert "nowhere does not exist" in err


def test_a_run_without_a_model_yet_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist"}))
    (run / "checkpoint_last.pt").write_bytes(b"")
    code, _, err = run_main(capsys, "export", str(run))
    assert code == 2 and "without a model yet" in err


def test_a_corrupt_model_directory_is_bad_input_naming_the_file(tmp_path, capsys):
    run = saved_run(tmp_path)
    (run / "model" / "config.json").write_text("{ not json")
    photo, _ = images(tmp_path)
    code, _, err = run_main(capsys, "predict", str(run / "model"), str(photo))
    assert code == 2
    assert_one_line_error(err, "predict")
    assert "config.json" in err


def test_evaluate_without_data_and_without_a_record_asks_for_data(tmp_path, capsys):
    run = saved_run(tmp_path)
    (run / "config.json").unlink()  # a bare model directory: nothing says what it was trained on
    code, _, err = run_main(capsys, "evaluate", str(run / "model"))
    assert code == 2 and "no data set" in err and "--data" in err


@pytest.mark.slow
def test_a_command_imports_only_what_it_uses():
    """`googlenet summary` builds its own options only: no data, training, PIL or server code is loaded."""
    code = ("import contextlib, io, sys\n"
            "from googlenet.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['summary', '--input-size', '64']) == 0\n"
            "heavy = ('googlenet.data', 'googlenet.training', 'googlenet.evaluation', 'googlenet.inference', "
            "'googlenet.weights', 'PIL', 'matplotlib', 'fastapi', 'onnx')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- the installed command ---------------------------------------------------------------------------


@pytest.mark.slow
def test_console_script_and_python_dash_m_run_the_same_command():
    script = Path(sys.executable).parent / "googlenet"
    for command in ([str(script)], [sys.executable, "-m", "googlenet"]):
        result = subprocess.run([*command, "summary", "--json"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["flavour"] == "paper"


def test_a_missing_optional_dependency_is_bad_input_but_a_broken_install_is_not(capsys, monkeypatch):
    def needs(name):
        def run(args):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return run

    monkeypatch.setattr(COMMANDS["summary"], "run", needs("onnxscript"))
    assert run_main(capsys, "summary")[0] == 2
    monkeypatch.setattr(COMMANDS["summary"], "run", needs("googlenet.weights.gone"))
    assert run_main(capsys, "summary")[0] == 3


# --- summary ---------------------------------------------------------------------------------------------


def test_summary_prints_table_1_and_the_module_comparison(capsys):
    code, out, err = run_main(capsys, "summary")
    assert code == 0, err
    assert "inception4e" in out and "14x14x832" in out
    assert "573,824" in out and "177,376" in out
    assert "6,998,552 parameters" in out


def test_summary_json_is_measured_at_the_requested_size(capsys):
    code, out, err = run_main(capsys, "summary", "--flavour", "torchvision", "--input-size", "96", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["flavour"] == "torchvision" and report["input_size"] == 96
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["inception3a"]["ch5x5"] == 32 and rows["inception3a"]["output_size"] == "12x12x256"
    assert report["module_comparison"]["naive_params"] == 573_824


@pytest.mark.slow  # the naive network has 97M parameters
def test_summary_naive(capsys):
    report = json.loads(run_main(capsys, "summary", "--naive", "--json")[1])
    assert report["naive"] and {row["name"]: row for row in report["rows"]}["inception3a"]["output_size"] == "28x28x416"


def test_summary_refuses_a_too_small_input_with_a_message(capsys):
    code, _, err = run_main(capsys, "summary", "--input-size", "20")
    assert code == 2
    assert "input size 20 is below the 'paper' flavour's minimum of 31" in err
    assert_one_line_error(err, "summary")


def test_unknown_flavour_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["summary", "--flavour", "caffe"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "bn" in err and "torchvision" in err


@pytest.mark.slow
def test_a_trained_run_directory_works_with_predict_evaluate_export_and_resume(tmp_path, capsys, monkeypatch):
    """The run directory the real trainer writes (not a stand-in): predict, evaluate, export, resume."""
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))
    write_idx_set(tmp_path / "idx", train=40, test=10)
    run = tmp_path / "run"
    common = ["--data-dir", str(tmp_path / "idx"), "--batch-size", "4", "--no-progress", "--no-tensorboard"]
    code, out, err = run_main(capsys, "train", "--epochs", "1", "--output-dir", str(run), *common)
    assert code == 0, err
    photo, _ = images(tmp_path)

    code, out, err = run_main(capsys, "predict", str(run), str(photo), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["model"], report["epoch"]) == (str(run / "model"), 1) and report["weights"] in ("raw", "ema")
    code, out, err = run_main(capsys, "evaluate", str(run), "--json")
    assert code == 0, err
    assert (json.loads(out)["data"], json.loads(out)["count"]) == ("fashion-mnist", 10)
    code, out, err = run_main(capsys, "export", str(run), "--format", "torchscript")
    assert code == 0, err
    exported = run / "model" / "model.torchscript.pt"
    assert exported.is_file() and exported.stat().st_size > 1_000_000  # the network's weights, not a stub

    code, out, err = run_main(capsys, "train", "--resume", str(run), "--epochs", "2")  # only --epochs changes
    assert code == 0, err
    recorded = json.loads((run / "config.json").read_text())
    assert (recorded["epochs"], recorded["batch_size"]) == (2, 4)  # the new length; the rest as the run began
