"""The rules of deferred revocations: how a request names its due time, when it may be due, how it is armed."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from rcs_revoker.domain.errors import InvalidRequest, TimerPastWindow
from rcs_revoker.domain.models import TimerRequest
from rcs_revoker.domain.timers import (
    QUEUE_MAX_DELAY_S,
    SCHEDULE_LEAD,
    Timer,
    check_due_time,
    ended,
    is_pending,
    plan_wake_up,
)
from rcs_revoker.domain.validation import parse_revocation_fields

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (0, "not 0."),
        (-1, "not -1."),
        (86_401, "not 86401."),
        ("30", "not a string."),
        (30.5, "not 30.5."),
        (30.0, "not 30.0."),
        (True, "not a boolean."),
        ([30], "not an array."),
    ],
)
def test_after_seconds_must_be_a_whole_number_of_seconds_within_a_day(value: object, named: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_fields(UUID, {"region": "eu", "after_seconds": value})
    assert (
        caught.value.detail == f"after_seconds must be a whole number of seconds from 1 to 86,400 (24 hours), {named}"
    )
    assert caught.value.message_uuid == UUID


def test_after_seconds_and_at_together_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="Give after_seconds or at, not both"):
        parse_revocation_fields(UUID, {"after_seconds": 30, "at": "2026-11-26T12:00:30Z"})


@pytest.mark.parametrize("value", ["2026-11-26T12:00:30", "tomorrow", 1764158430, "2026-11-26"])
def test_at_must_be_an_rfc3339_time_with_an_offset(value: object) -> None:
    with pytest.raises(InvalidRequest, match="is not an RFC 3339 timestamp with an offset"):
        parse_revocation_fields(UUID, {"at": value})


def test_the_due_time_counts_from_the_request_or_is_the_time_given() -> None:
    after = parse_revocation_fields(UUID, {"after_seconds": 90}).timer
    at = parse_revocation_fields(UUID, {"at": "2026-11-26T13:30:00+01:00"}).timer
    assert after is not None
    assert after.due_at(NOW) == NOW + timedelta(seconds=90)
    assert at is not None
    assert at.due_at(NOW) == datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
    assert parse_revocation_fields(UUID, {}).timer is None


def test_the_timer_is_not_part_of_what_a_fired_revocation_asks() -> None:
    request = parse_revocation_fields(UUID, {"region": "us", "after_seconds": 30})
    assert request.as_fields() == {"message_uuid": UUID, "region": "us"}


def test_a_due_time_must_follow_the_request() -> None:
    with pytest.raises(InvalidRequest, match="is not after the time of the request"):
        check_due_time(NOW, NOW, None)
    with pytest.raises(InvalidRequest):
        check_due_time(NOW - timedelta(seconds=1), NOW, None)
    check_due_time(NOW + timedelta(milliseconds=1), NOW, None)


def test_a_due_time_past_the_window_names_the_last_possible_time() -> None:
    sent_at = NOW - timedelta(hours=23)
    with pytest.raises(TimerPastWindow) as caught:
        check_due_time(NOW + timedelta(hours=2), NOW, sent_at)
    assert caught.value.last_possible_at == sent_at + timedelta(hours=24)
    assert (sent_at + timedelta(hours=24)).isoformat() in caught.value.detail
    check_due_time(sent_at + timedelta(hours=24), NOW, sent_at)  # the last possible time itself is allowed


def test_without_a_sending_time_the_window_counts_from_the_request() -> None:
    with pytest.raises(TimerPastWindow) as caught:
        check_due_time(NOW + timedelta(hours=24, seconds=1), NOW, None)
    assert caught.value.last_possible_at == NOW + timedelta(hours=24)
    assert "24 hours after this request" in caught.value.detail


def test_a_timer_within_fifteen_minutes_is_one_delayed_message_rounded_up() -> None:
    assert plan_wake_up(NOW + timedelta(seconds=1.2), NOW).delay_s == 2  # never early
    assert plan_wake_up(NOW + timedelta(seconds=QUEUE_MAX_DELAY_S), NOW).delay_s == QUEUE_MAX_DELAY_S
    assert plan_wake_up(NOW - timedelta(seconds=3), NOW).delay_s == 0  # overdue: at once
    assert plan_wake_up(NOW + timedelta(seconds=30), NOW).kind == "queue"


def test_a_longer_timer_is_a_schedule_ahead_of_its_due_time_in_utc() -> None:
    due = datetime(2026, 11, 26, 20, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=2)))
    plan = plan_wake_up(due, NOW)
    assert plan.kind == "schedule"
    assert plan.schedule_at == datetime(2026, 11, 26, 17, 50, 0, tzinfo=UTC)
    assert plan.schedule_at == (due - SCHEDULE_LEAD).astimezone(UTC).replace(microsecond=0)


def test_a_lowered_queue_limit_leads_by_half_of_it() -> None:
    plan = plan_wake_up(NOW + timedelta(seconds=10), NOW, queue_max_delay_s=4)
    assert plan.schedule_at == NOW + timedelta(seconds=7)  # 10 s less two thirds of 4 s, floored to the second


def test_a_wake_up_names_its_timer_and_reads_back() -> None:
    timer = Timer.new(UUID, NOW)
    assert Timer.from_wake_up(timer.wake_up()) == timer
    assert Timer.from_wake_up(timer.wake_up(retries=2)) == timer
    assert timer.wake_up(retries=2)["retries"] == 2
    assert Timer.from_wake_up({"timer": {"message_uuid": UUID}}) is None
    assert Timer.from_wake_up(["not", "a", "wake-up"]) is None
    assert len(timer.schedule_name) <= 64
    assert timer.schedule_name.startswith(f"revoke-{UUID}-")


def test_a_timer_ends_once() -> None:
    kept = {"timer_id": "t1", "due_at": NOW.isoformat()}
    first = ended(kept, "delivered", NOW)
    assert first is not None
    assert first["ended"] == "delivered"
    assert not is_pending(first)
    assert ended(first, "fired", NOW) is None
    assert is_pending(kept)
    assert not is_pending(None)


def test_timer_request_fixes_its_due_time_for_a_queued_item() -> None:
    assert TimerRequest(after_seconds=60).as_fields(NOW) == {"at": (NOW + timedelta(seconds=60)).isoformat()}
