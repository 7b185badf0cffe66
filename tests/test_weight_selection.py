"""Which weights a run keeps (training/selection.py), with the evaluations given: the better of raw and EMA
on validation, kept only when it beats the best so far; the test split never chooses; and the metrics
row, evaluation.json record and epoch line written from them."""

import json
from types import SimpleNamespace

import pytest

from googlenet.evaluation.evaluate import EvaluationResult
from googlenet.training import selection
from googlenet.training.selection import (EpochEvaluation, epoch_summary, evaluate_epoch, evaluation_record,
                                          final_evaluation, metrics_row, select)
from googlenet.training.state import Selection


def result(top1: float, loss: float = 1.0, top5: float = 90.0, skipped: int = 0) -> EvaluationResult:
    return EvaluationResult(loss=loss, top1=top1, top5=top5, count=10, per_class_accuracy=[top1, top1],
                            confusion_matrix=[[5, 0], [0, 5]],
                            skipped=[{"path": f"{i}.png", "reason": "truncated"} for i in range(skipped)])


SESSION = SimpleNamespace(config=SimpleNamespace(test_every_epoch=True))  # evaluate_split is replaced


def run_state(ema: bool = True, best: float | None = None):
    model, averaged = object(), object()
    return SimpleNamespace(model=model, ema=SimpleNamespace(module=averaged) if ema else None,
                           selection=Selection(epoch=0 if best is not None else None, validation_top1=best))


def with_scores(monkeypatch, scores: dict, session=SESSION):
    """evaluate_split answers from `scores`: (which weights, which split) -> top-1; records what it saw."""
    seen = []

    def evaluate_split(given_session, model, dataset):
        assert given_session is session  # the run's session: its device, batch size and ranks
        seen.append((model, dataset))
        return result(scores[(model, dataset)])

    monkeypatch.setattr(selection, "evaluate_split", evaluate_split)
    return seen


@pytest.mark.parametrize("raw_top1, ema_top1, candidate", [(50.0, 60.0, "ema"), (60.0, 50.0, "raw"),
                                                          (55.0, 55.0, "raw")])
def test_the_candidate_is_the_better_on_validation_and_the_test_split_sees_only_it(
        monkeypatch, raw_top1, ema_top1, candidate):
    state = run_state()
    weights = {"raw": state.model, "ema": state.ema.module}
    seen = with_scores(monkeypatch, {(state.model, "val"): raw_top1, (state.ema.module, "val"): ema_top1,
                                     (weights[candidate], "test"): 70.0})
    evaluation = evaluate_epoch(SESSION, state, SimpleNamespace(validation="val", test="test"))
    assert evaluation.candidate == candidate
    assert (evaluation.raw.top1, evaluation.ema.top1, evaluation.test.top1) == (raw_top1, ema_top1, 70.0)
    assert evaluation.validation.top1 == max(raw_top1, ema_top1)
    assert seen[-1] == (weights[candidate], "test") and len(seen) == 3


def test_without_test_every_epoch_the_test_split_waits_for_the_end(monkeypatch):
    state = run_state()
    quiet = SimpleNamespace(config=SimpleNamespace(test_every_epoch=False))
    seen = with_scores(monkeypatch, {(state.model, "val"): 50.0, (state.ema.module, "val"): 60.0}, quiet)
    evaluation = evaluate_epoch(quiet, state, SimpleNamespace(validation="val", test="test"))
    assert (evaluation.candidate, evaluation.test) == ("ema", None)
    assert [split for _, split in seen] == ["val", "val"]


def test_without_ema_the_raw_weights_are_evaluated_and_chosen(monkeypatch):
    state = run_state(ema=False)
    seen = with_scores(monkeypatch, {(state.model, "val"): 40.0})
    evaluation = evaluate_epoch(SESSION, state, SimpleNamespace(validation="val", test=None))
    assert (evaluation.candidate, evaluation.ema, evaluation.test) == ("raw", None, None)
    assert evaluation.validation.top1 == 40.0 and seen == [(state.model, "val")]


@pytest.mark.parametrize("ema, candidate", [(True, "ema"), (False, "raw")])
def test_without_validation_the_final_weights_are_the_candidate(monkeypatch, ema, candidate):
    state = run_state(ema=ema)
    final = state.ema.module if ema else state.model
    seen = with_scores(monkeypatch, {(final, "test"): 30.0})
    evaluation = evaluate_epoch(SESSION, state, SimpleNamespace(validation=None, test="test"))
    assert (evaluation.candidate, evaluation.raw, evaluation.validation) == (candidate, None, None)
    assert seen == [(final, "test")]


def test_a_candidate_is_kept_only_when_it_beats_the_best_so_far():
    state = run_state(best=50.0)
    assert not select(state, EpochEvaluation(result(50.0), None, "raw", None), epoch=3)  # a tie keeps the old
    assert state.selection == Selection(0, "raw", 50.0)
    assert select(state, EpochEvaluation(result(10.0), result(50.12345), "ema", result(99.0)), epoch=4)
    assert state.selection == Selection(4, "ema", 50.123)
    first = run_state()
    assert select(first, EpochEvaluation(result(5.0), None, "raw", None), epoch=1)  # the first is always kept
    assert first.selection == Selection(1, "raw", 5.0)


def test_without_validation_every_epoch_replaces_the_kept_weights():
    state = run_state()
    for epoch in (1, 2):
        assert select(state, EpochEvaluation(None, None, "ema", result(99.0 - epoch)), epoch=epoch)
    assert state.selection == Selection(2, "ema", None) and state.selection.by == "final epoch (no validation split)"


def session(world_size: int = 2, steps: int = 4, channels_last: bool = False):
    return SimpleNamespace(context=SimpleNamespace(world_size=world_size, device="cpu"), steps_per_epoch=steps,
                           config=SimpleNamespace(channels_last=channels_last))


def test_the_metrics_row_names_each_figure_by_split_and_weights():
    state = SimpleNamespace(position=SimpleNamespace(epoch=2),
                            optimizer=SimpleNamespace(param_groups=[{"lr": 0.5}, {"lr": 0.01}]))
    totals = {"images": 9.0, "loss_sum": 4.0, "correct": 7.0, "skipped_images": 3.0, "data_seconds": 1.0,
              "untimed_images": 0.0}
    evaluation = EpochEvaluation(result(61.23456, loss=0.123456, top5=99.87654, skipped=2),
                                 result(62.0, loss=0.2, top5=98.0), "ema", result(60.0, loss=0.3, top5=97.0))
    row = metrics_row(state, evaluation, totals, seconds=2.46, session=session(world_size=3, steps=7))
    assert row == {
        "epoch": 3, "lr": 0.01, "train_loss": 0.44444, "train_top1": 77.778,
        "validation_loss": 0.12346, "validation_top1": 61.235, "validation_top5": 99.877,
        "validation_skipped_images": 2,
        "ema_validation_loss": 0.2, "ema_validation_top1": 62.0, "ema_validation_top5": 98.0,
        "test_loss": 0.3, "test_top1": 60.0, "test_top5": 97.0, "test_weights": "ema",
        "train_skipped_images": 3, "epoch_seconds": 2.5, "images_per_second": 3.7,
        "data_seconds_per_step": 0.0476,  # per step of one rank
    }
    assert list(row)[:4] == ["epoch", "lr", "train_loss", "train_top1"]


def test_an_empty_epoch_divides_by_one_not_zero():
    state = SimpleNamespace(position=SimpleNamespace(epoch=0), optimizer=SimpleNamespace(param_groups=[{"lr": 1}]))
    totals = {"images": 0.0, "loss_sum": 0.0, "correct": 0.0, "skipped_images": 0.0, "data_seconds": 0.5,
              "untimed_images": 0.0}
    row = metrics_row(state, EpochEvaluation(None, None, "raw", None), totals, seconds=0.0,
                      session=session(world_size=1, steps=0))
    assert row == {"epoch": 1, "lr": 1, "train_loss": 0.0, "train_top1": 0.0, "epoch_seconds": 0.0,
                   "images_per_second": 0.0, "data_seconds_per_step": 0.5}
    one = {"images": 1.0, "loss_sum": 0.5, "correct": 1.0, "skipped_images": 0.0, "data_seconds": 0.0,
           "untimed_images": 0.0}
    row = metrics_row(state, EpochEvaluation(None, None, "raw", None), one, seconds=0.5, session=session())
    assert (row["train_loss"], row["train_top1"], row["images_per_second"]) == (0.5, 100.0, 2.0)


def test_the_evaluation_record_says_which_weights_and_why():
    state = SimpleNamespace(selection=Selection(4, "ema", 61.0))
    data = SimpleNamespace(name="fashion-mnist", validation_source="10% held out")
    record = evaluation_record(data, state, validation=result(61.0), test=None)
    assert record == {"data": "fashion-mnist", "epoch": 4, "weights": "ema", "selected_by": "validation top-1",
                      "validation_source": "10% held out", "validation": result(61.0).to_dict()}
    bare = evaluation_record(SimpleNamespace(name="folder", validation_source=""),
                             SimpleNamespace(selection=Selection(2, "raw", None)))
    assert bare["validation_source"] is None and bare["selected_by"] == "final epoch (no validation split)"


class Outputs:
    def __init__(self):
        self.evaluation = self.matrix = None

    def write_evaluation(self, record):
        self.evaluation = record

    def write_confusion_matrix(self, matrix, classes, title):
        self.matrix = (matrix, classes, title)


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_final_evaluation_reads_the_kept_weights_back_and_measures_the_test_split_once(
        tmp_path, monkeypatch, channels_last):
    import googlenet.weights.model_dir

    (tmp_path / "evaluation.json").write_text(json.dumps(
        {"epoch": 3, "weights": "ema", "validation": {**result(50.0).to_dict(), "extra": 1}}))
    kept, loaded = SimpleNamespace(to=lambda memory_format: ("channels_last", memory_format)), []

    def from_pretrained(model_dir, map_location):
        loaded.append((model_dir, map_location))
        return kept

    monkeypatch.setattr(googlenet.weights.model_dir, "from_pretrained", from_pretrained)
    measured = []
    run = session(channels_last=channels_last)
    monkeypatch.setattr(selection, "evaluate_split",
                        lambda given, model, dataset: measured.append((given is run, model, dataset)) or result(70.0, top5=99.0))
    outputs = Outputs()
    data = SimpleNamespace(test="test split", classes=("a", "b"), name="fm")
    validation, test = final_evaluation(run, data, tmp_path, outputs)
    import torch

    assert loaded == [(tmp_path, "cpu")]
    assert measured == [(True, ("channels_last", torch.channels_last) if channels_last else kept, "test split")]
    assert validation == {"loss": 1.0, "top1": 50.0, "top5": 90.0, "count": 10, "skipped": []}
    assert test == {"loss": 1.0, "top1": 70.0, "top5": 99.0, "count": 10, "skipped": []}
    assert outputs.evaluation["test_evaluated"] == "once, at the end of the run, on the kept weights"
    assert outputs.evaluation["test"] == result(70.0, top5=99.0).to_dict()
    assert outputs.matrix == ([[5, 0], [0, 5]], ["a", "b"], "fm, test split: epoch 3, EMA weights, top-1 70.00%")


def test_without_a_test_split_the_confusion_matrix_is_the_validation_splits(tmp_path):
    (tmp_path / "evaluation.json").write_text(json.dumps({"epoch": 2, "weights": "raw",
                                                          "validation": result(40.0).to_dict()}))
    outputs = Outputs()
    data = SimpleNamespace(test=None, classes=["a", "b"], name="fm")
    validation, test = final_evaluation(session(), data, tmp_path, outputs)
    assert test is None and validation["top1"] == 40.0 and "test" not in outputs.evaluation
    assert outputs.matrix[2] == "fm, validation split: epoch 2, raw weights, top-1 40.00%"
    assert final_evaluation(session(), data, tmp_path, None) == (validation, None)  # another rank: writes nothing


def test_a_record_without_figures_writes_no_confusion_matrix(tmp_path):
    (tmp_path / "evaluation.json").write_text(json.dumps({"epoch": 2, "weights": "raw"}))
    outputs = Outputs()
    data = SimpleNamespace(test=None, classes=["a", "b"], name="fm")
    assert final_evaluation(session(), data, tmp_path, outputs) == (None, None)
    assert outputs.evaluation == {"epoch": 2, "weights": "raw"} and outputs.matrix is None


def test_the_epoch_line():
    row = {"epoch": 3, "train_loss": 0.123456, "epoch_seconds": 12.6}
    assert epoch_summary(row, 10) == "epoch 3/10: train loss 0.1235, 13s"
    row.update(validation_top1=61.234, ema_validation_top1=62.0, test_top1=60.0, test_weights="ema")
    assert epoch_summary(row, 10) == ("epoch 3/10: train loss 0.1235, validation top-1 61.23% (EMA 62.00%), "
                                      "test top-1 60.00% (ema, for information), 13s")
    del row["ema_validation_top1"]
    assert "(EMA" not in epoch_summary(row, 10)
