"""parse_status_callback: what this service reads of a Vonage status callback, and the ranks of statuses."""

from datetime import UTC, datetime
from typing import Any

import pytest

from rcs_revoker.domain.errors import InvalidStatusCallback
from rcs_revoker.domain.status_callbacks import STATUS_RANK, parse_status_callback

UUID = "0D3C1F4E-5A6B-4C7D-8E9F-A0B1C2D3E4F5"


def callback(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_uuid": UUID,
        "to": "447700900000",
        "from": "acme-rcs-agent",
        "timestamp": "2026-12-01T23:00:00.123Z",
        "status": "delivered",
        "channel": "rcs",
    }
    body.update(fields)
    return {name: value for name, value in body.items() if value is not None}


def test_an_rcs_callback_names_the_message_its_status_time_and_agent() -> None:
    parsed = parse_status_callback(callback(client_ref="order-42"))
    assert parsed.message_uuid == UUID.lower()
    assert parsed.status == "delivered"
    assert parsed.timestamp == datetime(2026, 12, 1, 23, 0, 0, 123000, tzinfo=UTC)
    assert (parsed.channel, parsed.agent_id, parsed.client_ref) == ("rcs", "acme-rcs-agent", "order-42")
    assert parsed.delivered
    assert not parsed.not_delivered


def test_the_sender_of_another_channel_is_not_taken_for_an_rcs_agent() -> None:
    assert parse_status_callback(callback(channel="sms", **{"from": "447700900001"})).agent_id is None


def test_a_rejection_keeps_vonage_s_error_and_nothing_else_of_it() -> None:
    error = {"type": "https://developer.vonage.com/api-errors/messages#1340", "title": "Revoked", "instance": "x"}
    parsed = parse_status_callback(callback(status="rejected", error=error))
    assert parsed.not_delivered
    assert dict(parsed.error or {}) == {"type": error["type"], "title": "Revoked"}


def test_ranks_only_move_forward_to_delivery() -> None:
    assert STATUS_RANK["submitted"] < STATUS_RANK["rejected"] == STATUS_RANK["undeliverable"]
    assert STATUS_RANK["undeliverable"] < STATUS_RANK["delivered"] < STATUS_RANK["read"]


def test_a_status_this_service_does_not_use_is_read_with_no_rank() -> None:
    assert parse_status_callback(callback(status="accepted")).rank == 0


def test_a_repeat_is_the_same_callback_and_another_status_is_not() -> None:
    first, again = parse_status_callback(callback()), parse_status_callback(callback())
    assert first.callback_id == again.callback_id
    assert first.callback_id != parse_status_callback(callback(status="read")).callback_id


def test_long_strings_are_cut() -> None:
    assert len(parse_status_callback(callback(client_ref="x" * 10_000)).client_ref or "") == 256


def test_a_leap_second_in_a_callback_is_read_by_the_same_rule_as_sent_at() -> None:
    parsed = parse_status_callback(callback(timestamp="2026-12-31T23:59:60.250Z"))
    assert parsed.timestamp == datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param([], "not a JSON object", id="array"),
        pytest.param(callback(message_uuid="nope"), "not a canonical UUID", id="bad-uuid"),
        pytest.param(callback(message_uuid=None), "not a canonical UUID", id="no-uuid"),
        pytest.param(callback(status=None), "not a status name", id="no-status"),
        pytest.param(callback(status=7), "not a status name", id="status-not-text"),
        pytest.param(callback(timestamp="yesterday"), "not an RFC 3339 time", id="bad-time"),
        pytest.param(callback(timestamp="2026-12-31T12:00:60Z"), "not an RFC 3339 time", id="leap-second-at-noon"),
        pytest.param(callback(timestamp=None), "not an RFC 3339 time", id="no-time"),
    ],
)
def test_an_unreadable_callback_says_what_is_wrong(body: object, fragment: str) -> None:
    with pytest.raises(InvalidStatusCallback, match=fragment):
        parse_status_callback(body)
