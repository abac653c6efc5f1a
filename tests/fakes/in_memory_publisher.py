"""The event bus, in memory (OutcomePublisher): keeps what it was given, or refuses as EventBridge can."""

from dataclasses import dataclass, field
from typing import Any

from rcs_revoker.domain.errors import OutcomeNotRecorded


@dataclass
class InMemoryOutcomePublisher:
    """`refusals`: how many of the next events are refused (-1: every one)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusals: int = 0

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.refusals != 0:
            if self.refusals > 0:
                self.refusals -= 1
            raise OutcomeNotRecorded("EventBridge refused the outcome event (fake).")
        self.events.append((detail_type, dict(detail)))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.events if kind == detail_type]
