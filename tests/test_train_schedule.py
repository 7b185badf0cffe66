"""The learning-rate schedule: the fresh run's curve, and how it continues when a run is resumed with
another length or another number of processes (never rising after the warm-up)."""

import math

import pytest
import torch

from googlenet.training.schedule import LearningRateSchedule


def old_factor(step: int, epochs: int, steps_per_epoch: int, warmup_epochs: float, kind: str = "cosine") -> float:
    """The first release's LambdaLR formula, which version-1 checkpoints followed."""
    warmup = round(warmup_epochs * steps_per_epoch)
    total = epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if kind == "paper":
        return 0.96 ** (step // (8 * steps_per_epoch))
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@pytest.mark.parametrize("kind", ["cosine", "paper"])
def test_a_fresh_schedule_is_the_first_releases_curve(kind):
    schedule = LearningRateSchedule.for_run(kind, steps_per_epoch=10, epochs=20, warmup_epochs=0.5)
    for step in range(200):
        assert schedule.factor(step) == pytest.approx(old_factor(step, 20, 10, 0.5, kind), abs=1e-12), step
    assert schedule.factor(0) == pytest.approx(0.2) and schedule.factor(4) == pytest.approx(1.0)
    if kind == "cosine":
        assert schedule.factor(200) == 0.0


def lr_sequence(schedule: LearningRateSchedule, steps: range) -> list[float]:
    return [schedule.factor(step) for step in steps]


@pytest.mark.parametrize("stop_at", [3, 25, 37, 70])
def test_extending_a_run_continues_the_learning_rate_and_never_raises_it(stop_at):
    steps_per_epoch, warmup = 10, 5
    first = LearningRateSchedule.for_run("cosine", steps_per_epoch, epochs=7, warmup_epochs=0.5)
    extended = first.continued(stop_at, stop_at // steps_per_epoch, total_steps=12 * steps_per_epoch,
                               steps_per_epoch=steps_per_epoch)
    sequence = lr_sequence(first, range(stop_at)) + lr_sequence(extended, range(stop_at, 120))
    # continuous: the first step after the resume has the rate the interrupted run would have used
    assert extended.factor(stop_at) == pytest.approx(first.factor(stop_at))
    after_warmup = sequence[warmup:]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(after_warmup, after_warmup[1:]))
    steps = [b - a for a, b in zip(after_warmup, after_warmup[1:])]
    assert max(abs(step) for step in steps) < 0.1  # no jump anywhere
    assert sequence[-1] < 0.01 and extended.factor(120) == 0.0  # down to zero at the new end
    # the old bug: rebuilding the cosine for 12 epochs jumped back up
    rebuilt = LearningRateSchedule.for_run("cosine", steps_per_epoch, epochs=12, warmup_epochs=0.5)
    if stop_at > warmup:
        assert rebuilt.factor(stop_at) > first.factor(stop_at) + 1e-3


def test_shortening_a_run_also_falls_to_zero_without_rising():
    first = LearningRateSchedule.for_run("cosine", 10, epochs=10, warmup_epochs=0)
    shorter = first.continued(40, 4, total_steps=60, steps_per_epoch=10)
    sequence = lr_sequence(shorter, range(40, 61))
    assert sequence[0] == pytest.approx(first.factor(40))
    assert all(b <= a for a, b in zip(sequence, sequence[1:])) and sequence[-1] == 0.0


def test_a_finished_cosine_stays_at_zero_when_extended():
    first = LearningRateSchedule.for_run("cosine", 10, epochs=3, warmup_epochs=0.5)
    extended = first.continued(30, 3, total_steps=50, steps_per_epoch=10)
    assert lr_sequence(extended, range(30, 50)) == [0.0] * 20


def test_another_number_of_processes_at_an_epoch_boundary_continues_from_the_current_rate():
    # 2 processes: 10 steps an epoch; 1 process afterwards: 20 steps an epoch over the same images.
    first = LearningRateSchedule.for_run("cosine", 10, epochs=6, warmup_epochs=0.5)
    after = first.continued(30, 3, total_steps=30 + 3 * 20, steps_per_epoch=20)
    assert after.factor(30) == pytest.approx(first.factor(30))
    sequence = lr_sequence(after, range(30, 91))
    assert all(b <= a for a, b in zip(sequence, sequence[1:])) and sequence[-1] == 0.0


def test_the_papers_schedule_keeps_counting_epochs_when_processes_change():
    first = LearningRateSchedule.for_run("paper", 10, epochs=20, warmup_epochs=0)
    after = first.continued(70, 7, total_steps=70 + 13 * 20, steps_per_epoch=20)
    assert after.factor(70) == 1.0  # epoch 8 (index 7)
    assert after.factor(70 + 20) == pytest.approx(0.96)  # epoch 9 (index 8): the first decay
    extended = first.continued(55, 5, total_steps=300, steps_per_epoch=10)  # only the length changes
    assert [extended.factor(step) for step in range(300)] == [first.factor(step) for step in range(300)]


def test_apply_sets_every_groups_rate_from_its_peak():
    weights = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.SGD([{"params": [weights[0]], "initial_lr": 0.01},
                                 {"params": [weights[1]], "initial_lr": 0.1}], lr=0.1)
    schedule = LearningRateSchedule.for_run("cosine", 10, epochs=2, warmup_epochs=0)
    schedule.apply(optimizer, 10)
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([0.005, 0.05])


def test_a_schedule_survives_its_round_trip_through_a_checkpoint():
    schedule = LearningRateSchedule.for_run("cosine", 10, 5, 0.5).continued(23, 2, 90, 10)
    assert LearningRateSchedule.from_dict(schedule.to_dict()) == schedule
