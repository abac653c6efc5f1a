"""Puts outcome events on the EventBridge bus: what a downstream SMS fallback subscribes to."""

import json
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import OUTCOME_SOURCE, OutcomeEvent

PUT_EVENTS_MAX_ENTRIES: Final = 10  # the most one PutEvents takes


class EventBridgeOutcomePublisher:
    """Implements the domain's OutcomePublisher port: PutEvents, ten entries at a time, in order."""

    def __init__(self, event_bus_name: str) -> None:
        self._event_bus_name = event_bus_name

    def publish(self, events: list[OutcomeEvent]) -> int:
        for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
            chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
            entries = [
                {
                    "Source": OUTCOME_SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail),
                    "EventBusName": self._event_bus_name,
                }
                for event in chunk
            ]
            try:
                response = aws_client("events").put_events(Entries=entries)
            except (ClientError, BotoCoreError) as error:
                if start:
                    return start
                raise OutcomeNotRecorded(
                    f"EventBridge did not take the outcome events ({type(error).__name__})."
                ) from None
            if response.get("FailedEntryCount", 0):
                refused = next(i for i, entry in enumerate(response["Entries"]) if entry.get("ErrorCode"))
                return start + refused
        return len(events)
