"""A ledger record (GET /revocations/{uuid}) as a person reads it: the state and what it means for the
fallback, what Vonage said, then the timeline, oldest first."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rcs_revoker_client.client import Revocation

_SKIPPED_IN_ENTRY = ("at", "event")


def fallback_line(record: Revocation) -> str:
    """What the sender's fallback does now, in one line."""
    if record.fallback is True:
        return "fallback: send the SMS (the message will not reach the phone by RCS)"
    if record.fallback is False:
        return "no fallback: the message reached the phone"
    if record.state == "cancelled":
        return "no fallback known: the revocation was cancelled before it fired; the RCS message may still be delivered"
    if record.settled:
        return (
            f"no fallback known: the revocation ended {record.state} without Vonage accepting it; "
            "the RCS message may still be delivered"
        )
    return f"fallback not known yet ({record.state}: {waiting_for(record.state)})"


def waiting_for(state: str) -> str:
    return {
        "scheduled": "the timer is due later",
        "queued": "in the bulk queue",
        "revoking": "Vonage is being asked",
        "retrying": "a retry is coming",
        "requested": "Vonage accepted; its status callback is awaited",
        "sent": "nothing asked of this service yet",
    }.get(state, "waiting")


def render_record(record: Revocation) -> str:
    document = record.document
    rows: list[tuple[str, str]] = [
        ("message", record.message_uuid),
        ("state", record.state + ("" if record.settled else " (not settled)")),
        ("", fallback_line(record)),
    ]
    optional = [
        ("region", document.get("region")),
        ("agent", document.get("agent_id")),
        ("client_ref", document.get("client_ref")),
        ("batch", document.get("batch_id")),
        ("vonage id", document.get("vonage_request_id")),
        ("attempts", document.get("attempts") or None),
        ("last error", document.get("last_error")),
        ("submitted", _time(document.get("submitted_at"))),
        ("delivery", _delivery(document)),
        ("vonage says", _vonage_error(document.get("vonage_error"))),
        ("timer", _timer(document.get("timer"))),
        ("metadata", _compact(document["metadata"]) if document.get("metadata") else None),
    ]
    rows += [(name, str(value)) for name, value in optional if value not in (None, "")]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if record.timeline:
        lines += ["", "timeline:"]
        lines += [f"  {_time(entry.get('at')) or '?':<24}  {_entry(entry)}" for entry in record.timeline]
    return "\n".join(lines)


def _entry(entry: dict[str, Any]) -> str:
    details = ", ".join(
        f"{key} {_compact(value)}"
        for key, value in entry.items()
        if key not in _SKIPPED_IN_ENTRY and value is not None  # a field the event left empty says nothing
    )
    return f"{entry.get('event', '?')}" + (f"  ({details})" if details else "")


def _delivery(document: dict[str, Any]) -> str | None:
    status = document.get("delivery_status")
    return f"{status} at {_time(document.get('delivery_status_at'))}" if status else None


def _vonage_error(error: object) -> str | None:
    if not isinstance(error, dict):
        return None
    return ": ".join(str(error[key]) for key in ("title", "detail") if error.get(key)) or None


def _timer(timer: object) -> str | None:
    if not isinstance(timer, dict):
        return None
    text = f"due {_time(timer.get('due_at'))}" if timer.get("due_at") else "deferred"
    if timer.get("ended"):
        text += f", ended: {timer['ended']}"
    return text


def _compact(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and (parsed := _parse_time(value)) is not None:
        return _format_time(parsed)
    return str(value)


def _time(value: object) -> str | None:
    parsed = _parse_time(value) if isinstance(value, str) else None
    return _format_time(parsed) if parsed else (str(value) if value else None)


def _parse_time(value: str) -> datetime | None:
    if len(value) < 19 or value[4] != "-" or value[10] not in "T ":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _format_time(moment: datetime) -> str:
    """UTC to the millisecond, as the service records times."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S") + f".{moment.microsecond // 1000:03d}"
    offset = moment.utcoffset()
    return text + ("Z" if offset is not None and not offset else moment.strftime("%z") if offset else "")
