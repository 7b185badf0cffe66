"""The README's quick start, run as written in a directory of its own: `make train` (told to train for a
few seconds instead of half an hour), then `googlenet predict` on the example image the README names, then
the commands the README suggests next (shortened: evaluate, explain, visualise, export; serve's options).

The commands are read from the README's first ```sh block, so a quick start that stops working, or names
an image a run does not leave, fails here. `. .venv/bin/activate` is what putting this interpreter's
`bin/` first on PATH does."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
SHORT_TRAINING = "--epochs 1 --train-subset 256 --val-subset 64 --test-subset 64 --batch-size 32 --no-progress"

pytestmark = pytest.mark.slow


def quick_start_commands(block: int = 0) -> list[str]:
    """The command lines of the README's Quick start section's first ```sh block (or another), comments dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    code = section.split("```sh\n")[block + 1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in code.splitlines()]
    return [command for command in commands if command]


def test_the_readme_quick_start_trains_and_predicts_on_the_image_it_names(tmp_path):
    assert FASHION_MNIST.exists(), "make test installs Debian's dataset-fashion-mnist before the tests"
    commands = quick_start_commands()
    assert commands[0] == "make train" and commands[1] == ". .venv/bin/activate", commands
    assert commands[2].startswith("googlenet predict "), commands
    for name in ("Makefile", "pyproject.toml"):
        (tmp_path / name).symlink_to(ROOT / name)
    venv = Path(sys.prefix)
    environment = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    # This environment is already set up: -o keeps make from building .venv again.
    made = subprocess.run(["make", "train", f"VENV={venv}", "-o", f"{venv}/.installed",
                           f"TRAIN_OPTIONS={SHORT_TRAINING}"],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert "the model recognises 10 classes" in made.stdout + made.stderr
    named_image = shlex.split(commands[2])[-1]
    assert (tmp_path / named_image).is_file(), f"the run left no {named_image}"
    predicted = subprocess.run(shlex.split(commands[2]), cwd=tmp_path, env=environment, capture_output=True,
                               text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr
    lines = [line for line in predicted.stdout.splitlines() if "%" in line]
    assert len(lines) == 5, predicted.stdout  # the 5 likeliest classes, each with its probability
    assert "warning" not in predicted.stderr  # a test image of the run's own fits the model

    # What the README suggests next, on the same run, shortened where the whole would take minutes on a
    # shared 2-core machine: evaluate on a few test images, visualise two channels in a few steps without the
    # pass over a split for dataset examples, a server's options only (serving is tested elsewhere).
    shorter = {"evaluate": ["--limit", "64"], "visualise": ["--channels", "0-1", "--steps", "8", "--examples", "0"],
               "serve": ["--help"]}
    for command in quick_start_commands(block=1):
        words = shlex.split(command)
        words += shorter.get(words[1], [])
        done = subprocess.run(words, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    assert (tmp_path / "runs/fashion-mnist/model/model.onnx").is_file()
