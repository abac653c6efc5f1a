"""Deferred revocations when things happen at once or go wrong: a `delivered` callback racing the timer, AWS
failing while a timer fires, timers past the queue's delay woken by EventBridge Scheduler, a lost wake-up
fired by the reconciler, and the timers asked through EventBridge and the bulk route. (The API's answers and
the timer's ordinary life are in test_timers.py.)"""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from offline.lambda_context import LocalLambdaContext
from offline.schedule import scheduled_event
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.adapters.timer_wake_ups import SqsSchedulerWakeUps
from rcs_revoker.domain.ledger import LedgerWrite
from rcs_revoker.usecases.reconcile import ReconcileLedger
from tests.conftest import LEDGER_TABLE, Stack, body_of, bulk_event, eventbridge_event, status_event
from tests.timer_kit import (
    ACCEPTED,
    CANCELLED,
    REJECTED,
    SCHEDULED,
    TOO_LATE,
    InThread,
    callback,
    cancel,
    detail,
    drive,
    drive_past,
    outcomes,
    record,
    schedule,
    seconds_until,
    timeline,
)

UPDATE = "DynamoDB_20120810.UpdateItem"


def new_uuid() -> str:
    return str(uuid.uuid4())


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
    stack.aws.hold(UPDATE, matching=(message, "timer-fired"), times=1)  # the timer's versioned write, held
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
    # One whole call fails: botocore's retries={"max_attempts": 3} is three retries, four attempts.
    stack.aws.fail(UPDATE, matching=(message, "timer-fired"), status=500, code="InternalServerError", times=4)
    until_due(answer)
    timers = stack.timer_queue()

    first = timers.poll_once(release_failures=True)

    assert (first.received, first.failed) == (1, 1)  # back to the queue, for Lambda's next receive
    assert stack.aws.failed_calls == [UPDATE] * 4
    assert record(stack, message)["state"] == "scheduled"
    drive(timers, lambda: stack.vonage.patches_for(message) == 1, timeout_s=5)
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


# --- 9. past the queue's delay: EventBridge Scheduler ---------------------------------------------------
def test_a_timer_past_the_queue_delay_is_a_schedule_that_wakes_it_on_time(stack: Stack) -> None:
    stack.set_env("TIMER_QUEUE_MAX_DELAY_S", "4")
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=5)
    runner = stack.schedules()

    [held] = runner.pending()

    due = datetime.fromisoformat(answer["due_at"])
    assert held["Name"] == f"revoke-{message}-{answer['timer_id']}"
    assert held["ScheduleExpression"] == f"at({(due - timedelta(seconds=2)).astimezone(UTC):%Y-%m-%dT%H:%M:%S})"
    assert held["ScheduleExpressionTimezone"] == "UTC"
    assert held["ActionAfterCompletion"] == "DELETE"
    assert held["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = held["Target"]
    assert target["Arn"] == stack.timers.queue_arn
    assert target["RoleArn"] == stack.timers.scheduler_role_arn
    assert target["DeadLetterConfig"] == {"Arn": stack.timers.dead_letter_queue_arn}
    assert json.loads(target["Input"])["timer"]["timer_id"] == answer["timer_id"]
    assert record(stack, message)["timer"]["wake_up"] == "schedule"
    assert stack.queue_depth(stack.timers.queue_url) == 0  # nothing on the queue while it waits

    timers = stack.timer_queue()

    def fired() -> bool:
        runner.run_once()
        return stack.vonage.patches_for(message) > 0

    drive(timers, fired, timeout_s=10)

    assert runner.fired == [held["Name"]]
    assert runner.pending() == []  # deleted after completion
    assert datetime.now(UTC) >= due
    assert 0 <= record(stack, message)["timer"]["late_ms"] < 1500
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


@pytest.mark.parametrize("how", ["deleted", "delivered", "replaced"])
def test_a_schedule_is_deleted_when_its_timer_ends_before_it_fires(stack: Stack, how: str) -> None:
    stack.set_env("TIMER_QUEUE_MAX_DELAY_S", "4")
    message = new_uuid()
    first = schedule(stack, message, after_seconds=60)
    runner = stack.schedules()
    assert len(runner.pending()) == 1

    if how == "deleted":
        assert cancel(stack, message)["statusCode"] == 200
    elif how == "delivered":
        callback(stack, message, "delivered")
    else:
        second = schedule(stack, message, after_seconds=120)

    names = [s["Name"] for s in runner.pending()]
    assert names == ([f"revoke-{message}-{second['timer_id']}"] if how == "replaced" else [])
    assert f"revoke-{message}-{first['timer_id']}" not in names


# --- 10. the reconciler's backstop ----------------------------------------------------------------------
def reconcile(stack: Stack) -> dict[str, int]:
    handler = stack.handler("functions.reconciler.handler")
    report: dict[str, int] = handler.lambda_handler(
        scheduled_event("arn:aws:events:eu-west-1:123456789012:rule/reconciler"), LocalLambdaContext(timeout_s=60)
    )
    return report


def test_a_timer_whose_wake_up_was_lost_is_fired_by_the_reconciler(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=1)
    item = boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).get_item(
        TableName=LEDGER_TABLE, Key={"message_uuid": {"S": message}}
    )["Item"]
    backstop = datetime.fromisoformat(answer["due_at"]) + timedelta(minutes=2)
    assert abs(int(item["redrive_at"]["N"]) - backstop.timestamp()) <= 1  # fired by the reconciler if lost
    boto3.client("sqs", endpoint_url=stack.moto.endpoint_url).purge_queue(QueueUrl=stack.timers.queue_url)
    until_due(answer)
    timers = stack.timer_queue()
    timers.drain()
    assert (stack.vonage.patches_for(message), record(stack, message)["state"]) == (0, "scheduled")
    assert reconcile(stack)["due"] == 0  # not before its backstop time
    ledger = DynamoDbLedger(LEDGER_TABLE)
    kept = ledger.get(message)
    assert kept is not None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert ledger.save(LedgerWrite(message, kept.version, {"redrive_at": past}))  # two minutes on

    assert reconcile(stack) == {"due": 1, "redriven": 1, "abandoned": 0, "skipped": 0}
    drive(timers, lambda: stack.vonage.patches_for(message) == 1, timeout_s=5)

    fired = record(stack, message)
    assert (fired["state"], fired["timer"]["ended"], fired["timer"]["timer_id"]) == (
        "requested",
        "fired",
        answer["timer_id"],
    )
    assert "redriven" in timeline(stack, message)
    assert reconcile(stack)["due"] == 0
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


def test_a_timer_whose_wake_up_could_not_be_armed_is_still_answered_202_and_fired_late(stack: Stack) -> None:
    message = new_uuid()
    stack.aws.fail("AmazonSQS.SendMessage", matching=message, status=403, code="AccessDenied")

    answer = schedule(stack, message, after_seconds=1)  # the ledger took it: late, never lost

    assert stack.aws.failed_calls == ["AmazonSQS.SendMessage"]
    assert stack.queue_depth(stack.timers.queue_url) == 0
    stack.aws.clear()
    ledger = DynamoDbLedger(LEDGER_TABLE)
    kept = ledger.get(message)
    assert kept is not None
    assert kept.state == "scheduled"
    until_due(answer)
    assert ledger.save(LedgerWrite(message, kept.version, {"redrive_at": datetime.now(UTC) - timedelta(seconds=1)}))
    assert reconcile(stack)["redriven"] == 1
    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(message) == 1, timeout_s=5)
    assert outcomes(stack.outcome_events()) == [SCHEDULED, ACCEPTED]


def test_the_reconciler_does_not_fire_a_timer_that_was_delivered_meanwhile(stack: Stack) -> None:
    message = new_uuid()
    schedule(stack, message, after_seconds=1)
    boto3.client("sqs", endpoint_url=stack.moto.endpoint_url).purge_queue(QueueUrl=stack.timers.queue_url)
    callback(stack, message, "delivered")

    assert reconcile(stack)["redriven"] == 0
    stack.timer_queue().drain()
    assert stack.vonage.patches_for(message) == 0
    assert record(stack, message)["state"] == "delivered"


def test_a_long_timer_outlives_the_reconciler_runs_before_it_is_due_whatever_callbacks_come(stack: Stack) -> None:
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=3 * 3600)  # a schedule: three hours
    callback(stack, message, "submitted")  # Vonage's first callback, seconds after the message was sent
    due = datetime.fromisoformat(answer["due_at"])
    item = boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).get_item(
        TableName=LEDGER_TABLE, Key={"message_uuid": {"S": message}}
    )["Item"]
    assert abs(int(item["redrive_at"]["N"]) - (due + timedelta(minutes=2)).timestamp()) <= 1
    # The reconciler's every-minute runs until the due time, on a clock run forward (every 15 minutes here).
    started = datetime.now(UTC)
    clock = [started]
    config = stack.handler("functions.reconciler.handler").service().settings
    wake_ups = SqsSchedulerWakeUps(
        queue_url=stack.timers.queue_url,
        queue_arn=stack.timers.queue_arn,
        schedule_group=stack.timers.schedule_group,
        scheduler_role_arn=stack.timers.scheduler_role_arn,
        dead_letter_queue_arn=stack.timers.dead_letter_queue_arn,
    )
    reconciler = ReconcileLedger(
        ledger=DynamoDbLedger(LEDGER_TABLE),
        queue=SqsRevocationQueue(config.revocation_queue_url or ""),
        wake_ups=wake_ups,
        clock=lambda: clock[0],
    )
    while clock[0] < due:
        assert reconciler().redriven == 0, f"re-driven {clock[0] - started} after it was scheduled"
        clock[0] += timedelta(minutes=15)

    kept = record(stack, message)
    assert (kept["state"], kept["timer"]["timer_id"]) == ("scheduled", answer["timer_id"])
    assert "redriven" not in timeline(stack, message)
    clock[0] = due + timedelta(minutes=2, seconds=1)
    assert reconciler().redriven == 1  # its wake-up never came: the backstop
    assert REJECTED not in outcomes(stack.outcome_events())


# --- 11. the other entry points ------------------------------------------------------------------------
def test_an_eventbridge_request_with_after_seconds_is_scheduled_from_the_events_time(stack: Stack) -> None:
    message = new_uuid()
    event = eventbridge_event({"message_uuid": message, "region": "eu", "after_seconds": 1, "client_ref": "ev-1"})
    asked = datetime.now(UTC).replace(microsecond=0)
    event["time"] = asked.isoformat().replace("+00:00", "Z")

    result = stack.invoke_event(event)

    assert result["outcome"] == "scheduled"
    assert result["status"] == "revocation_scheduled"
    assert datetime.fromisoformat(result["due_at"]) == asked + timedelta(seconds=1)
    again = stack.invoke_event(event)  # EventBridge delivers at least once
    assert (again["replayed"], again["timer_id"]) == (True, result["timer_id"])
    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(message) == 1, timeout_s=8)
    events = stack.outcome_events()
    assert outcomes(events) == [SCHEDULED, ACCEPTED]
    assert (detail(events, SCHEDULED)["entry_point"], detail(events, SCHEDULED)["client_ref"]) == (
        "eventbridge",
        "ev-1",
    )


def test_an_eventbridge_request_with_a_malformed_timer_is_rejected(stack: Stack) -> None:
    message = new_uuid()

    result = stack.invoke_event(eventbridge_event({"message_uuid": message, "region": "eu", "after_seconds": "1"}))

    assert (result["outcome"], result["reason"], result["message_uuid"]) == ("rejected", "invalid-request", message)
    assert stack.queue_depth(stack.timers.queue_url) == 0
    assert outcomes(stack.outcome_events()) == [REJECTED]


def test_bulk_items_with_after_seconds_are_scheduled_by_the_worker_from_the_submission(stack: Stack) -> None:
    later, now, bad = new_uuid(), new_uuid(), new_uuid()
    items = [
        {"message_uuid": later, "after_seconds": 2},
        {"message_uuid": now},
        {"message_uuid": bad, "after_seconds": 0},
    ]
    before = datetime.now(UTC)
    receipt = body_of(stack.invoke_api(bulk_event({"region": "eu", "messages": items})))
    after = datetime.now(UTC)
    assert receipt["accepted"] == 2
    assert [(r["index"], r["type"]) for r in receipt["rejected"]] == [(2, "urn:rcs-revoker:problem:invalid-request")]
    time.sleep(0.5)  # the worker's turn comes later than the submission

    stack.worker_queue().drain()

    assert stack.vonage.patches_for(now) == 1
    scheduled = record(stack, later)
    assert scheduled["state"] == "scheduled"
    due = datetime.fromisoformat(scheduled["timer"]["due_at"])
    assert before + timedelta(seconds=2) <= due <= after + timedelta(seconds=2)
    batch = body_of(stack.invoke_api(status_event(f"/batches/{receipt['batch_id']}")))
    assert (batch["counts"]["scheduled"], batch["counts"]["requested"]) == (1, 1)
    drive(stack.timer_queue(), lambda: stack.vonage.patches_for(later) == 1, timeout_s=8)
    assert datetime.now(UTC) >= due
    events = stack.outcome_events()
    assert outcomes([e for e in events if e["detail"]["message_uuid"] == later]) == [SCHEDULED, ACCEPTED]
