"""The trainers' wall-clock budget: spent time, resumes, and the schedule it moves on."""

from __future__ import annotations

import pytest

from annotator.time_budget import TimeBudget


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_no_budget_changes_nothing() -> None:
    clock = _Clock()
    b = TimeBudget(None, clock=clock)
    clock.t += 1e6
    assert not b.limited and not b.exhausted() and b.fraction() == 0.0
    assert [b.schedule_step(s, 10) for s in range(10)] == list(range(10))


def test_budget_counts_time_and_earlier_attempts() -> None:
    clock = _Clock()
    b = TimeBudget(2.0, spent_s=30.0, clock=clock)  # 120 s, 30 of them spent before
    assert b.spent_s() == pytest.approx(30.0) and not b.exhausted()
    clock.t += 60.0
    assert b.fraction() == pytest.approx(0.75) and not b.exhausted()
    clock.t += 30.0
    assert b.exhausted() and b.spent_s() == pytest.approx(120.0)


def test_schedule_follows_whichever_is_further_along() -> None:
    clock = _Clock()
    b = TimeBudget(1.0, clock=clock)
    assert b.schedule_step(7, 100) == 7  # no time spent yet: the step
    clock.t += 30.0  # half the budget
    assert b.schedule_step(7, 100) == 50 and b.schedule_step(80, 100) == 80
    clock.t += 300.0  # far past it: the last step of the schedule, never beyond
    assert b.schedule_step(7, 100) == 99


@pytest.mark.parametrize("minutes", [0, -1, float("nan"), float("inf")])
def test_a_budget_must_be_positive_and_finite(minutes) -> None:
    with pytest.raises(ValueError, match="positive number of minutes"):
        TimeBudget(minutes)
    with pytest.raises(ValueError, match=">= 0"):
        TimeBudget(1.0, spent_s=-1.0)
