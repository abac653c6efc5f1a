"""The timers' wake-ups, in memory (TimerWakeUps): what was armed (a queue delay or a schedule) and forgotten."""

import json
from dataclasses import dataclass, field

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.timers import Timer, WakeUpPlan


@dataclass
class InMemoryTimerWakeUps:
    """`unavailable`: arm() fails as SQS or Scheduler would when they do not answer."""

    armed: list[tuple[Timer, WakeUpPlan, int]] = field(default_factory=list)
    forgotten: list[Timer] = field(default_factory=list)
    unavailable: bool = False

    def arm(self, timer: Timer, plan: WakeUpPlan, *, retries: int = 0) -> None:
        if self.unavailable:
            raise DependencyUnavailable("SQS did not answer (fake).")
        self.armed.append((timer, plan, retries))

    def forget(self, timer: Timer) -> None:
        self.forgotten.append(timer)

    def bodies(self) -> list[str]:
        """The wake-ups as the timer function receives them (JSON bodies)."""
        return [json.dumps(timer.wake_up(retries=retries)) for timer, _, retries in self.armed]
