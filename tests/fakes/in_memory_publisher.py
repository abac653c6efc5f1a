"""The event bus, in memory (OutcomePublisher): keeps what it was given, or refuses as EventBridge can."""

from dataclasses import dataclass, field
from typing import Any

from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import OutcomeEvent


@dataclass
class InMemoryOutcomePublisher:
    """`refusals`: how many of the next calls the bus does not answer (-1: every one); `take_only`: the next
    call takes only this many entries and refuses the rest (EventBridge's FailedEntryCount)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusals: int = 0
    take_only: int | None = None

    def publish(self, events: list[OutcomeEvent]) -> int:
        if self.refusals != 0:
            if self.refusals > 0:
                self.refusals -= 1
            raise OutcomeNotRecorded("EventBridge did not take the outcome events (fake).")
        taken = len(events) if self.take_only is None else min(self.take_only, len(events))
        self.take_only = None
        self.events.extend((event.detail_type, dict(event.detail)) for event in events[:taken])
        return taken

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.events if kind == detail_type]
