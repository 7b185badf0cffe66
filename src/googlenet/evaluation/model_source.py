"""MODEL as users give it: a model directory, or a training run directory (its model/ inside); what the
run recorded about it (epoch, raw or averaged weights, the data set) read from the files training wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from googlenet.models.network import GoogLeNet

WEIGHTS_FILE = "model.safetensors"


@dataclass
class ModelSource:
    """Where a model comes from and what its run recorded; None where nothing is recorded."""

    model_dir: Path  # the model directory (config.json + model.safetensors)
    run_dir: Path | None = None  # the training run it belongs to
    epoch: int | None = None  # the epoch whose weights the model directory holds
    weights: str | None = None  # "raw" or "ema" (the averaged weights)
    data: str | None = None  # the data set the run trained on (a built-in name or a folder)
    data_dir: str | None = None  # the run's data_dir, for built-in sets found outside the defaults
    run_config: dict[str, Any] = field(default_factory=dict)  # the run's config.json (val_fraction, seed...)

    def describe(self) -> str:
        """One line: "runs/fm/model (epoch 7, EMA weights)"."""
        details = []
        if self.epoch is not None:
            details.append(f"epoch {self.epoch}")
        if self.weights is not None:
            details.append("EMA weights" if self.weights == "ema" else f"{self.weights} weights")
        return str(self.model_dir) + (f" ({', '.join(details)})" if details else "")

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.model_dir), "run_dir": None if self.run_dir is None else str(self.run_dir),
                "epoch": self.epoch, "weights": self.weights, "data": self.data}


def find_model(path: str | Path) -> ModelSource:
    """What `path` (a model directory or a training run directory) names. Raises FileNotFoundError or
    ValueError with a message naming the directory."""
    directory = Path(path)
    if not directory.exists():
        raise FileNotFoundError(f"{directory} does not exist: give a model directory or a training run directory")
    if not directory.is_dir():
        raise ValueError(f"{directory} is a file: give a model directory or a training run directory")
    run_dir: Path | None = None
    if _is_run_dir(directory):
        run_dir, directory = directory, directory / "model"
        if not (directory / WEIGHTS_FILE).exists():
            raise ValueError(f"{run_dir} is a training run directory without a model yet: "
                             "a run writes model/ after its first epoch")
    elif _is_run_dir(directory.parent):
        run_dir = directory.parent
    if not ((directory / "config.json").exists() and (directory / WEIGHTS_FILE).exists()):
        raise ValueError(f"{directory} is neither a model directory (config.json + {WEIGHTS_FILE}) nor a training "
                         "run directory with a model/ inside (a run writes it after its first epoch)")
    evaluation = _read_json(directory / "evaluation.json")
    run_config = _read_json(run_dir / "config.json") if run_dir else {}
    return ModelSource(
        model_dir=directory, run_dir=run_dir, epoch=evaluation.get("epoch"), weights=evaluation.get("weights"),
        data=run_config.get("data") or evaluation.get("data"), data_dir=run_config.get("data_dir"),
        run_config=run_config,
    )


def load_model(path: str | Path) -> GoogLeNet:
    """A model from a saved model directory, or from a training run directory (its selected model)."""
    from googlenet.weights.model_dir import from_pretrained

    return from_pretrained(find_model(path).model_dir)


def resolve_model(model_or_dir: Any, source: ModelSource | None = None) -> tuple[Any, ModelSource | None]:
    """(model, source): a model object is used as it is (`source` says where it came from, if known); a path
    is found and loaded."""
    if isinstance(model_or_dir, (str, Path)):
        from googlenet.weights.model_dir import from_pretrained

        found = find_model(model_or_dir)
        return from_pretrained(found.model_dir), found
    return model_or_dir, source


def _is_run_dir(directory: Path) -> bool:
    """A run directory holds its TrainConfig (config.json without 'architecture') and model/ or checkpoints."""
    config = _read_json(directory / "config.json")
    return bool(config) and "architecture" not in config and (
        (directory / "model").is_dir() or any(directory.glob("checkpoint_*.pt")))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}
