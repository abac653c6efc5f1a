"""How deferred revocations are woken and asked: timers past the queue's delay woken by EventBridge Scheduler,
a lost wake-up fired by the reconciler, and timers asked through EventBridge and the bulk route. (The API's
answers and the timer's ordinary life are in test_timers.py, its races and AWS faults in
test_timer_races.py.)"""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from offline.lambda_context import LocalLambdaContext
from offline.schedule import scheduled_event
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.sqs_revocation_queue import SqsRevocationQueue
from rcs_revoker.adapters.timer_wake_ups import SqsSchedulerWakeUps
from rcs_revoker.domain.ledger import LedgerWrite
from rcs_revoker.usecases.reconcile import ReconcileLedger
from tests.conftest import LEDGER_TABLE, Stack, body_of, bulk_event, eventbridge_event, status_event
from tests.timer_kit import (
    ACCEPTED,
    REJECTED,
    SCHEDULED,
    callback,
    cancel,
    detail,
    drive,
    new_uuid,
    outcomes,
    record,
    schedule,
    seconds_until,
    timeline,
)


def until_due(answer: dict[str, Any], margin_s: float = 0.05) -> None:
    time.sleep(max(0.0, seconds_until(answer["due_at"]) + margin_s))


# --- 9. past the queue's delay: EventBridge Scheduler ---------------------------------------------------
def test_a_timer_past_the_queue_delay_is_a_schedule_that_wakes_it_on_time(stack: Stack) -> None:
    stack.set_env("TIMER_QUEUE_MAX_DELAY_S", "4")
    message = new_uuid()
    answer = schedule(stack, message, after_seconds=5)
    runner = stack.schedules()

    [held] = runner.pending()

    due = datetime.fromisoformat(answer["due_at"])
    assert held["Name"] == f"revoke-{message}-{answer['timer_id']}"
    # Two thirds of the lowered queue delay ahead of its due time, in UTC, to the whole second below.
    lead = timedelta(seconds=4 * 2 / 3)
    assert held["ScheduleExpression"] == f"at({(due - lead).astimezone(UTC):%Y-%m-%dT%H:%M:%S})"
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
