"""Deferred revocations when things happen at once or go wrong: a `delivered` callback or a DELETE racing the
timer as it fires, and AWS or Vonage failing while it fires. (The API's answers and the timer's ordinary life
are in test_timers.py; the Scheduler path, the reconciler's backstop and the other entry points in
test_timer_wake_ups.py.)"""

import time
from typing import Any

from offline.vonage_simulator import Outcome
from tests.conftest import Stack, body_of
from tests.timer_kit import (
    ACCEPTED,
    CANCELLED,
    SCHEDULED,
    TOO_LATE,
    InThread,
    callback,
    cancel,
    detail,
    drive,
    drive_past,
    new_uuid,
    outcomes,
    record,
    schedule,
    seconds_until,
    timeline,
)

UPDATE = "DynamoDB_20120810.UpdateItem"


def until_due(answer: dict[str, Any], margin_s: float = 0.05) -> None:
    time.sleep(max(0.0, seconds_until(answer["due_at"]) + margin_s))


def accepted_patches(stack: Stack, message: str) -> int:
    """The PATCHes Vonage accepted (202) for this message."""
    return sum(
        1 for r in stack.vonage.requests if r.method == "PATCH" and r.message_uuid == message and r.status == 202
    )


# --- 7. a delivered callback racing the timer ----------------------------------------------------------
def test_a_callback_that_lands_while_the_timer_fires_wins_and_vonage_is_never_asked(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    callback(stack, message, "submitted")
    stack.aws.hold(UPDATE, matching=(message, "timer-fired"), times=1)  # the write-ahead firing it, held
    until_due(answer)
    timers = stack.timer_queue()
    firing = InThread(lambda: drive(timers, lambda: bool(stack.aws.held_calls), timeout_s=5, release_failures=False))
    stack.aws.wait_until_held_naming(message)

    callback(stack, message, "delivered")  # lands first
    stack.aws.release()
    firing.join()
    timers.drain(release_failures=True)

    assert stack.vonage.patches_for(message) == 0
    ended = record(stack, message)
    assert (ended["state"], ended["fallback"], ended["timer"]["ended"]) == ("delivered", False, "delivered")
    assert "timer-fired" not in timeline(stack, message)
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, CANCELLED]
    assert (detail(events, CANCELLED)["reason"], detail(events, CANCELLED)["fallback"]) == ("delivered", False)


def test_a_callback_that_lands_after_the_timer_fired_is_too_late_and_not_a_cancellation(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    callback(stack, message, "submitted")
    stack.aws.hold(UPDATE, matching=(message, "delivered@"), times=1)  # the callback's write, held
    until_due(answer)
    delivering = InThread(lambda: callback(stack, message, "delivered"))
    stack.aws.wait_until_held_naming(message)

    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(message) == 1, timeout_s=1.5)  # fires first
    stack.aws.release()
    delivering.join()

    assert stack.vonage.patches_for(message) == 1
    ended = record(stack, message)
    assert (ended["state"], ended["fallback"], ended["timer"]["ended"]) == ("delivered", False, "fired")
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, ACCEPTED, TOO_LATE]
    assert detail(events, TOO_LATE)["fallback"] is False


def test_timers_and_callbacks_at_the_same_moment_end_one_way_or_the_other_never_both(stack: Stack) -> None:
    messages = [new_uuid() for _ in range(6)]
    answers = [schedule(stack, m, after_seconds=1) for m in messages]
    for m in messages:
        callback(stack, m, "submitted")
    until_due(max(answers, key=lambda a: a["due_at"]))
    timers = stack.timer_queue()

    firing = InThread(lambda: drive(timers, lambda: stack.queue_depth(stack.timers.queue_url) == 0, timeout_s=10))
    for m in messages:
        callback(stack, m, "delivered")
    firing.join()
    timers.drain(release_failures=True)

    events = stack.outcome_events()
    for m in messages:
        mine = outcomes([e for e in events if e["detail"]["message_uuid"] == m])
        patches = stack.vonage.patches_for(m)
        assert record(stack, m)["state"] == "delivered"
        if mine == [SCHEDULED, CANCELLED]:  # delivered before the timer fired
            assert patches == 0
        elif mine == [SCHEDULED, ACCEPTED, TOO_LATE]:  # fired, Vonage accepted, then delivered
            assert patches == 1
        else:
            # Fired, then delivered before Vonage's 202 was recorded: Too Late alone, as for an immediate
            # revocation of a message delivered meanwhile (Vonage asked at most once).
            assert mine == [SCHEDULED, TOO_LATE], (m, mine)
            assert patches <= 1
        assert all(
            e["detail"]["fallback"] is False
            for e in events
            if e["detail"]["message_uuid"] == m and e["detail-type"] in (CANCELLED, TOO_LATE)
        )


def test_a_delete_that_lands_while_the_timer_fires_cancels_it_and_the_wake_up_does_nothing(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    stack.aws.hold(UPDATE, matching=(message, "timer-fired"), times=1)
    until_due(answer)
    timers = stack.timer_queue()
    firing = InThread(lambda: drive(timers, lambda: bool(stack.aws.held_calls), timeout_s=5, release_failures=False))
    stack.aws.wait_until_held_naming(message)

    cancelled = cancel(stack, message)
    stack.aws.release()
    firing.join()
    timers.drain(release_failures=True)

    assert cancelled["statusCode"] == 200
    assert stack.vonage.patches_for(message) == 0
    assert record(stack, message)["state"] == "cancelled"
    assert outcomes(stack.outcome_events()) == [SCHEDULED, CANCELLED]


def test_a_delete_that_lands_after_the_timer_fired_is_409_and_the_revocation_goes_on(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    stack.aws.hold(UPDATE, matching=(message, "timer-cancelled"), times=1)  # the DELETE's versioned write
    until_due(answer)
    deleting = InThread(lambda: cancel(stack, message))
    stack.aws.wait_until_held_naming(message)

    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(message) == 1, timeout_s=1.5)
    stack.aws.release()
    refused = deleting.join()

    assert refused["statusCode"] == 409
    assert body_of(refused)["type"] == "urn:rcs-revoker:problem:timer-already-fired"
    assert record(stack, message)["state"] == "requested"
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


# --- 8. AWS failing while a timer fires -----------------------------------------------------------------
def test_the_ledger_failing_as_the_timer_fires_delays_it_and_it_fires_once(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    # One whole call fails: its three attempts (aws_clients.MAX_ATTEMPTS).
    # The write-ahead that fires the timer fails, all three attempts of it (aws_clients.MAX_ATTEMPTS).
    stack.aws.fail(UPDATE, matching=(message, "timer-fired"), status=500, code="InternalServerError", times=3)
    until_due(answer)
    timers = stack.timer_queue()

    drive(timers, lambda: len(stack.aws.failed_calls) == 3, timeout_s=5)

    # Vonage was not asked; the timer fired (recorded with the refusal) and its revocation is woken again in
    # seconds (fire_timer.RETRY_DELAY_S), not after the queue's visibility timeout.
    assert stack.aws.failed_calls == [UPDATE] * 3
    assert stack.vonage.patches_for(message) == 0
    fired = record(stack, message)
    assert (fired["state"], fired["timer"]["ended"]) == ("retrying", "fired")
    drive(timers, lambda: stack.vonage.patches_for(message) == 1, timeout_s=8)
    drive_past(timers, answer["due_at"], margin_s=0)
    assert stack.vonage.patches_for(message) == 1
    assert record(stack, message)["state"] == "requested"
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


def test_secrets_manager_down_as_the_timer_fires_is_retried_and_revokes_once(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    stack.aws.fail("secretsmanager.GetSecretValue")
    until_due(answer)
    timers = stack.timer_queue()

    drive(timers, lambda: record(stack, message)["state"] == "retrying", timeout_s=10)
    assert stack.vonage.patches_for(message) == 0
    stack.aws.clear()
    drive(timers, lambda: stack.vonage.patches_for(message) == 1, timeout_s=10)  # the timer's own retry

    assert record(stack, message)["state"] == "requested"
    assert record(stack, message)["timer"]["ended"] == "fired"
    assert stack.queue_depth(stack.timers.queue_url) == 0
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


def test_vonage_failing_as_the_timer_fires_is_retried_until_one_patch_is_accepted(stack: Stack) -> None:
    message = new_uuid()
    stack.vonage.program(message, *[Outcome.server_error(503)] * 3)
    answer = schedule(stack, message, after_seconds=1)
    until_due(answer)
    timers = stack.timer_queue()

    drive(timers, lambda: accepted_patches(stack, message) == 1, timeout_s=15)
    drive_past(timers, answer["due_at"], margin_s=0)

    assert accepted_patches(stack, message) == 1
    assert record(stack, message)["state"] == "requested"
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, ACCEPTED]
