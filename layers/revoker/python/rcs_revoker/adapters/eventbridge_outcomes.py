"""Puts outcome events on the EventBridge bus: what a downstream SMS fallback subscribes to."""

import json
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.domain.errors import OutcomeNotRecorded

OUTCOME_SOURCE: Final = "rcs-revoker"
ACCEPTED_DETAIL_TYPE: Final = "RCS Revocation Accepted"
REJECTED_DETAIL_TYPE: Final = "RCS Revocation Rejected"


class EventBridgeOutcomePublisher:
    def __init__(self, event_bus_name: str, client_factory: Callable[[], Any] | None = None) -> None:
        self._event_bus_name = event_bus_name
        self._client_factory = client_factory or (lambda: aws_client("events"))
        self._client: Any = None

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self._client is None:
            self._client = self._client_factory()
        entry = {
            "Source": OUTCOME_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._event_bus_name,
        }
        try:
            response = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as error:
            raise OutcomeNotRecorded(f"EventBridge did not take the outcome event ({type(error).__name__}).") from None
        if response.get("FailedEntryCount", 0):
            code = response["Entries"][0].get("ErrorCode", "unknown")
            raise OutcomeNotRecorded(f"EventBridge refused the outcome event ({code}).")
