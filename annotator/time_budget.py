"""A wall-clock budget for a training run (``--max-minutes`` of the trainers).

A run given both a step count and a budget stops at whichever comes first, and its learning
rate schedule follows whichever is further along: the schedule sees the effective step
``max(step, total_steps x spent / budget)``, so a run cut short by the clock still goes
through its warm-up and its decays instead of ending at the full learning rate. The time
spent is carried across resumes (the trainers store it in their checkpoints), so a run that
was killed and resumed stays inside the same budget. With no budget nothing changes: the
effective step is the step.

This is what lets ``annotator demo`` promise a wall time on machines whose speed differs:
on a fast machine the step counts bound the run, on a slow one the clock does (the steps
actually taken are in the checkpoint, metrics.jsonl and the report).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["TimeBudget"]


class TimeBudget:
    """Seconds spent on a run against an optional limit (``minutes=None``: no limit).

    Args:
        minutes: the budget; None for none.
        spent_s: time already spent by earlier attempts of the same run (from a checkpoint).
        clock: a monotonic clock in seconds; by default the class attribute ``clock``
            (``time.perf_counter``), which a test may replace to drive a trainer's budget
            step by step.
    """

    clock: Callable[[], float] = staticmethod(time.perf_counter)

    def __init__(self, minutes: float | None, spent_s: float = 0.0,
                 clock: Callable[[], float] | None = None) -> None:
        if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
            raise ValueError(f"a time budget must be a positive number of minutes, got {minutes!r}")
        if not (math.isfinite(spent_s) and spent_s >= 0):
            raise ValueError(f"time already spent must be >= 0 s, got {spent_s!r}")
        self.limit_s = None if minutes is None else float(minutes) * 60.0
        self._before = float(spent_s)
        self._clock = clock if clock is not None else type(self).clock
        self._t0 = self._clock()

    @property
    def limited(self) -> bool:
        return self.limit_s is not None

    def spent_s(self) -> float:
        """Seconds spent, earlier attempts included."""
        return self._before + (self._clock() - self._t0)

    def fraction(self) -> float:
        """Share of the budget spent (0 without a budget; may exceed 1)."""
        return 0.0 if self.limit_s is None else self.spent_s() / self.limit_s

    def exhausted(self) -> bool:
        return self.limit_s is not None and self.spent_s() >= self.limit_s

    def schedule_step(self, step: int, total_steps: int) -> int:
        """The step a learning-rate schedule over ``total_steps`` should see now."""
        if self.limit_s is None:
            return step
        by_time = int(total_steps * min(self.fraction(), 1.0))
        return max(step, min(by_time, max(total_steps - 1, 0)))
