"""Fine-tuning on a folder of photos: time per epoch and peak memory of `googlenet train` at 224x224, the
torchvision flavour, with --freeze-to and without.

    python benchmarks/photo_finetune.py ROOT [--per-class 200] [--freeze-to inception4e] [--epochs 1]

ROOT receives the folder (made once, then reused), the initial weights, the runs and results.json.

The folder: 3 classes x 200 JPEGs (trouser, sneaker, bag) from Fashion-MNIST's training split, each upscaled
(bicubic) to a random size from 224 to 320 px a side, tinted with a random colour on a random light
background, and saved as colour JPEGs (quality 90): photo-sized files of real content, not noise.

The initial weights: a torchvision-format GoogLeNet file (`torchvision.models.googlenet`'s state_dict,
aux heads included) with torchvision's random initialisation, not ImageNet's weights, which this machine
cannot download. Time and memory do not depend on the values of the weights; accuracy does, so none is
reported.

Each configuration runs as its own `python -m googlenet train --data FOLDER --init FILE --input-size 224
--epochs 1` process, with the batch size googlenet chooses (printed; --batch-size N to fix one). Reported
per configuration: the epoch's training seconds (metrics.json's epoch_seconds), the whole command's wall
time (start-up, data checks, evaluations and writing the model included), the run's own early estimate
("time: about ..."), and the process's peak resident memory (os.wait4's ru_maxrss).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_IMAGES = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
FASHION_LABELS = Path("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
CLASSES = {1: "trouser", 7: "sneaker", 8: "bag"}  # Fashion-MNIST label -> folder name


def make_folder(folder: Path, per_class: int, seed: int = 0) -> Path:
    """folder/<class>/<n>.jpg: `per_class` colour JPEGs of each class (see the module's docstring)."""
    if folder.is_dir() and len(list(folder.rglob("*.jpg"))) == per_class * len(CLASSES):
        return folder
    with gzip.open(FASHION_IMAGES) as file:
        images = np.frombuffer(file.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FASHION_LABELS) as file:
        labels = np.frombuffer(file.read(), dtype=np.uint8, offset=8)
    rng = np.random.default_rng(seed)
    for label, name in CLASSES.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for number, index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            side = int(rng.integers(224, 321))
            grey = np.asarray(Image.fromarray(images[index]).resize((side, side), Image.Resampling.BICUBIC),
                              dtype=np.float32) / 255
            ink = rng.uniform(0.1, 0.9, size=3)  # the object's colour
            paper = rng.uniform(0.75, 1.0, size=3)  # a light background, as in a product photo
            pixels = grey[..., None] * ink + (1 - grey[..., None]) * paper
            Image.fromarray((pixels * 255).round().astype(np.uint8), "RGB").save(folder / name / f"{number:03d}.jpg",
                                                                                  quality=90)
    return folder


def random_torchvision_file(path: Path) -> Path:
    """A torchvision-format GoogLeNet file with torchvision's random initialisation (aux heads included)."""
    if not path.is_file():
        import torch
        import torchvision

        torch.manual_seed(0)
        model = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
        torch.save(model.state_dict(), path)
    return path


def run_training(root: Path, folder: Path, weights: Path, name: str, extra: list[str]) -> dict:
    run = root / "runs" / name
    command = [sys.executable, "-m", "googlenet", "train", "--data", str(folder), "--init", str(weights),
               "--input-size", "224", "--output-dir", str(run), "--overwrite", "--no-progress", "--no-tensorboard",
               *extra]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    log = (root / f"{name}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    log.close()
    output = (root / f"{name}.log").read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed:\n{output}")
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    estimate = next((line for line in output.splitlines() if line.startswith("time: about")), None)
    return {
        "name": name, "command": " ".join(command[1:]), "batch_size": config["batch_size"],
        "epochs": len(metrics), "epoch_seconds": [row["epoch_seconds"] for row in metrics],
        "wall_seconds": round(wall, 1), "early_estimate": estimate,
        "peak_rss_gib": round(usage.ru_maxrss * 1024 / 2**30, 2),  # ru_maxrss is in KiB on Linux
        "batch_decision": next((line.strip() for line in output.splitlines() if "batch size" in line), None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--freeze-to", default="inception4e")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None, help="default: googlenet's own choice")
    parser.add_argument("--only", choices=("all", "frozen"), default=None, help="one configuration only")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    folder = make_folder(args.root / "photos", args.per_class)
    weights = random_torchvision_file(args.root / "googlenet-random-torchvision.pth")
    common = ["--epochs", str(args.epochs)] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
    configurations = {"all": common, "frozen": [*common, "--freeze-to", args.freeze_to]}
    from googlenet.machine import describe_machine

    results = {"machine": str(describe_machine()), "folder": str(folder), "images": args.per_class * len(CLASSES),
               "runs": [run_training(args.root, folder, weights, name, extra) for name, extra in configurations.items()
                        if args.only in (None, name)]}
    (args.root / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
