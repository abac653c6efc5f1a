"""The timers' wake-up adapter against botocore's Stubber (no network): what it asks SQS and Scheduler, and how
it reads their refusals. The same adapter runs against moto server in tests/integration/test_timer_wake_ups.py."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rcs_revoker.adapters import timer_wake_ups
from rcs_revoker.adapters.timer_wake_ups import SCHEDULE_RETRY_POLICY, SqsSchedulerWakeUps
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.timers import Timer, WakeUpPlan

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
DUE = datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/timers"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:timers"
DLQ_ARN = "arn:aws:sqs:eu-west-1:123456789012:timers-dlq"
ROLE_ARN = "arn:aws:iam::123456789012:role/timers-scheduler"
GROUP = "rcs-revoker-timers"
TIMER = Timer(UUID, "5f0c2a91", DUE)


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    clients = {
        name: boto3.client(name, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        for name in ("sqs", "scheduler")
    }
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    monkeypatch.setattr(timer_wake_ups, "aws_client", lambda name: clients[name])
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def wake_ups(**overrides: Any) -> SqsSchedulerWakeUps:
    settings: dict[str, Any] = {
        "queue_url": QUEUE_URL,
        "queue_arn": QUEUE_ARN,
        "schedule_group": GROUP,
        "scheduler_role_arn": ROLE_ARN,
        "dead_letter_queue_arn": DLQ_ARN,
        **overrides,
    }
    return SqsSchedulerWakeUps(**settings)


def test_a_short_timer_is_one_delayed_message_naming_it(stubs: dict[str, Stubber]) -> None:
    body = json.dumps(TIMER.wake_up(retries=2), separators=(",", ":"))
    expected = {"QueueUrl": QUEUE_URL, "MessageBody": body, "DelaySeconds": 30}
    stubs["sqs"].add_response("send_message", {"MessageId": "m1"}, expected)
    wake_ups().arm(TIMER, WakeUpPlan(delay_s=30), retries=2)


def test_a_long_timer_is_a_schedule_in_utc_that_deletes_itself(stubs: dict[str, Stubber]) -> None:
    expected = {
        "Name": TIMER.schedule_name,
        "GroupName": GROUP,
        "ScheduleExpression": "at(2026-12-02T09:20:00)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": QUEUE_ARN,
            "RoleArn": ROLE_ARN,
            "Input": json.dumps(TIMER.wake_up(), separators=(",", ":")),
            "RetryPolicy": SCHEDULE_RETRY_POLICY,
            "DeadLetterConfig": {"Arn": DLQ_ARN},
        },
    }
    stubs["scheduler"].add_response("create_schedule", {"ScheduleArn": "arn:schedule"}, expected)
    wake_ups().arm(TIMER, WakeUpPlan(schedule_at=DUE - timedelta(minutes=10)))


def test_a_schedule_that_exists_already_is_armed(stubs: dict[str, Stubber]) -> None:
    stubs["scheduler"].add_client_error("create_schedule", "ConflictException", http_status_code=409)
    wake_ups().arm(TIMER, WakeUpPlan(schedule_at=DUE))


def test_a_refused_send_is_a_dependency_failure_naming_aws_s_code(stubs: dict[str, Stubber]) -> None:
    stubs["sqs"].add_client_error("send_message", "ServiceUnavailable", http_status_code=503)
    with pytest.raises(DependencyUnavailable, match=r"could not be armed \(ServiceUnavailable\)"):
        wake_ups().arm(TIMER, WakeUpPlan(delay_s=1))


def test_without_a_schedule_group_a_long_timer_cannot_be_armed_and_nothing_is_forgotten(
    stubs: dict[str, Stubber],
) -> None:
    unscheduled = wake_ups(schedule_group=None)
    with pytest.raises(DependencyUnavailable, match="no timer schedule group"):
        unscheduled.arm(TIMER, WakeUpPlan(schedule_at=DUE))
    unscheduled.forget(TIMER)  # no call at all: the Stubber would refuse one


def test_a_schedule_without_a_dead_letter_queue_has_no_dead_letter_config(stubs: dict[str, Stubber]) -> None:
    stubs["scheduler"].add_response("create_schedule", {"ScheduleArn": "arn:schedule"})
    wake_ups(dead_letter_queue_arn=None).arm(TIMER, WakeUpPlan(schedule_at=DUE))


def test_forgetting_deletes_the_schedule_and_never_raises(stubs: dict[str, Stubber]) -> None:
    expected = {"Name": TIMER.schedule_name, "GroupName": GROUP}
    stubs["scheduler"].add_response("delete_schedule", {}, expected)
    stubs["scheduler"].add_client_error("delete_schedule", "ResourceNotFoundException", http_status_code=404)
    stubs["scheduler"].add_client_error("delete_schedule", "ThrottlingException", http_status_code=400)
    for _ in range(3):
        wake_ups().forget(TIMER)
