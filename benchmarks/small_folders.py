"""`googlenet train` on two small folders of real images, against a tuned plain recipe on the same budget,
and fine-tuning against training from scratch. The tables of docs/finetuning.md come from this script.

    python benchmarks/small_folders.py ROOT                       # both folders, both recipes
    python benchmarks/small_folders.py ROOT --init runs/fm-short  # and fine-tuning from a run or model

ROOT receives the folders (made once, then reused), the runs and results.json. The folders:
  digits       scikit-learn's 1,797 handwritten digits (8x8 grayscale, 10 classes) as PNGs, split per class,
               seeded, about 80/20 into train/ and val/
  fashion-rgb  150 training and 50 validation images per class from Fashion-MNIST's training split, resized
               to 40x40 (bilinear) and written as RGB PNGs (grey pixels in three channels)
Each folder's val/ is its validation split: `googlenet train` chooses its kept weights on it, and the
figures reported are the kept weights' accuracy on it. The plain recipe (torchvision's googlenet, SGD with
a one-cycle schedule, resize and normalise only) is run once per peak learning rate given, and its best
result on the same val/ is reported, which favours the plain recipe.
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
import torch
from PIL import Image

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle-boot")
IMAGE_SUFFIX = ".png"


# --- The folders ---------------------------------------------------------------------------------------------

def write_split(folder: Path, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...],
                indices_by_split: dict[str, list[int]], convert: str | None = None,
                size: int | None = None) -> None:
    """Write images[i] as folder/<split>/<class>/<i>.png for each split's indices."""
    for split, indices in indices_by_split.items():
        for index in indices:
            image = Image.fromarray(images[index])
            if size is not None:
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            if convert is not None:
                image = image.convert(convert)
            path = folder / split / classes[labels[index]] / f"{index:05d}{IMAGE_SUFFIX}"
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)


def per_class_split(labels: np.ndarray, seed: int, counts: tuple[int, int] | None = None,
                    val_share: float = 0.2) -> dict[str, list[int]]:
    """Indices for train/ and val/, chosen per class with a seeded shuffle: `counts` (train, val) images of
    each class, or all of them with `val_share` in val/."""
    generator = np.random.default_rng(seed)
    split: dict[str, list[int]] = {"train": [], "val": []}
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        if counts is None:
            val_count = round(len(members) * val_share)
            train_count = len(members) - val_count
        else:
            train_count, val_count = counts
        split["train"] += members[:train_count].tolist()
        split["val"] += members[train_count:train_count + val_count].tolist()
    return split


def make_digits(folder: Path, seed: int) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # The digits are 0..16 gray levels (4x4 blocks of 32x32 bitmaps counted); stretched to 0..255.
    images = np.round(digits.images * 255 / 16).astype(np.uint8)
    labels = digits.target
    classes = tuple(str(name) for name in digits.target_names)
    write_split(folder, images, labels, classes, per_class_split(labels, seed))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped) as a uint8 array: a big-endian header (0, 0, type 0x08, ndim), one uint32 per
    dimension, then the bytes."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def make_fashion_rgb(folder: Path, seed: int, per_class: tuple[int, int], size: int) -> None:
    images = read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    write_split(folder, images, labels, FASHION_CLASSES, per_class_split(labels, seed, per_class),
                convert="RGB", size=size)


def ensure_folders(root: Path, seed: int, fashion_size: int) -> dict[str, Path]:
    """The two folders under root, made unless already there (a folder is written whole under a temporary
    name, then renamed, so an interrupted run never leaves a partial folder that looks finished)."""
    makers = {"digits": lambda path: make_digits(path, seed),
              "fashion-rgb": lambda path: make_fashion_rgb(path, seed, (150, 50), fashion_size)}
    folders = {}
    for name, make in makers.items():
        folder = root / name
        if not folder.is_dir():
            staging = root / f".{name}.partial"
            if staging.exists():
                import shutil

                shutil.rmtree(staging)
            make(staging)
            staging.rename(folder)
        folders[name] = folder
    return folders


def count_images(folder: Path) -> dict[str, int]:
    return {split: sum(1 for _ in (folder / split).rglob(f"*{IMAGE_SUFFIX}")) for split in ("train", "val")}


# --- googlenet train ----------------------------------------------------------------------------------------

def googlenet_train(folder: Path, run_dir: Path, budget: argparse.Namespace, *extra: str) -> dict:
    """`googlenet train --data FOLDER` with the budget's options (and `extra`) only; the kept weights'
    validation figures as recorded in RUN/model/evaluation.json, with the seconds the run took."""
    command = ["googlenet", "train", "--data", str(folder), "--epochs", str(budget.epochs),
               "--batch-size", str(budget.batch_size), "--input-size", str(budget.input_size), *extra]
    # Where the run goes and whether it draws a progress bar change nothing in what it trains.
    plumbing = ["--output-dir", str(run_dir), "--overwrite", "--no-progress", "--no-tensorboard"]
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    environment = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}  # as --threads set it here
    finished = subprocess.run([sys.executable, "-m", "googlenet", *command[1:], *plumbing], text=True,
                              capture_output=True, env=environment)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    print(finished.stdout, end="", flush=True)
    record = json.loads((run_dir / "model" / "evaluation.json").read_text())
    return {"command": " ".join(command), "validation_top1": round(record["validation"]["top1"], 2),
            "validation_count": record["validation"]["count"], "kept": f"epoch {record['epoch']}, "
            f"{record['weights']} weights", "seconds": round(seconds), "decisions": decisions_of(finished.stdout)}


def decisions_of(output: str) -> list[str]:
    """The lines the run printed before its first epoch (the machine, the splits and the defaults)."""
    lines = []
    for line in output.splitlines():
        if line.startswith("epoch "):
            break
        lines.append(line)
    return lines


# --- The plain recipe ----------------------------------------------------------------------------------------

def load_folder_tensors(folder: Path, split: str, size: int, classes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """split/'s images as RGB (a gray image's one channel repeated) float tensors in [0, 1], resized to
    size x size (bilinear, antialiased), and their labels."""
    from torchvision.transforms.v2 import functional as F

    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / split / name).glob(f"*{IMAGE_SUFFIX}")):
            with Image.open(path) as image:
                tensor = F.pil_to_tensor(image.convert("RGB"))
            images.append(F.resize(tensor, [size, size], antialias=True))
            labels.append(label)
    return torch.stack(images).float() / 255, torch.tensor(labels)


def plain_recipe(folder: Path, budget: argparse.Namespace, max_lr: float, seed: int) -> dict:
    """torchvision's googlenet (no aux heads) trained with SGD (Nesterov momentum 0.9, weight decay 5e-4)
    under OneCycleLR, on resized and normalised images without augmentation; top-1 of the final weights
    on val/."""
    from torchvision.models import googlenet

    classes = sorted(path.name for path in (folder / "train").iterdir() if path.is_dir())
    train_x, train_y = load_folder_tensors(folder, "train", budget.input_size, classes)
    val_x, val_y = load_folder_tensors(folder, "val", budget.input_size, classes)
    mean, std = train_x.mean(dim=(0, 2, 3), keepdim=True), train_x.std(dim=(0, 2, 3), keepdim=True)
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
    torch.manual_seed(seed)
    model = googlenet(weights=None, aux_logits=False, num_classes=len(classes), init_weights=True)
    steps_per_epoch = len(train_x) // budget.batch_size  # full batches only, as googlenet train takes them
    optimizer = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, epochs=budget.epochs,
                                                   steps_per_epoch=steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(budget.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for step in range(steps_per_epoch):
            batch = order[step * budget.batch_size:(step + 1) * budget.batch_size]
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(chunk).argmax(1) for chunk in val_x.split(256)])
    top1 = 100 * (predicted == val_y).float().mean().item()
    return {"max_lr": max_lr, "validation_top1": round(top1, 2), "validation_count": len(val_y),
            "seconds": round(time.perf_counter() - start)}


# --- The measurements ----------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="where the folders, the runs and results.json go")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS), choices=FOLDERS)
    parser.add_argument("--recipes", nargs="*", default=["googlenet", "plain"], choices=["googlenet", "plain"],
                        help="which recipes to run (figures measured before are kept in results.json); none: "
                        "only the fine-tuning comparison of --init")
    parser.add_argument("--plain-lrs", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1, 0.2],
                        help="peak learning rates tried for the plain recipe (the best mean on val/ is reported)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="a run per seed (googlenet train gets --seed S for S other than its default 0)")
    parser.add_argument("--init", metavar="MODEL", help="also fine-tune from MODEL (googlenet train --init MODEL, "
                        "its default fine-tuning settings) on --init-folders and compare with training from scratch")
    parser.add_argument("--init-folders", nargs="+", default=["digits"], choices=FOLDERS,
                        help="folders to fine-tune on (fashion-rgb's images come from Fashion-MNIST's training "
                        "split: a Fashion-MNIST model has seen them, so it is no test of fine-tuning from one)")
    parser.add_argument("--fashion-size", type=int, default=40, help="side of the fashion-rgb images")
    parser.add_argument("--split-seed", type=int, default=0, help="the seed of the folders' train/val split")
    parser.add_argument("--threads", type=int, help="CPU threads for every run (default: torch's); on a CPU "
                        "shared with other work, 1 thread is several times faster than threads waiting on each other")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from googlenet.machine import describe_machine

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.root.mkdir(parents=True, exist_ok=True)
    folders = ensure_folders(args.root, args.split_seed, args.fashion_size)
    results_path = args.root / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    budget_key = f"epochs {args.epochs}, batch size {args.batch_size}, input size {args.input_size}"
    measured = results.setdefault(budget_key, {})
    results["machine"] = f"{describe_machine()}; load average {os.getloadavg()[0]:.1f} at the start"

    def save() -> None:
        results_path.write_text(json.dumps(results, indent=2))

    for seed in args.seeds:
        for name in args.folders:
            entry = measured.setdefault(name, {"images": count_images(folders[name])})
            if "googlenet" in args.recipes:
                record(entry, "googlenet", seed, googlenet_train(folders[name], run_dir(args, name, "scratch", seed),
                                                                 args, *seed_option(seed)))
                save()
            for max_lr in args.plain_lrs if "plain" in args.recipes else []:
                result = plain_recipe(folders[name], args, max_lr, seed)
                entry.setdefault("plain", {}).setdefault(str(max_lr), {})[str(seed)] = result
                print(f"plain recipe on {name}, seed {seed}, max_lr {max_lr}: validation top-1 "
                      f"{result['validation_top1']:.2f}% ({result['seconds']}s)", flush=True)
                save()
        for name in args.init_folders if args.init else []:
            entry = measured.setdefault(name, {"images": count_images(folders[name])})
            result = googlenet_train(folders[name], run_dir(args, name, "init", seed), args, "--init", args.init,
                                     *seed_option(seed))
            record(entry, "init", seed, {**result, "from": args.init})
            if str(seed) not in entry.get("googlenet", {}):
                record(entry, "googlenet", seed, googlenet_train(folders[name], run_dir(args, name, "scratch", seed),
                                                                 args, *seed_option(seed)))
            save()
    print(tables(measured, budget_key))
    return 0


FOLDERS = ("digits", "fashion-rgb")


def seed_option(seed: int) -> list[str]:
    return ["--seed", str(seed)] if seed else []


def run_dir(args: argparse.Namespace, folder: str, kind: str, seed: int) -> Path:
    return args.root / "runs" / f"{folder}-{kind}-e{args.epochs}-seed{seed}"


def record(entry: dict, recipe: str, seed: int, result: dict) -> None:
    entry.setdefault(recipe, {})[str(seed)] = result


def mean_of(by_seed: dict) -> float:
    return sum(result["validation_top1"] for result in by_seed.values()) / len(by_seed)


def figures(by_seed: dict) -> str:
    """'73.00%' for one seed; '73.00% (72.4, 73.0, 73.6)' for the mean of several."""
    values = [by_seed[seed]["validation_top1"] for seed in sorted(by_seed, key=int)]
    if len(values) == 1:
        return f"{values[0]:.2f}%"
    return f"{mean_of(by_seed):.2f}% ({', '.join(f'{value:.1f}' for value in values)})"


def best_plain(entry: dict, seeds: set[str]) -> tuple[str, dict] | None:
    """(peak lr, its results by seed) with the best mean among the lrs run with every seed in `seeds`."""
    complete = {lr: {seed: by_seed[seed] for seed in seeds} for lr, by_seed in entry.get("plain", {}).items()
                if seeds <= set(by_seed)}
    if not complete:
        return None
    return max(complete.items(), key=lambda item: mean_of(item[1]))


def tables(measured: dict, budget_key: str) -> str:
    """The results as the markdown tables of docs/finetuning.md (means over the seeds run for both)."""
    lines = [f"budget: {budget_key}; validation top-1 on val/, the mean over seeds with each seed's figure", "",
             "| folder | train / val images | seeds | googlenet train (defaults) | plain recipe (best peak lr) "
             "| difference |", "|---|---|---|---|---|---|"]
    for name, entry in measured.items():
        ours = entry.get("googlenet", {})
        best = best_plain(entry, set(ours)) if ours else None
        if best is None:
            continue
        max_lr, plain = best
        images = entry["images"]
        lines.append(f"| {name} | {images['train']:,} / {images['val']:,} | {len(ours)} | {figures(ours)} | "
                     f"{figures(plain)} (lr {max_lr}) | {mean_of(ours) - mean_of(plain):+.2f} |")
    fine_tuned = {name: entry for name, entry in measured.items() if "init" in entry}
    if fine_tuned:
        lines += ["", "| folder | seeds | from scratch | fine-tuned (--init) | margin |", "|---|---|---|---|---|"]
        for name, entry in fine_tuned.items():
            seeds = set(entry["init"]) & set(entry.get("googlenet", {}))
            scratch = {seed: entry["googlenet"][seed] for seed in seeds}
            init = {seed: entry["init"][seed] for seed in seeds}
            if seeds:
                lines.append(f"| {name} | {len(seeds)} | {figures(scratch)} | {figures(init)} | "
                             f"{mean_of(init) - mean_of(scratch):+.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
