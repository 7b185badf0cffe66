"""Edges of the learning-rate schedule (training/schedule.py) past what a run normally asks of it."""

from googlenet.training.schedule import LearningRateSchedule


def test_the_cosine_stays_at_zero_past_its_last_step():
    # the run's last step is total_steps - 1; nothing may climb back up the cosine beyond it
    schedule = LearningRateSchedule.for_run("cosine", steps_per_epoch=10, epochs=4, warmup_epochs=1)
    assert schedule.factor(schedule.total_steps) == 0.0
    assert [schedule.factor(schedule.total_steps + extra) for extra in (5, 15, 30)] == [0.0, 0.0, 0.0]
