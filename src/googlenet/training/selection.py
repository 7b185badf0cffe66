"""Which weights a run keeps, chosen without ever looking at the test split.

At the end of each epoch the raw and the averaged (EMA) weights are evaluated on the validation split;
the better of the two is the epoch's candidate, and it replaces the kept weights (model/) when its
validation top-1 beats the best so far. The test split is evaluated once, at the end, on the kept weights
as read back from model/; with --test-every-epoch also each epoch on the candidate, for information only
(the `test_*` columns). Without a validation split every epoch's candidate is kept: the final weights, averaged where
the run averages (the fixed-length convention).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from googlenet.evaluation.evaluate import EvaluationResult
from googlenet.training.loop import Session, evaluate_split
from googlenet.training.state import RunState


@dataclass
class EpochEvaluation:
    raw: EvaluationResult | None  # raw weights on the validation split (None: no validation split)
    ema: EvaluationResult | None  # averaged weights on the validation split
    candidate: str  # "raw" or "ema": the better on validation, or the final weights without validation
    test: EvaluationResult | None  # the candidate on the test split (None: none, or not every epoch)

    @property
    def validation(self) -> EvaluationResult | None:
        return self.ema if self.candidate == "ema" else self.raw


def evaluate_epoch(session: Session, state: RunState, data: Any) -> EpochEvaluation:
    raw = ema = None
    if data.validation is not None:
        raw = evaluate_split(session, state.model, data.validation)
        if state.ema is not None:
            ema = evaluate_split(session, state.ema.module, data.validation)
        candidate = "ema" if ema is not None and ema.top1 > raw.top1 else "raw"
    else:
        candidate = "ema" if state.ema is not None else "raw"
    test = None
    if data.test is not None and session.config.test_every_epoch:
        test = evaluate_split(session, weights_of(state, candidate), data.test)
    return EpochEvaluation(raw, ema, candidate, test)


def weights_of(state: RunState, which: str) -> Any:
    return state.ema.module if which == "ema" and state.ema is not None else state.model


def select(state: RunState, evaluation: EpochEvaluation, epoch: int) -> bool:
    """Update `state.selection` with this epoch's candidate; True if it is now the kept one."""
    validation = evaluation.validation
    best = state.selection.validation_top1
    if validation is not None and best is not None and validation.top1 <= best:
        return False
    state.selection.epoch = epoch
    state.selection.weights = evaluation.candidate
    state.selection.validation_top1 = round(validation.top1, 3) if validation is not None else None
    return True


def metrics_row(state: RunState, evaluation: EpochEvaluation, totals: dict[str, float], seconds: float,
                session: Session) -> dict[str, Any]:
    """One epoch's metrics; each evaluated figure is prefixed by its split (and ema_ for averaged weights)."""
    images = max(totals["images"], 1.0)
    row: dict[str, Any] = {
        "epoch": state.position.epoch + 1,
        "lr": state.optimizer.param_groups[-1]["lr"],
        "train_loss": round(totals["loss_sum"] / images, 5),
        "train_top1": round(100 * totals["correct"] / images, 3),
    }
    for prefix, result in (("validation", evaluation.raw), ("ema_validation", evaluation.ema),
                           ("test", evaluation.test)):
        if result is not None:
            row.update({f"{prefix}_loss": round(result.loss, 5), f"{prefix}_top1": round(result.top1, 3),
                        f"{prefix}_top5": round(result.top5, 3)})
            if result.skipped:
                row[f"{prefix}_skipped_images"] = len(result.skipped)
    if evaluation.test is not None:
        row["test_weights"] = evaluation.candidate
    if totals["skipped_images"]:
        row["train_skipped_images"] = int(totals["skipped_images"])
    row["epoch_seconds"] = round(seconds, 1)
    # `seconds` runs from this process's start of the epoch: a resumed epoch's earlier images are not in it
    row["images_per_second"] = round((totals["images"] - totals["untimed_images"]) / max(seconds, 1e-9), 1)
    row["data_seconds_per_step"] = round(
        totals["data_seconds"] / session.context.world_size / max(1, session.steps_per_epoch), 4)
    return row


def evaluation_record(data: Any, state: RunState, **results: EvaluationResult | None) -> dict[str, Any]:
    """model/evaluation.json: which weights are kept and why, and their figures under each split's name."""
    selection = state.selection
    record: dict[str, Any] = {
        "data": data.name,
        "epoch": selection.epoch,
        "weights": selection.weights,
        "selected_by": selection.by,
        "validation_source": data.validation_source or None,
    }
    record.update({split: result.to_dict() for split, result in results.items() if result is not None})
    return record


def final_evaluation(session: Session, data: Any, model_dir: Path, outputs: Any) -> tuple[dict | None, dict | None]:
    """The kept weights, read back from `model_dir`, on the test split (once, at the end of the run);
    rank 0 rewrites evaluation.json and the confusion matrix with them. Returns (validation, test)
    figures, each {loss, top1, top5, count, skipped}."""
    from googlenet.weights.model_dir import from_pretrained

    record = json.loads((model_dir / "evaluation.json").read_text())
    if data.test is not None:
        kept = from_pretrained(model_dir, map_location=session.context.device)
        if session.config.channels_last:
            kept = kept.to(memory_format=torch.channels_last)
        result = evaluate_split(session, kept, data.test)
        record["test"] = result.to_dict()
        record["test_evaluated"] = "once, at the end of the run, on the kept weights"
    if outputs is not None:
        outputs.write_evaluation(record)
        split = "test" if "test" in record else "validation"
        if split in record:
            weights = "EMA" if record["weights"] == "ema" else "raw"
            outputs.write_confusion_matrix(record[split]["confusion_matrix"], list(data.classes),
                                           f"{data.name}, {split} split: epoch {record['epoch']}, {weights} weights, "
                                           f"top-1 {record[split]['top1']:.2f}%")
    return _figures(record.get("validation")), _figures(record.get("test"))


def _figures(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {key: result[key] for key in ("loss", "top1", "top5", "count", "skipped") if key in result}


def epoch_summary(row: dict[str, Any], epochs: int) -> str:
    """The line printed after each epoch."""
    text = f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}"
    if "validation_top1" in row:
        text += f", validation top-1 {row['validation_top1']:.2f}%"
        if "ema_validation_top1" in row:
            text += f" (EMA {row['ema_validation_top1']:.2f}%)"
    if "test_top1" in row:
        text += f", test top-1 {row['test_top1']:.2f}% ({row['test_weights']}, for information)"
    return text + f", {row['epoch_seconds']:.0f}s"
