"""Fine-tuning on a folder of photos: time per epoch and peak memory of `googlenet train` at 224x224, the
torchvision flavour, with --freeze-to and without.

    python benchmarks/photo_finetune.py ROOT [--batch-size 32] [--steps 2] [--freeze-to inception4e]
    python benchmarks/photo_finetune.py ROOT --whole-epoch       # one whole epoch by `googlenet train` instead

ROOT receives the folder (made once, then reused), the initial weights, the runs and results.json.

The folder: 3 classes x 200 JPEGs (trouser, sneaker, bag) from Fashion-MNIST's training split, each upscaled
(bicubic) to a random size from 224 to 320 px a side, tinted with a random colour on a random light
background, and saved as colour JPEGs (quality 90): photo-sized files of real content, not noise.

The initial weights: a torchvision-format GoogLeNet file (`torchvision.models.googlenet`'s state_dict,
aux heads included) with torchvision's random initialisation, not ImageNet's weights, which this machine
cannot download. Time and memory do not depend on the values of the weights; accuracy does, so none is
reported.

Each configuration (all layers trained; --freeze-to STAGE) runs in a process of its own, as `googlenet train
--data FOLDER --init FILE --input-size 224` would: by default the library's Trainer, stopped after one
untimed step and --steps timed ones; the time per epoch is the time per step times the epoch's steps
(evaluations aside), and the peak memory the process's peak resident set (getrusage's ru_maxrss), data,
model and optimizer included. --whole-epoch runs `python -m googlenet train --epochs 1` instead and reports
its epoch_seconds (metrics.json), its wall time and its peak memory (os.wait4). The batch size is
--batch-size, or with --batch-size 0 the one googlenet chooses (its reason is printed).
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


def measure_steps(folder: Path, weights: Path, output_dir: Path, batch_size: int | None, freeze_to: str | None,
                  steps: int) -> dict:
    """In this process: build the run as `googlenet train` does, then time `steps` steps after the first."""
    import resource

    from googlenet.training.config import TrainConfig
    from googlenet.training.loop import train_one_epoch
    from googlenet.training.trainer import Trainer

    config = TrainConfig(data=str(folder), init=str(weights), input_size=224, output_dir=str(output_dir),
                         overwrite=True, epochs=1, batch_size=batch_size, freeze_to=freeze_to, progress=False,
                         tensorboard=False)
    trainer = Trainer(config)
    ends: list[float] = []

    def after_step(_state: object) -> None:
        ends.append(time.perf_counter())
        if len(ends) > steps:
            trainer.stop.requested = True  # the loop stops before fetching the next batch

    trainer.session.after_step = after_step
    train_one_epoch(trainer.session, trainer.state)
    per_step = (ends[-1] - ends[0]) / (len(ends) - 1)
    steps_per_epoch = trainer.session.steps_per_epoch
    return {"batch_size": trainer.config.batch_size, "steps_per_epoch": steps_per_epoch, "timed_steps": len(ends) - 1,
            "seconds_per_step": round(per_step, 2), "epoch_seconds_estimate": round(per_step * steps_per_epoch, 1),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30, 2)}


def run_steps(root: Path, folder: Path, weights: Path, name: str, batch_size: int | None, freeze_to: str | None,
              steps: int, per_class: int) -> dict:
    """measure_steps in a fresh process (its own peak memory), through this script's --child."""
    command = [sys.executable, __file__, str(root), "--child", name, "--steps", str(steps), "--per-class",
               str(per_class), "--batch-size", str(batch_size or 0)] + (["--freeze-to", freeze_to] if freeze_to else [])
    print("$", " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stdout}\n{result.stderr}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    equivalent = (f"googlenet train --data {folder} --init {weights} --input-size 224"
                  + (f" --batch-size {batch_size}" if batch_size else "") + (f" --freeze-to {freeze_to}" if freeze_to else ""))
    return {"name": name, "as": equivalent, **measured}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--freeze-to", default="inception4e")
    parser.add_argument("--batch-size", type=int, default=32, help="0: googlenet's own choice")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per configuration, after one untimed")
    parser.add_argument("--whole-epoch", action="store_true", help="time one whole epoch of googlenet train")
    parser.add_argument("--only", choices=("all", "frozen"), default=None, help="one configuration only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    folder = make_folder(args.root / "photos", args.per_class)
    weights = random_torchvision_file(args.root / "googlenet-random-torchvision.pth")
    if args.child:
        freeze_to = args.freeze_to if args.child == "frozen" else None
        print(json.dumps(measure_steps(folder, weights, args.root / "runs" / args.child, args.batch_size or None,
                                       freeze_to, args.steps)))
        return
    from googlenet.machine import describe_machine
    from googlenet.training.batch_size import choose_batch_size, free_memory_bytes

    import torch

    names = [name for name in ("all", "frozen") if args.only in (None, name)]
    if args.whole_epoch:
        common = ["--epochs", "1"] + (["--batch-size", str(args.batch_size)] if args.batch_size else [])
        runs = [run_training(args.root, folder, weights, name, common + (["--freeze-to", args.freeze_to]
                                                                         if name == "frozen" else []))
                for name in names]
    else:
        runs = [run_steps(args.root, folder, weights, name, args.batch_size or None,
                          args.freeze_to if name == "frozen" else None, args.steps, args.per_class) for name in names]
    results = {"machine": str(describe_machine()), "torch": torch.__version__, "folder": str(folder),
               "images": args.per_class * len(CLASSES),
               "googlenet_default_batch_here": choose_batch_size(224, free_memory_bytes(torch.device("cpu")))[1],
               "runs": runs}
    (args.root / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
