"""What a training run writes besides checkpoints, in one object: `RunOutputs`.

    config.json             the run's TrainConfig
    metrics.csv, .json      one row per epoch; every figure's name says its split (validation_top1, test_top1)
    tensorboard/            the same rows as TensorBoard scalars
    curves.png              loss and accuracy per epoch, each line labelled with its split
    confusion_matrix.png    the kept weights on the test split (the validation split where there is no test)
    model/                  the kept weights as a model directory, with evaluation.json
    examples/               the first test image of each class (validation where there is no test split),
                            as CLASS.png: something to try `googlenet predict` on

Every file goes through googlenet.atomic_files: it appears whole or not at all, and the model directory
is swapped in whole. Plots are drawn on `matplotlib.figure.Figure` objects, so the caller's pyplot
backend is never switched. Only rank 0 makes a `RunOutputs`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from pathlib import Path
from typing import Any

from torch import nn

from googlenet.atomic_files import atomic_directory, write_text, write_with
from googlenet.weights.sources import EVALUATION_NAME as EVALUATION_FILE
from googlenet.training.config import CHECKPOINT_VERSION, CONFIG_FILE, MODEL_DIR, RUN_FORMAT_KEY, TrainConfig
from googlenet.weights.model_card import write_model_card

EXAMPLES_DIR = "examples"
MAX_EXAMPLES = 20  # one image per class, for the first classes of a data set with more
EXAMPLE_SCAN = 5000  # how far into the split to look for classes not yet found (folders sort by class)
CURVES_PLOT = "curves.png"
CONFUSION_PLOT = "confusion_matrix.png"
# (key prefix in a metrics row, label in the plot)
CURVES = (("train", "train"), ("validation", "validation"), ("ema_validation", "validation, EMA"),
          ("test", "test (for information)"))


class RunOutputs:
    def __init__(self, run_dir: Path, *, tensorboard: bool = True) -> None:
        self.run_dir = run_dir
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
            except ImportError:
                warnings.warn("tensorboard is not installed: no TensorBoard events will be written", stacklevel=2)

    def write_config(self, config: TrainConfig) -> None:
        write_text(self.run_dir / CONFIG_FILE, json.dumps({**config.to_dict(), RUN_FORMAT_KEY: CHECKPOINT_VERSION}, indent=2))

    def log_epochs(self, history: list[dict[str, Any]]) -> None:
        """metrics.json, metrics.csv, the curves and the latest row's TensorBoard scalars, from `history`
        (which lives in the checkpoint too, so these files never hold an epoch the weights do not)."""
        latest = history[-1]
        if self.writer is not None:
            for key, value in latest.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "epoch":
                    self.writer.add_scalar(key.replace("_", "/", 1), value, latest["epoch"])
            self.writer.flush()
        write_text(self.run_dir / "metrics.json", json.dumps(history, indent=2))
        columns = list(dict.fromkeys(key for row in history for key in row))
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
        write_text(self.run_dir / "metrics.csv", table.getvalue())
        self._save_figure(curves_figure(history), self.run_dir / CURVES_PLOT)

    def write_model(self, model: nn.Module, evaluation: dict[str, Any]) -> None:
        """Replace model/ with `model` (a plain CPU GoogLeNet with class names and preprocessing) and its
        evaluation.json, in one swap, by the rule of every model directory save (exports of the old weights
        are left out, anything else is kept)."""
        from googlenet.weights.model_dir import write_model_directory

        write_model_directory(model, self.run_dir / MODEL_DIR,
                              extra_files={EVALUATION_FILE: json.dumps(evaluation, indent=2)}, run_dir=self.run_dir)

    def write_examples(self, data: Any) -> list[Path]:
        """examples/CLASS.png: the first image of each class in `data`'s test split (else its validation
        split), as read from disk; returns the files, in class order."""
        split = data.test_images if data.test_images is not None else data.validation_images
        if split is None:
            return []
        wanted = min(MAX_EXAMPLES, len(data.classes))
        chosen: dict[int, Any] = {}
        for index in range(min(len(split), EXAMPLE_SCAN)):
            image, label = split[index]
            if label < wanted and label not in chosen and hasattr(image, "save"):  # skips unreadable files
                chosen[label] = image
                if len(chosen) == wanted:
                    break
        with atomic_directory(self.run_dir / EXAMPLES_DIR) as staging:
            for label, image in chosen.items():
                image.save(staging / example_file_name(data.classes[label]), format="PNG")
        return [self.run_dir / EXAMPLES_DIR / example_file_name(data.classes[label]) for label in sorted(chosen)]

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        write_text(self.run_dir / MODEL_DIR / EVALUATION_FILE, json.dumps(evaluation, indent=2))
        write_model_card(self.run_dir / MODEL_DIR, run_dir=self.run_dir)  # with the test figures

    def write_confusion_matrix(self, matrix: list[list[int]], class_names: list[str], title: str) -> None:
        self._save_figure(confusion_figure(matrix, class_names, title), self.run_dir / CONFUSION_PLOT)

    @staticmethod
    def _save_figure(figure: Any, path: Path) -> None:
        write_with(path, lambda file: figure.savefig(file, format="png", dpi=100))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def example_file_name(class_name: str) -> str:
    """A class's example file: its name with anything but letters, digits, '.' and '-' as '_' (T-shirt_top.png)."""
    return re.sub(r"[^\w.-]+", "_", class_name).strip("_.") + ".png"


def recognised_classes(class_names: list[str], examples: list[Path]) -> str:
    """The run's last line: what the model tells apart, and an image to try it on."""
    shown = ", ".join(class_names[:MAX_EXAMPLES]) + (f" and {len(class_names) - MAX_EXAMPLES} more"
                                                    if len(class_names) > MAX_EXAMPLES else "")
    tried = f"; try: googlenet predict {examples[0].parent.parent} {examples[0]}" if examples else ""
    return f"the model recognises {len(class_names)} classes: {shown}{tried}"


def curves_figure(history: list[dict[str, Any]]) -> Any:
    """Loss and top-1 per epoch for every split the rows hold, each line named by its split."""
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(11, 4), layout="tight")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for prefix, label in CURVES:
        style = {"linestyle": "--"} if prefix == "test" else {}
        for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "top1")):
            key = f"{prefix}_{metric}"
            if all(key in row for row in history):
                axes.plot(epochs, [row[key] for row in history], marker="o", label=label, **style)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="Loss")
    accuracy_axes.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="Accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    return figure


def confusion_figure(matrix: list[list[int]], class_names: list[str], title: str) -> Any:
    from matplotlib.figure import Figure

    count = len(class_names)
    size = min(4 + count * 0.5, 30)
    figure = Figure(figsize=(size, size), layout="tight")
    axes = figure.subplots()
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
    return figure
