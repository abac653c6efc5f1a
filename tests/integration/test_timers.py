"""Deferred revocations ("revoke unless delivered first") through the API and the timer queue, as a sender
sees them: the answers and problems of POST /messages/{uuid}/revoke with after_seconds or at, DELETE of the
scheduled revocation, the ledger record, the PATCHes Vonage receives and the outcome events with their
fallback. The races and AWS faults are in test_timer_races.py; the Scheduler path, the reconciler's backstop
and the other entry points in test_timer_wake_ups.py."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import Stack, body_of
from tests.timer_kit import (
    ACCEPTED,
    CANCELLED,
    PROBLEM,
    REJECTED,
    SCHEDULED,
    callback,
    cancel,
    detail,
    drive,
    drive_past,
    new_uuid,
    outcomes,
    record,
    revoke,
    schedule,
    send_wake_up,
    timeline,
    wake_up_body,
)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- 1. every field error, answered now ----------------------------------------------------------------
def _in(**delta: float) -> str:
    return iso(datetime.now(UTC) + timedelta(**delta))


WHOLE_SECONDS = "after_seconds must be a whole number of seconds from 1 to 86,400 (24 hours)"
FIELD_ERRORS: dict[str, tuple[Any, int, str, str]] = {
    # name: (body fields, status, problem type, what the detail names)
    "after_seconds-0": ({"after_seconds": 0}, 400, "invalid-request", f"{WHOLE_SECONDS}, not 0."),
    "after_seconds-negative": ({"after_seconds": -1}, 400, "invalid-request", f"{WHOLE_SECONDS}, not -1."),
    "after_seconds-past-a-day": ({"after_seconds": 86401}, 400, "invalid-request", f"{WHOLE_SECONDS}, not 86401."),
    "after_seconds-a-string": ({"after_seconds": "30"}, 400, "invalid-request", f"{WHOLE_SECONDS}, not a string."),
    "after_seconds-a-fraction": ({"after_seconds": 30.5}, 400, "invalid-request", f"{WHOLE_SECONDS}, not 30.5."),
    "after_seconds-a-boolean": ({"after_seconds": True}, 400, "invalid-request", f"{WHOLE_SECONDS}, not a boolean."),
    "both": ({"after_seconds": 30, "at": "later"}, 400, "invalid-request", "after_seconds or at, not both"),
    "at-malformed": ({"at": "tomorrow at nine"}, 400, "invalid-request", "is not an RFC 3339 timestamp"),
    "at-without-offset": ({"at": "2026-12-02T09:30:00"}, 400, "invalid-request", "with an offset"),
    "at-not-a-string": ({"at": 1764667800}, 400, "invalid-request", "is not an RFC 3339 timestamp"),
}


@pytest.mark.parametrize("case", sorted(FIELD_ERRORS))
def test_a_malformed_timer_is_a_400_problem_naming_the_field(stack: Stack, case: str) -> None:
    fields, status, kind, named = FIELD_ERRORS[case]
    message = new_uuid()

    answer = revoke(stack, message, {"region": "eu", **fields})

    assert answer["statusCode"] == status
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + kind
    assert named in problem["detail"]
    assert problem["message_uuid"] == message
    assert stack.queue_depth(stack.timers.queue_url) == 0
    assert stack.vonage.patches_for(message) == 0
    assert SCHEDULED not in outcomes(stack.outcome_events())


def test_at_in_the_past_is_refused_and_says_how_to_revoke_now(stack: Stack) -> None:
    message = new_uuid()

    answer = revoke(stack, message, {"region": "eu", "at": _in(seconds=-5)})

    assert answer["statusCode"] == 400
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + "invalid-request"
    assert "is not after the time of the request" in problem["detail"]
    assert "leave at and after_seconds out" in problem["detail"]
    assert stack.queue_depth(stack.timers.queue_url) == 0


def test_a_due_time_past_the_window_from_sent_at_is_422_with_the_last_possible_time(stack: Stack) -> None:
    message = new_uuid()
    sent_at = (datetime.now(UTC) - timedelta(hours=23)).replace(microsecond=0)

    answer = revoke(stack, message, {"region": "eu", "sent_at": iso(sent_at), "after_seconds": 7200})

    assert answer["statusCode"] == 422
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + "due-past-window"
    assert datetime.fromisoformat(problem["last_possible_at"]) == sent_at + timedelta(hours=24)
    assert "24 hours after the message was sent" in problem["detail"]
    # Within the window it is taken: an hour after a message sent 23 hours ago.
    ok = schedule(stack, message, sent_at=iso(sent_at), after_seconds=3000)
    assert datetime.fromisoformat(ok["due_at"]) < sent_at + timedelta(hours=24)


def test_the_window_is_counted_from_the_submitted_callback_when_the_request_has_no_sent_at(stack: Stack) -> None:
    message = new_uuid()
    submitted = (datetime.now(UTC) - timedelta(hours=23)).replace(microsecond=0)
    callback(stack, message, "submitted", timestamp=submitted.timestamp())

    answer = revoke(stack, message, {"region": "eu", "after_seconds": 7200})

    assert answer["statusCode"] == 422
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + "due-past-window"
    assert datetime.fromisoformat(problem["last_possible_at"]) == submitted + timedelta(hours=24)
    assert record(stack, message)["timer"] is None
    assert stack.queue_depth(stack.timers.queue_url) == 0


def test_a_due_time_more_than_a_day_from_now_without_sent_at_is_422(stack: Stack) -> None:
    message = new_uuid()
    before = datetime.now(UTC)

    answer = revoke(stack, message, {"region": "eu", "at": _in(hours=24, minutes=1)})

    assert answer["statusCode"] == 422
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + "due-past-window"
    last = datetime.fromisoformat(problem["last_possible_at"])
    assert before + timedelta(hours=24) <= last <= datetime.now(UTC) + timedelta(hours=24)
    assert "24 hours after this request" in problem["detail"]
    assert stack.queue_depth(stack.timers.queue_url) == 0
    # Refused as an immediate revocation's fault is: recorded, with its Rejected outcome; nothing scheduled.
    refused = record(stack, message)
    assert (refused["state"], refused["timer"]) == ("rejected", None)
    events = stack.outcome_events()
    assert outcomes(events) == [REJECTED]
    assert detail(events, REJECTED)["reason"] == "due-past-window"


# --- 2. fired exactly once -------------------------------------------------------------------------------
def test_a_timer_fires_once_on_time_however_often_its_wake_up_comes(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1, client_ref="order-7")
    assert (answer["replayed"], answer["region"], answer["fallback"]) == (False, "eu", None)
    assert record(stack, message)["state"] == "scheduled"
    # The queue delivers at least once: the same wake-up twice more, in the same batch as the one armed.
    body = wake_up_body(answer)
    send_wake_up(stack, body, delay_s=1)
    send_wake_up(stack, body, delay_s=1)
    timers = stack.timer_queue()

    drive(timers, lambda: stack.queue_depth(stack.timers.queue_url) == 0, timeout_s=10)

    assert stack.vonage.patches_for(message) == 1
    fired = record(stack, message)
    assert fired["state"] == "requested"
    assert fired["timer"]["ended"] == "fired"
    assert 0 <= fired["timer"]["late_ms"] < 2000
    assert timeline(stack, message).count("timer-fired") == 1
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, ACCEPTED]
    accepted = detail(events, ACCEPTED)
    assert (accepted["entry_point"], accepted["client_ref"], accepted["fallback"]) == ("timer", "order-7", None)
    # Once more, after it fired: nothing but a note that it came.
    send_wake_up(stack, body)
    timers.drain()
    assert stack.vonage.patches_for(message) == 1
    assert timeline(stack, message)[-1] == "timer-woke"
    assert outcomes(stack.outcome_events()) == []


def test_a_timer_is_not_fired_before_its_due_time(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=2)
    send_wake_up(stack, wake_up_body(answer))  # a wake-up that came early, before its time

    timers = stack.timer_queue()
    timers.drain()
    assert stack.vonage.patches_for(message) == 0
    assert record(stack, message)["state"] == "scheduled"

    drive(timers, lambda: stack.vonage.patches_for(message) > 0, timeout_s=8)
    fired_at = datetime.now(UTC)
    assert fired_at >= datetime.fromisoformat(answer["due_at"])
    drive_past(timers, answer["due_at"], margin_s=0.5)
    assert stack.vonage.patches_for(message) == 1


# --- 3. ended before its due time ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "state", "reason", "fallback"),
    [
        ("delivered", "delivered", "delivered", False),
        ("read", "delivered", "delivered", False),
        ("rejected", "undelivered", "undelivered", True),
        ("undeliverable", "undelivered", "undelivered", True),
    ],
)
def test_a_callback_before_the_due_time_ends_the_timer_without_asking_vonage(
    stack: Stack, status: str, state: str, reason: str, fallback: bool
) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1, client_ref="order-8")
    callback(stack, message, "submitted")

    callback(stack, message, status)

    ended = record(stack, message)
    assert (ended["state"], ended["fallback"], ended["timer"]["ended"]) == (state, fallback, reason)
    timers = stack.timer_queue()
    drive_past(timers, answer["due_at"])
    assert stack.vonage.patches_for(message) == 0
    assert record(stack, message)["state"] == state
    assert timeline(stack, message)[-1] == "timer-woke"  # the wake-up came, and did nothing
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, CANCELLED]
    cancelled = detail(events, CANCELLED)
    assert (cancelled["reason"], cancelled["fallback"], cancelled["state"]) == (reason, fallback, state)
    assert (cancelled["timer_id"], cancelled["due_at"]) == (answer["timer_id"], answer["due_at"])
    assert cancelled["client_ref"] == "order-8"


def test_a_cancelled_timer_answers_its_record_and_its_wake_up_does_nothing(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)

    cancelled = cancel(stack, message)

    assert cancelled["statusCode"] == 200
    body = body_of(cancelled)
    assert (body["message_uuid"], body["state"], body["timer"]["ended"]) == (message, "cancelled", "cancelled")
    assert record(stack, message)["state"] == "cancelled"
    drive_past(stack.timer_queue(), answer["due_at"])
    assert stack.vonage.patches_for(message) == 0
    assert timeline(stack, message)[-2:] == ["timer-cancelled", "timer-woke"]
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, CANCELLED]
    cancelled = detail(events, CANCELLED)
    assert (cancelled["reason"], cancelled["entry_point"], cancelled["state"]) == ("cancelled", "api", "cancelled")
    assert cancelled["fallback"] is None  # the sender cancelled: whether the message reaches the phone is open
    assert (cancelled["timer_id"], cancelled["due_at"]) == (answer["timer_id"], answer["due_at"])


# --- 4. DELETE when there is nothing to cancel ------------------------------------------------------------
def test_delete_after_the_timer_fired_is_409(stack: Stack) -> None:
    message = new_uuid()
    schedule(stack, message, after_seconds=1)
    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(message) == 1, timeout_s=8)

    answer = cancel(stack, message)

    assert answer["statusCode"] == 409
    problem = body_of(answer)
    assert problem["type"] == PROBLEM + "timer-already-fired"
    assert "GET /revocations/" in problem["detail"]
    assert record(stack, message)["state"] == "requested"
    assert CANCELLED not in outcomes(stack.outcome_events())


def test_delete_without_a_scheduled_revocation_is_404_and_a_second_delete_too(stack: Stack) -> None:
    never = new_uuid()
    answer = cancel(stack, never)
    assert answer["statusCode"] == 404
    assert body_of(answer)["type"] == PROBLEM + "no-scheduled-revocation"

    message = new_uuid()
    schedule(stack, message, after_seconds=60)
    assert cancel(stack, message)["statusCode"] == 200
    again = cancel(stack, message)
    assert again["statusCode"] == 404
    problem = body_of(again)
    assert problem["type"] == PROBLEM + "no-scheduled-revocation"
    assert "ended (cancelled)" in problem["detail"]
    assert outcomes(stack.outcome_events()) == [SCHEDULED, CANCELLED]  # one Cancelled, not two


def test_delete_of_an_immediate_revocation_is_404(stack: Stack) -> None:
    message = new_uuid()
    assert revoke(stack, message, {"region": "eu"})["statusCode"] == 202

    answer = cancel(stack, message)

    assert answer["statusCode"] == 404
    assert body_of(answer)["type"] == PROBLEM + "no-scheduled-revocation"


def test_delete_with_a_malformed_uuid_is_400(stack: Stack) -> None:
    answer = cancel(stack, "not-a-uuid")
    assert answer["statusCode"] == 400
    assert body_of(answer)["type"] == PROBLEM + "invalid-request"


# --- 5. asked again --------------------------------------------------------------------------------------
def test_a_later_request_replaces_the_due_time_and_only_the_new_timer_fires(stack: Stack) -> None:
    message = new_uuid()
    first = schedule(stack, message, after_seconds=1)

    second = schedule(stack, message, after_seconds=3)

    assert second["replaced_due_at"] == first["due_at"]
    assert second["timer_id"] != first["timer_id"]
    assert second["replayed"] is False
    timers = stack.timer_queue()
    drive_past(timers, first["due_at"], margin_s=0.5)  # the first wake-up has come: nothing
    assert stack.vonage.patches_for(message) == 0
    assert record(stack, message)["state"] == "scheduled"

    drive(timers, lambda: stack.vonage.patches_for(message) > 0, timeout_s=8)
    assert datetime.now(UTC) >= datetime.fromisoformat(second["due_at"])
    assert record(stack, message)["timer"]["timer_id"] == second["timer_id"]
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, SCHEDULED, ACCEPTED]
    scheduled = [e["detail"] for e in events if e["detail-type"] == SCHEDULED]
    assert [s["replaced_due_at"] for s in scheduled] == [None, first["due_at"]]
    assert [s["due_at"] for s in scheduled] == [first["due_at"], second["due_at"]]


def test_the_same_at_twice_is_replayed_with_one_scheduled_event(stack: Stack) -> None:
    message = new_uuid()
    at = _in(seconds=30)
    first = schedule(stack, message, at=at)

    again = schedule(stack, message, at=at)

    assert again["replayed"] is True
    assert (again["timer_id"], again["due_at"]) == (first["timer_id"], first["due_at"])
    assert datetime.fromisoformat(again["due_at"]) == datetime.fromisoformat(at)
    # The same instant in another offset is the same due time.
    elsewhere = datetime.fromisoformat(at).astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    assert schedule(stack, message, at=elsewhere)["replayed"] is True
    assert stack.queue_depth(stack.timers.queue_url) == 1  # one wake-up armed, not three
    assert outcomes(stack.outcome_events()) == [SCHEDULED]


def test_a_deferred_request_while_a_revocation_is_under_way_is_409(stack: Stack) -> None:
    message = new_uuid()
    assert revoke(stack, message, {"region": "eu"})["statusCode"] == 202  # accepted: `requested`

    answer = revoke(stack, message, {"region": "eu", "after_seconds": 30})

    assert answer["statusCode"] == 409
    assert body_of(answer)["type"] == PROBLEM + "revocation-under-way"
    assert stack.queue_depth(stack.timers.queue_url) == 0


# --- 6. revoked now instead ------------------------------------------------------------------------------
def test_an_immediate_revocation_of_a_scheduled_message_revokes_now_and_ends_the_timer(stack: Stack) -> None:
    message = new_uuid()
    scheduled = schedule(stack, message, after_seconds=2)

    now = revoke(stack, message, {"region": "eu"})

    assert now["statusCode"] == 202
    assert body_of(now)["status"] == "revocation_requested"
    assert stack.vonage.patches_for(message) == 1
    assert record(stack, message)["timer"]["ended"] == "revoked-now"
    drive_past(stack.timer_queue(), scheduled["due_at"])
    assert stack.vonage.patches_for(message) == 1
    assert timeline(stack, message)[-1] == "timer-woke"
    assert cancel(stack, message)["statusCode"] == 409  # it did not wait: Vonage has been asked
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]
