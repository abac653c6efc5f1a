"""Turns untrusted input (an API body, an event's detail, a batch) into requests, or says what is wrong.

Written by hand rather than with a schema library: the rules are few, the messages must name the exact
problem, and pydantic would add tens of milliseconds to every cold start.
"""

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from rcs_revoker.domain.errors import InvalidRequest
from rcs_revoker.domain.models import MAX_AFTER_SECONDS, RevocationRequest, TimerRequest
from rcs_revoker.domain.regions import REGION_NAMES, parse_region, region_for_country

MAX_AGENT_ID_LENGTH: Final = 256
REGION_SELECTORS: Final = ("region", "country", "agent_id")
TIMER_FIELDS: Final = ("after_seconds", "at")
ALLOWED_FIELDS: Final = (*REGION_SELECTORS, "sent_at", "client_ref", "metadata", *TIMER_FIELDS)
# As Vonage's own client_ref.
MAX_CLIENT_REF_LENGTH: Final = 100
MAX_METADATA_BYTES: Final = 1024
MAX_BATCH_ITEMS: Final = 1000
BATCH_FIELDS: Final = ("messages", *REGION_SELECTORS)

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# RFC 3339 date-time: `datetime.fromisoformat` alone also takes ISO forms RFC 3339 does not allow.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ](?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(\.\d{1,9})?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<offset_hours>\d{2}):(?P<offset_minutes>\d{2}))",
    re.ASCII,
)
_MINUTES_A_DAY: Final = 24 * 60
_LAST_MINUTE_OF_THE_DAY: Final = 23 * 60 + 59
_AGENT_ID = re.compile(r"[\x21-\x7e]+", re.ASCII)  # printable ASCII without spaces: no control characters


def is_agent_id(value: object) -> bool:
    """1 to MAX_AGENT_ID_LENGTH printable ASCII characters without spaces: an agent_id a request may name."""
    return isinstance(value, str) and len(value) <= MAX_AGENT_ID_LENGTH and _AGENT_ID.fullmatch(value) is not None


def shorten(value: object, limit: int = 64) -> str:
    """A value quoted for an error message, cut so that an attacker's megabyte does not echo back."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def is_canonical_uuid(value: object) -> bool:
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


def parse_message_uuid(value: object) -> str:
    """The message UUID, lower-cased, if `value` is a canonical 8-4-4-4-12 UUID."""
    if not isinstance(value, str) or not is_canonical_uuid(value):
        raise InvalidRequest(f"message_uuid {shorten(value)} is not a canonical UUID (8-4-4-4-12 hexadecimal digits).")
    return value.lower()


def parse_revocation_fields(message_uuid: object, fields: object) -> RevocationRequest:
    """Validates the region selector, sent_at, client_ref and metadata for one message. `fields` may be None
    (no body). A refusal of the fields names the message, when its UUID is valid."""
    uuid = parse_message_uuid(message_uuid)
    try:
        return _parse_fields(uuid, {} if fields is None else fields)
    except InvalidRequest as error:
        error.message_uuid = uuid
        raise


def _parse_fields(uuid: str, fields: object) -> RevocationRequest:
    if not isinstance(fields, Mapping):
        raise InvalidRequest(f"The request body must be a JSON object, not {_json_type(fields)}.")
    unknown = sorted(str(name) for name in fields if name not in ALLOWED_FIELDS)
    if unknown:
        names = ", ".join(shorten(name, 40) for name in unknown[:5])
        raise InvalidRequest(
            f"Unknown field(s): {names}. Allowed fields: {', '.join(ALLOWED_FIELDS)}. "
            f"Data of your own goes in metadata (a JSON object of at most {MAX_METADATA_BYTES} bytes)."
        )
    given = [name for name in REGION_SELECTORS if fields.get(name) is not None]
    if len(given) > 1:
        raise InvalidRequest(f"Give exactly one of region, country or agent_id; got {' and '.join(given)}.")
    return RevocationRequest(
        message_uuid=uuid,
        **_region_selector(fields),
        sent_at=_parse_sent_at(fields.get("sent_at")),
        client_ref=_parse_client_ref(fields.get("client_ref")),
        metadata=_parse_metadata(fields.get("metadata")),
        timer=_parse_timer(fields.get("after_seconds"), fields.get("at")),
    )


def _parse_timer(after_seconds: object, at: object) -> TimerRequest | None:
    """`after_seconds` or `at`, not both: whether the due time is after the request and within the window is
    the scheduling's to check (rcs_revoker.domain.timers.check_due_time), against the request's time."""
    if after_seconds is None and at is None:
        return None
    if after_seconds is not None and at is not None:
        raise InvalidRequest("Give after_seconds or at, not both.")
    if after_seconds is not None:
        # bool is an int in Python, and 30.0 a float in JSON: neither is a whole number of seconds here.
        if type(after_seconds) is not int or not 1 <= after_seconds <= MAX_AFTER_SECONDS:
            number = type(after_seconds) in (int, float)
            got = shorten(after_seconds, 20).strip("'") if number else _json_type(after_seconds)
            raise InvalidRequest(
                f"after_seconds must be a whole number of seconds from 1 to {MAX_AFTER_SECONDS:,} (24 hours), "
                f"not {got}."
            )
        return TimerRequest(after_seconds=after_seconds)
    due = parse_timestamp(at)
    if due is None:
        raise InvalidRequest(
            f"at {shorten(at)} is not an RFC 3339 timestamp with an offset, such as 2026-11-26T09:30:00Z."
        )
    return TimerRequest(at=due)


def _parse_client_ref(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_REF_LENGTH:
        raise InvalidRequest(f"client_ref must be a string of 1 to {MAX_CLIENT_REF_LENGTH} characters.")
    return value


def _parse_metadata(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"metadata must be a JSON object, not {_json_type(value)}.")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", errors="surrogatepass"))
    if size > MAX_METADATA_BYTES:
        raise InvalidRequest(f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are kept.")
    return dict(value)


def parse_revocation_detail(detail: object) -> RevocationRequest:
    """Validates an event's detail: the API body plus `message_uuid`, under the same rules."""
    if not isinstance(detail, Mapping):
        raise InvalidRequest(f"The event detail must be a JSON object, not {_json_type(detail)}.")
    if "message_uuid" not in detail:
        raise InvalidRequest("The event detail has no message_uuid.")
    fields = {name: value for name, value in detail.items() if name != "message_uuid"}
    try:
        return parse_revocation_fields(detail["message_uuid"], fields)
    except InvalidRequest as error:
        # Whoever reads the Rejected outcome needs to know which message it was, even if malformed.
        if isinstance(detail["message_uuid"], str):
            error.message_uuid = detail["message_uuid"][:64]
        raise


def parse_batch(payload: object) -> tuple[list[Any], dict[str, Any]]:
    """A bulk request's items (still unvalidated, one by one with parse_batch_item) and its default selector."""
    if not isinstance(payload, Mapping):
        raise InvalidRequest("The request body must be a JSON object with a messages array.")
    unknown = sorted(str(name) for name in payload if name not in BATCH_FIELDS)
    if unknown:
        names = ", ".join(shorten(name, 40) for name in unknown[:5])
        raise InvalidRequest(f"Unknown field(s): {names}. Allowed fields: {', '.join(BATCH_FIELDS)}.")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_BATCH_ITEMS:
        raise InvalidRequest(f"messages must be an array of 1 to {MAX_BATCH_ITEMS} items.")
    default = {name: payload[name] for name in REGION_SELECTORS if payload.get(name) is not None}
    if len(default) > 1:
        raise InvalidRequest(f"Give at most one default of region, country or agent_id; got {' and '.join(default)}.")
    return messages, default


def parse_batch_item(item: object, default_selector: Mapping[str, Any]) -> tuple[RevocationRequest, dict[str, Any]]:
    """One item of a batch, with the batch's default selector when it names none: the request, and the
    fields to queue for it (as the worker will parse them again, under the rules of an event's detail)."""
    if not isinstance(item, Mapping):
        raise InvalidRequest("Each item must be a JSON object with a message_uuid.")
    fields = {name: value for name, value in item.items() if name != "message_uuid"}
    if not any(fields.get(name) is not None for name in REGION_SELECTORS):
        fields.update(default_selector)
    request = parse_revocation_fields(item.get("message_uuid"), fields)
    queued = {name: value for name, value in fields.items() if value is not None}
    return request, {"message_uuid": request.message_uuid, **queued}


def _region_selector(fields: Mapping[str, Any]) -> dict[str, Any]:
    if (region := fields.get("region")) is not None:
        parsed = parse_region(region) if isinstance(region, str) else None
        if parsed is None:
            raise InvalidRequest(f"Unknown region {shorten(region)}; expected one of {REGION_NAMES}.")
        return {"region": parsed}
    if (country := fields.get("country")) is not None:
        if not isinstance(country, str) or region_for_country(country) is None:
            raise InvalidRequest(
                f"Unknown country {shorten(country)}; expected an ISO 3166-1 alpha-2 code such as GB, US or SG."
            )
        return {"country": country.upper()}
    if (agent_id := fields.get("agent_id")) is not None:
        if not is_agent_id(agent_id):
            raise InvalidRequest(
                f"agent_id must be 1 to {MAX_AGENT_ID_LENGTH} printable ASCII characters without spaces."
            )
        return {"agent_id": agent_id}
    return {}


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 date-time with an offset, or None when `value` is not one. The one rule for every
    timestamp this service reads (a request's sent_at, a status callback's timestamp).

    A leap second (seconds 60) is valid where RFC 3339 puts it: 23:59:60 in UTC, which is 23:59:60Z or the
    same instant in another offset (RFC 3339's own example: 1990-12-31T15:59:60-08:00). datetime has no
    second 60, so it is read as the last microsecond of the second before, 23:59:59.999999 UTC: still on
    the day and in the minute it was written for, before the midnight that follows it (as the leap second
    is), and never equal to any real time of the next day. Its fraction, if any, is not kept. Which months
    end with a leap second is not checked: they are announced only months ahead.
    """
    if not isinstance(value, str) or (match := _RFC3339.fullmatch(value)) is None:
        return None
    leap_second = match["second"] == "60"
    if leap_second:  # fromisoformat takes no second 60
        value = value[: match.start("second")] + "59" + value[match.end("second") :]
    try:
        # fromisoformat takes at most 6 fraction digits; RFC 3339 allows more.
        parsed = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.upper()))
    except ValueError:
        return None
    if leap_second:
        if _minute_in_utc(match) != _LAST_MINUTE_OF_THE_DAY:
            return None
        parsed = parsed.replace(microsecond=999_999)
    return parsed


def _minute_in_utc(match: re.Match[str]) -> int:
    """The minute of the day, in UTC, of an RFC 3339 time (its offset in whole minutes, as RFC 3339 has it)."""
    minute = int(match["hour"]) * 60 + int(match["minute"])
    if match["sign"] is not None:
        offset = int(match["offset_hours"]) * 60 + int(match["offset_minutes"])
        minute -= offset if match["sign"] == "+" else -offset
    return minute % _MINUTES_A_DAY


def _parse_sent_at(value: object) -> datetime | None:
    if value is None:
        return None
    sent_at = parse_timestamp(value)
    if sent_at is None:
        raise InvalidRequest(
            f"sent_at {shorten(value)} is not an RFC 3339 timestamp with an offset, such as 2026-11-26T09:30:00Z."
        )
    return sent_at


def _json_type(value: object) -> str:
    match value:
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case None:
            return "null"
    return "a " + type(value).__name__
