"""Puts outcome events on the EventBridge bus: what a downstream SMS fallback subscribes to."""

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import OUTCOME_SOURCE


class EventBridgeOutcomePublisher:
    """Implements the domain's OutcomePublisher port: one PutEvents per outcome."""

    def __init__(self, event_bus_name: str) -> None:
        self._event_bus_name = event_bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": OUTCOME_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._event_bus_name,
        }
        try:
            response = aws_client("events").put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as error:
            raise OutcomeNotRecorded(f"EventBridge did not take the outcome event ({type(error).__name__}).") from None
        if response.get("FailedEntryCount", 0):
            code = response["Entries"][0].get("ErrorCode", "unknown")
            raise OutcomeNotRecorded(f"EventBridge refused the outcome event ({code}).")
