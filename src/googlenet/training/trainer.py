"""Training: the paper's recipe (SGD, momentum 0.9, aux-weighted loss, Polyak averaging) on any data.

The same `train()` runs in one process or under `torchrun --nproc_per_node=N` (DistributedDataParallel,
DistributedSampler, metrics reduced over ranks, rank 0 writing everything). A run directory holds:

    config.json            the TrainConfig of the run
    checkpoint_last.pt     everything needed to continue exactly (checkpoint_previous.pt: the one before)
    checkpoint_best.pt     the same, at the epoch whose weights are kept
    model/                 the kept weights as a model directory, with evaluation.json
    metrics.csv, metrics.json, tensorboard/, curves.png, confusion_matrix.png

The pieces: config.py (settings), setup.py (data, model, run directory), step.py (one step), loop.py (an
epoch, an evaluation), selection.py (which weights are kept), checkpoint.py, schedule.py, ema.py,
outputs.py. This module puts them in order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from googlenet.atomic_files import AtomicWriteError
from googlenet.distributed import (
    failures_shared,
    parameters_in_sync,
    setup_distributed,
    synchronize,
    teardown_distributed,
)
from googlenet.training.checkpoint import build_payload, gather_rank_states, save_checkpoint
from googlenet.training.config import LAST_CHECKPOINT, MODEL_DIR, TrainConfig, TrainResult
from googlenet.training.loop import StopRequests, train_one_epoch
from googlenet.training.epoch_clock import EpochClock
from googlenet.training.outputs import RunOutputs, recognised_classes
from googlenet.training.resume import ResumePoint, continue_from, read_resume_point, resume_config
from googlenet.training.selection import (
    epoch_summary,
    evaluate_epoch,
    evaluation_record,
    final_evaluation,
    metrics_row,
    select,
    weights_of,
)
from googlenet.training.setup import build_session, check_output_dir, describe_start

__all__ = ["Trainer", "train"]


class Trainer:
    """One run, built and then advanced epoch by epoch. Use `train(config)`; tests reach in here."""

    def __init__(self, config: TrainConfig | Mapping[str, Any] | None = None,
                 resume: str | os.PathLike | None = None) -> None:
        resumed = read_resume_point(resume) if resume is not None else None
        if resumed is not None:
            config = resume_config(resumed, config)
        elif not isinstance(config, TrainConfig):
            config = TrainConfig(**(config or {}))
        config.check()
        self.context = setup_distributed(config.device)
        try:
            self._build(config, resumed)
        except BaseException:
            teardown_distributed(self.context)
            raise

    def _build(self, config: TrainConfig, resumed: ResumePoint | None) -> None:
        self.notes: list[str] = []  # printed at the start of the run
        if resumed is not None:
            self.run_dir = resumed.run_dir
        else:
            self.run_dir = Path(config.resolved().output_dir)
            check_output_dir(self.run_dir, config.overwrite, is_main=self.context.is_main)
        self.stop = StopRequests()
        self.session, self.state, self.data, self.config = build_session(
            config.resolved(), self.context, self.run_dir, self.stop, self.notes, resumed)
        if resumed is not None:
            continue_from(self.session, self.state, resumed.checkpoint, self.notes)
        self.outputs: RunOutputs | None = None
        self.examples: list[Path] = []  # examples/CLASS.png, written by rank 0 at the start

    @property
    def is_main(self) -> bool:
        return self.context.is_main

    def run(self) -> TrainResult:
        status = "finished"
        try:
            with failures_shared(self.context):  # rank 0 writes; the others must not wait for it in vain
                if self.is_main:
                    _make_directory(self.run_dir)
                    self.outputs = RunOutputs(self.run_dir, tensorboard=self.config.tensorboard)
                    self.outputs.write_config(self.config)
                    print("\n".join(describe_start(self.session, self.data, self.notes)), flush=True)
                    self.examples = self.outputs.write_examples(self.data)
                    epochs_left = self.config.epochs - self.state.position.epoch
                    self.session.after_step = EpochClock(self.session.steps_per_epoch, epochs_left,
                                                         say=lambda line: print(line, flush=True))
            with self.stop:
                while self.state.position.epoch < self.config.epochs:
                    seconds = train_one_epoch(self.session, self.state)
                    if self.state.position.step_in_epoch < self.session.steps_per_epoch:
                        status = "interrupted"
                        self._interrupted()
                        break
                    self._end_epoch(seconds)
            result = self._result(status)
            if status == "finished":
                result = self._finish(result)
        finally:
            if self.outputs is not None:
                self.outputs.close()
            teardown_distributed(self.context)
        return result

    def _interrupted(self) -> None:
        self._save_checkpoint(best=False)
        position, steps = self.state.position, self.session.steps_per_epoch
        if self.is_main:
            print(f"interrupted at epoch {position.epoch + 1}, step {position.step_in_epoch}/{steps}: resumable "
                  f"checkpoint written to {self.run_dir / LAST_CHECKPOINT}; continue with: "
                  f"googlenet train --resume {self.run_dir}", flush=True)

    def _end_epoch(self, seconds: float) -> None:
        session, state = self.session, self.state
        totals = state.totals.reduced(self.context)
        evaluation = evaluate_epoch(session, state, self.data)
        row = metrics_row(state, evaluation, totals, seconds, session)
        if self.context.enabled:
            row["ranks_in_sync"] = parameters_in_sync(state.model, self.context)
        state.history.append(row)
        kept = select(state, evaluation, row["epoch"])
        state.start_next_epoch()
        with failures_shared(self.context):
            if self.is_main:
                assert self.outputs is not None
                if kept:
                    record = evaluation_record(self.data, state, validation=evaluation.validation,
                                               test=evaluation.test)
                    self.outputs.write_model(weights_of(state, evaluation.candidate), record)
                self.outputs.log_epochs(state.history)
                print(epoch_summary(row, self.config.epochs), flush=True)
        # The checkpoint last: a crash before it resumes this epoch again, which rewrites the same files.
        self._save_checkpoint(best=kept)

    def _save_checkpoint(self, best: bool) -> None:
        rank_states = gather_rank_states(self.context, self.state.totals)  # every rank takes part; rank 0 writes
        with failures_shared(self.context):
            if self.is_main:
                payload = build_payload(self.state, self.config, rank_states,
                                        _run_record(self.state.model, self.session))
                save_checkpoint(payload, self.run_dir, best=best)

    def _result(self, status: str) -> TrainResult:
        selection = self.state.selection
        return TrainResult(status, self.run_dir, self.state.position.epoch, selection.epoch, selection.weights,
                           selection.by, final=self.state.history[-1] if self.state.history else {},
                           stopped_by=self.stop.by if status == "interrupted" else None)

    def _finish(self, result: TrainResult) -> TrainResult:
        """Evaluate the kept weights, as read back from model/, on the test split; report every split."""
        synchronize(self.context)  # rank 0 has written model/
        if result.selected_epoch is None:
            return result
        validation, test = final_evaluation(self.session, self.data, self.run_dir / MODEL_DIR, self.outputs)
        result = replace(result, validation=validation, test=test)
        if self.is_main:
            print(result.summary(), flush=True)
            print(recognised_classes(list(self.data.classes), self.examples), flush=True)
        return result


def _make_directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AtomicWriteError(path, error) from error


def _run_record(model: Any, session: Any) -> dict[str, Any]:
    """What a resumed run reads from the checkpoint instead of deriving it again: the network, its classes
    and preprocessing, and the evaluation's batch size (chosen for the memory at the start)."""
    preprocessing = model.preprocessing
    return {"model_config": model.config.to_dict(), "class_names": list(model.class_names or []),
            "preprocessing": preprocessing.to_dict() if preprocessing is not None else None,
            "evaluation_batch_size": session.evaluation_batch_size}


def train(config: TrainConfig | Mapping[str, Any] | None = None,
          resume: str | os.PathLike | None = None) -> TrainResult:
    """Train GoogLeNet as `config` says (defaults: `make train`'s Fashion-MNIST run; a mapping is
    TrainConfig's keyword arguments). `resume` (a run directory or one of its checkpoint files) continues
    that run exactly where it stopped, with the run's own options, reading nothing but the run: `config`
    may change the safe ones (workers, device, epochs, ...); a TrainConfig's other options left at their
    defaults are the run's, while a mapping names exactly the options given, as the command line does
    (`resume.resume_config`). Any option given a value other than the run's, and not safe, is refused."""
    return Trainer(config, resume=resume).run()
