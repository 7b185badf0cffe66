"""What a training run writes besides checkpoints: per-epoch metrics (CSV, JSON, TensorBoard) and plots."""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path
from typing import Any

CURVES_PLOT = "curves.png"
CONFUSION_PLOT = "confusion_matrix.png"


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so a crash never leaves a half-written file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class RunLogger:
    """Keeps a run directory's metrics.csv, metrics.json and TensorBoard events in step with `history`.

    The history lives in the checkpoint too, so a resumed run rewrites these files from it and they
    never hold an epoch the weights do not.
    """

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                warnings.warn("tensorboard is not installed: no TensorBoard events will be written", stacklevel=2)

    def log_epoch(self, history: list[dict[str, Any]]) -> None:
        latest = history[-1]
        if self.writer is not None:
            for key, value in latest.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self.writer.add_scalar(key.replace("_", "/", 1), value, latest["epoch"])
            self.writer.flush()
        write_atomically(self.run_dir / "metrics.json", json.dumps(history, indent=2))
        columns = list(dict.fromkeys(key for row in history for key in row))
        temporary = self.run_dir / ".metrics.csv.tmp"
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(history)
        os.replace(temporary, self.run_dir / "metrics.csv")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curves(history: list[dict[str, Any]], path: Path) -> None:
    """Loss and accuracy per epoch, train and validation (and the averaged weights' if any)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation"), ("ema_val_loss", "validation, EMA")):
        if all(key in row for row in history):
            loss_axes.plot(epochs, [row[key] for row in history], marker="o", label=label)
    for key, label in (("train_top1", "train"), ("val_top1", "validation"), ("ema_val_top1", "validation, EMA")):
        if all(key in row for row in history):
            accuracy_axes.plot(epochs, [row[key] for row in history], marker="o", label=label)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="Loss")
    accuracy_axes.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="Accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_confusion_matrix(matrix: list[list[int]], class_names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(class_names)
    size = min(4 + count * 0.5, 30)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    if count <= 30:
        axes.set_xticks(range(count), class_names, rotation=90)
        axes.set_yticks(range(count), class_names)
        peak = max(max(row) for row in matrix) or 1
        for true_index, row in enumerate(matrix):
            for predicted_index, value in enumerate(row):
                colour = "white" if value > peak / 2 else "black"
                axes.text(predicted_index, true_index, str(value), ha="center", va="center", color=colour, fontsize=7)
    axes.set(xlabel="predicted", ylabel="true", title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
