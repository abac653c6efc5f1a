"""Vonage's message status callbacks, as this service reads them, and the order of their statuses.

A callback arrives at least once and out of order; what it says only ever moves forward: a status of lower
rank than the one already known (``submitted`` after ``delivered``) changes nothing. ``rejected`` and
``undeliverable`` (the message will not reach the phone) rank below ``delivered`` and ``read`` (it did):
should Vonage report both, delivery is the truth a fallback must act on.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from rcs_revoker.domain.errors import InvalidStatusCallback
from rcs_revoker.domain.validation import is_canonical_uuid, parse_timestamp, shorten

STATUS_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {"submitted": 1, "rejected": 2, "undeliverable": 2, "delivered": 3, "read": 4}
)
DELIVERED: Final = frozenset({"delivered", "read"})
NOT_DELIVERED: Final = frozenset({"rejected", "undeliverable"})
MAX_TEXT: Final = 256  # longer strings from a callback are cut, so that one callback cannot bloat the ledger


@dataclass(frozen=True, slots=True)
class StatusCallback:
    """One verified callback. `agent_id` is the RCS agent (`from` of an RCS callback); `error` is Vonage's,
    for rejected and undeliverable."""

    message_uuid: str
    status: str
    timestamp: datetime
    channel: str | None = None
    agent_id: str | None = None
    client_ref: str | None = None
    error: Mapping[str, str] | None = None

    @property
    def rank(self) -> int:
        return STATUS_RANK.get(self.status, 0)

    @property
    def delivered(self) -> bool:
        return self.status in DELIVERED

    @property
    def not_delivered(self) -> bool:
        return self.status in NOT_DELIVERED

    @property
    def callback_id(self) -> str:
        """What makes two deliveries of a callback the same callback: Vonage sends each status once per
        message, with its time; a repeat carries the same pair."""
        return f"{self.status}@{self.timestamp.isoformat()}"


def parse_status_callback(payload: object) -> StatusCallback:
    """The callback in `payload` (the JSON body), or InvalidStatusCallback naming what is wrong. A status this
    service does not use is still a callback (rank 0): acknowledged and forwarded, never ranked."""
    if not isinstance(payload, Mapping):
        raise InvalidStatusCallback("The status callback is not a JSON object.")
    message_uuid, status = payload.get("message_uuid"), payload.get("status")
    if not isinstance(message_uuid, str) or not is_canonical_uuid(message_uuid):
        raise InvalidStatusCallback(f"message_uuid {shorten(message_uuid)} is not a canonical UUID.")
    if not isinstance(status, str) or not status:
        raise InvalidStatusCallback(f"status {shorten(status)} is not a status name.")
    timestamp = parse_timestamp(payload.get("timestamp"))
    if timestamp is None:
        raise InvalidStatusCallback(f"timestamp {shorten(payload.get('timestamp'))} is not an RFC 3339 time.")
    channel = _text(payload.get("channel"))
    return StatusCallback(
        message_uuid=message_uuid.lower(),
        status=status.lower()[:MAX_TEXT],
        timestamp=timestamp,
        channel=channel,
        agent_id=_text(payload.get("from")) if channel == "rcs" else None,
        client_ref=_text(payload.get("client_ref")),
        error=_error(payload.get("error")),
    )


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _error(value: Any) -> Mapping[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    fields = {name: text for name in ("type", "title", "detail") if (text := _text(value.get(name))) is not None}
    return MappingProxyType(fields) if fields else None
