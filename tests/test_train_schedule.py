"""The learning-rate schedule: the fresh run's curve, and how it continues when a run is resumed with
another length or another number of processes (never rising, except that a warm-up on the same steps goes on).

Every expected value comes from torch's own schedulers or from the formulas written in this file, never from
`LearningRateSchedule` itself.
"""

import math

import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR, StepLR

from googlenet.training.schedule import LearningRateSchedule


def warmup(step: int, warmup_steps: int) -> float:
    """Linear warm-up: 1/W, 2/W, ... W/W over the first W steps."""
    return (step + 1) / warmup_steps


def cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Warm-up, then half a cosine from 1 at the end of the warm-up to 0 at the last step."""
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))))


def paper(step: int, warmup_steps: int, steps_per_epoch: int) -> float:
    """Warm-up, then x0.96 every 8 epochs counted from the run's first step (paper section 6)."""
    if step < warmup_steps:
        return warmup(step, warmup_steps)
    return 0.96 ** (step // (8 * steps_per_epoch))


def torch_rates(optimizer: torch.optim.Optimizer, scheduler, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def one_parameter_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


@pytest.mark.parametrize("warmup_epochs", [0, 0.5, 2.0])
def test_a_fresh_cosine_is_torchs_linear_warmup_then_cosine_annealing(warmup_epochs):
    steps_per_epoch, epochs = 10, 20
    warmup_steps, total = round(warmup_epochs * steps_per_epoch), epochs * steps_per_epoch
    optimizer = one_parameter_optimizer()
    annealing = CosineAnnealingLR(optimizer, T_max=total - warmup_steps)
    if warmup_steps:
        optimizer = one_parameter_optimizer()
        scheduler = SequentialLR(optimizer, [LinearLR(optimizer, start_factor=1 / warmup_steps,
                                                      total_iters=warmup_steps - 1),
                                             CosineAnnealingLR(optimizer, T_max=total - warmup_steps)],
                                 milestones=[warmup_steps])
    else:
        scheduler = annealing
    expected = torch_rates(optimizer, scheduler, total + 1)
    schedule = LearningRateSchedule.for_run("cosine", steps_per_epoch, epochs, warmup_epochs)
    assert [schedule.factor(step) for step in range(total + 1)] == pytest.approx(expected, abs=1e-12)
    assert [schedule.factor(step) for step in range(total + 1)] == pytest.approx(
        [cosine(step, warmup_steps, total) for step in range(total + 1)], abs=1e-12)
    assert schedule.factor(total) == 0.0


def test_a_fresh_paper_schedule_is_torchs_step_decay_after_its_warmup():
    schedule = LearningRateSchedule.for_run("paper", steps_per_epoch=10, epochs=30, warmup_epochs=0)
    optimizer = one_parameter_optimizer()
    expected = torch_rates(optimizer, StepLR(optimizer, step_size=80, gamma=0.96), 300)
    assert [schedule.factor(step) for step in range(300)] == pytest.approx(expected, rel=1e-12)
    warming = LearningRateSchedule.for_run("paper", steps_per_epoch=10, epochs=30, warmup_epochs=2.0)
    assert [warming.factor(step) for step in range(300)] == pytest.approx(
        [paper(step, 20, 10) for step in range(300)], rel=1e-12)
    assert warming.factor(0) == pytest.approx(0.05) and warming.factor(19) == 1.0 and warming.factor(80) == 0.96


@pytest.mark.parametrize("stop_at", [3, 25, 37, 70])
def test_extending_a_cosine_continues_from_the_rate_reached_down_to_zero(stop_at):
    steps_per_epoch, warmup_steps, first_total, new_total = 10, 5, 70, 120
    first = LearningRateSchedule.for_run("cosine", steps_per_epoch, epochs=7, warmup_epochs=0.5)
    extended = first.continued(stop_at, stop_at // steps_per_epoch, total_steps=new_total,
                               steps_per_epoch=steps_per_epoch)
    if stop_at < warmup_steps:  # the warm-up goes on, then the cosine of the new length
        expected = [cosine(step, warmup_steps, new_total) for step in range(stop_at, new_total + 1)]
    else:  # the cosine restarts from the rate reached, at the step where the run stands
        reached = cosine(stop_at, warmup_steps, first_total)
        expected = [reached * 0.5 * (1 + math.cos(math.pi * (step - stop_at) / (new_total - stop_at)))
                    for step in range(stop_at, new_total + 1)]
    assert [extended.factor(step) for step in range(stop_at, new_total + 1)] == pytest.approx(expected, abs=1e-12)
    assert extended.factor(new_total) == 0.0


def test_shortening_a_cosine_also_falls_to_zero_from_the_rate_reached():
    first = LearningRateSchedule.for_run("cosine", 10, epochs=10, warmup_epochs=0)
    shorter = first.continued(40, 4, total_steps=60, steps_per_epoch=10)
    reached = cosine(40, 0, 100)
    assert [shorter.factor(step) for step in range(40, 61)] == pytest.approx(
        [reached * 0.5 * (1 + math.cos(math.pi * (step - 40) / 20)) for step in range(40, 61)], abs=1e-12)


def test_a_finished_cosine_stays_at_zero_when_extended():
    first = LearningRateSchedule.for_run("cosine", 10, epochs=3, warmup_epochs=0.5)
    extended = first.continued(30, 3, total_steps=50, steps_per_epoch=10)
    assert [extended.factor(step) for step in range(30, 50)] == [0.0] * 20


def test_another_number_of_processes_continues_the_cosine_from_the_rate_reached():
    # 2 processes: 10 steps an epoch; 1 process afterwards: 20 steps an epoch over the same images.
    first = LearningRateSchedule.for_run("cosine", 10, epochs=6, warmup_epochs=0.5)
    after = first.continued(30, 3, total_steps=30 + 3 * 20, steps_per_epoch=20)
    reached = cosine(30, 5, 60)
    assert [after.factor(step) for step in range(30, 91)] == pytest.approx(
        [reached * 0.5 * (1 + math.cos(math.pi * (step - 30) / 60)) for step in range(30, 91)], abs=1e-12)


def test_the_papers_schedule_keeps_counting_epochs_when_processes_change():
    first = LearningRateSchedule.for_run("paper", 10, epochs=20, warmup_epochs=0)
    after = first.continued(70, 7, total_steps=70 + 13 * 20, steps_per_epoch=20)
    # epoch index 7 + (step - 70) // 20 after the change
    assert [after.factor(step) for step in range(70, 330)] == pytest.approx(
        [0.96 ** ((7 + (step - 70) // 20) // 8) for step in range(70, 330)], rel=1e-12)
    extended = first.continued(55, 5, total_steps=300, steps_per_epoch=10)  # only the length changes
    assert [extended.factor(step) for step in range(300)] == pytest.approx(
        [paper(step, 0, 10) for step in range(300)], rel=1e-12)


def test_the_papers_schedule_keeps_its_warmup_rate_when_processes_change_during_the_warmup():
    # 100 steps an epoch, a 2-epoch warm-up; after one epoch, twice the processes: 50 steps an epoch.
    first = LearningRateSchedule.for_run("paper", 100, 10, 2.0)
    after = first.continued(100, 1, 500, 50)
    reached = warmup(100, 200)  # 0.505: it used to jump to the peak, 1.0
    assert [after.factor(step) for step in range(100, 600)] == pytest.approx(
        [reached * 0.96 ** ((1 + (step - 100) // 50) // 8) for step in range(100, 600)], rel=1e-12)


def continuations(kind: str, warmup_epochs: float, steps_per_epoch: int, epochs: int):
    """(first, stop, continued, same_steps) for every step a run can stand at, continued with a longer and a
    shorter length, and, at each epoch boundary, with half and twice the steps an epoch (other processes)."""
    first = LearningRateSchedule.for_run(kind, steps_per_epoch, epochs, warmup_epochs)
    total = epochs * steps_per_epoch
    for stop in range(total + 1):
        epoch = stop // steps_per_epoch
        for new_total in (total + 5 * steps_per_epoch, max(stop, total - 2 * steps_per_epoch)):
            yield first, stop, first.continued(stop, epoch, new_total, steps_per_epoch), new_total, True
        if stop % steps_per_epoch == 0:
            for new_steps in (steps_per_epoch // 2, steps_per_epoch * 2):
                new_total = stop + (epochs + 3 - epoch) * new_steps
                yield first, stop, first.continued(stop, epoch, new_total, new_steps), new_total, False


@pytest.mark.parametrize("kind", ["cosine", "paper"])
@pytest.mark.parametrize("warmup_epochs", [0, 0.5, 2.0])
def test_a_continued_schedule_never_raises_the_learning_rate(kind, warmup_epochs):
    """At every step of a run (inside the warm-up, at its end, at every epoch boundary, after the end),
    continued with another length or another number of processes: the rate at the resumed step is the one
    the run had reached, and from there it never rises, except that a warm-up on the same steps goes on
    exactly as the uninterrupted run's."""
    steps_per_epoch, epochs = 4, 20
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    for first, stop, continued, new_total, same_steps in continuations(kind, warmup_epochs, steps_per_epoch, epochs):
        where = f"stopped at {stop}, {'same' if same_steps else 'other'} steps an epoch, new total {new_total}"
        if kind == "cosine":
            reached = cosine(stop, warmup_steps, epochs * steps_per_epoch)
        else:
            reached = paper(stop, warmup_steps, steps_per_epoch)
        assert continued.factor(stop) == pytest.approx(reached, rel=1e-12), where
        for step in range(stop + 1, new_total + 1):
            if same_steps and step < warmup_steps:
                assert continued.factor(step) == pytest.approx(warmup(step, warmup_steps)), where
            else:
                assert continued.factor(step) <= continued.factor(step - 1), f"{where}: rises at step {step}"
        if kind == "cosine":
            assert continued.factor(new_total) == 0.0 or new_total == stop, where


def test_apply_sets_every_groups_rate_from_its_peak():
    weights = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.SGD([{"params": [weights[0]], "initial_lr": 0.01},
                                 {"params": [weights[1]], "initial_lr": 0.1}], lr=0.1)
    schedule = LearningRateSchedule.for_run("cosine", 10, epochs=2, warmup_epochs=0)
    schedule.apply(optimizer, 10)  # half-way down the cosine: 0.5 x each peak
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([0.005, 0.05])


def test_a_schedule_survives_its_round_trip_through_a_checkpoint():
    schedule = LearningRateSchedule.for_run("cosine", 10, 5, 0.5).continued(23, 2, 90, 10)
    assert LearningRateSchedule.from_dict(schedule.to_dict()) == schedule
