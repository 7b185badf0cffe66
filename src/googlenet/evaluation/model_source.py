"""MODEL as users give it: a model directory, a training run directory (its model/ inside) or a Hugging Face
Hub repository ("hf-hub:user/repo"), found by `googlenet.weights.sources`; what the run recorded about it
(epoch, raw or averaged weights, the data set) read from the files training wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from googlenet.models.network import GoogLeNet
from googlenet.weights.records import read_record


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
    hub_name: str | None = None  # "hf-hub:user/repo" when the model directory is that repository's cached copy

    def describe(self) -> str:
        """One line: "runs/fm/model (epoch 7, EMA weights)"."""
        details = []
        if self.epoch is not None:
            details.append(f"epoch {self.epoch}")
        if self.weights is not None:
            details.append("EMA weights" if self.weights == "ema" else f"{self.weights} weights")
        return str(self.hub_name or self.model_dir) + (f" ({', '.join(details)})" if details else "")

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.model_dir), "run_dir": None if self.run_dir is None else str(self.run_dir),
                "epoch": self.epoch, "weights": self.weights, "data": self.data}


def find_model(path: str | Path) -> ModelSource:
    """What `path` (a model directory, a training run directory or "hf-hub:user/repo": `locate_model`'s rule)
    names, with what its run recorded. Raises FileNotFoundError or ValueError with one line naming it."""
    from googlenet.weights.sources import locate_model

    location = locate_model(path)
    evaluation = read_record(location.model_dir / "evaluation.json")
    run_config = read_record(location.run_dir / "config.json") if location.run_dir else {}
    return ModelSource(
        model_dir=location.model_dir, run_dir=location.run_dir, epoch=evaluation.get("epoch"),
        weights=evaluation.get("weights"), data=run_config.get("data") or evaluation.get("data"),
        data_dir=run_config.get("data_dir"), run_config=run_config, hub_name=location.hub_name,
    )


def load_run_data(source: ModelSource | None, data: Any = None, data_dir: str | None = None, *,
                  input_size: int | None = None) -> Any:
    """The data set a model was trained on as its run split it (`DataSplits`): the run's data set and
    data_dir unless `data` is given, and always the run's val_fraction and seed, so that its validation
    split holds the same images. The one loader of "the run's data" (evaluate, int8 calibration, serve)."""
    from googlenet.data.load import load_data

    if data is None:
        if source is None or source.data is None:
            where = f"{source.model_dir} records" if source is not None else "a model object carries"
            raise ValueError(f"no data given, and {where} no data set (no run config.json or evaluation.json); "
                             "pass data (--data)")
        data, data_dir = source.data, data_dir or source.data_dir
    run = source.run_config if source is not None else {}
    split = {name: run[name] for name in ("val_fraction", "seed") if name in run}
    return load_data(data, data_dir=data_dir, input_size=input_size, **split)


def load_model(path: str | Path) -> GoogLeNet:
    """A model from a saved model directory, a training run directory (its selected model) or a Hub repository."""
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
