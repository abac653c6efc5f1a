"""The queues: the failure queues, the bulk revocation queue and the timer queue with their dead-letter queues, and
their consumers' event sources (the worker's, the timer function's)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infrastructure.sam_template import (
    FAILURE_QUEUES,
    PUBLISHER_EVENT,
    function_properties,
    functions,
    live_alias,
    resources,
)

WORKER_EVENT = ("RevokeWorkerFunction", "RevocationQueue")
TIMER_EVENT = ("RevokeTimerFunction", "TimerQueue")
FOURTEEN_DAYS = 14 * 24 * 3600
FOUR_DAYS = 4 * 24 * 3600


@pytest.mark.parametrize("logical_id", sorted(FAILURE_QUEUES))
def test_failure_queues_are_encrypted_and_keep_messages_two_weeks(template: dict[str, Any], logical_id: str) -> None:
    queue = template["Resources"][logical_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    # SSE-SQS: with SSE-KMS, EventBridge and Lambda would need a key policy granting them the key.
    assert properties["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in properties
    assert properties["MessageRetentionPeriod"] == FOURTEEN_DAYS


def worker_event(template: dict[str, Any], which: tuple[str, str] = WORKER_EVENT) -> dict[str, Any]:
    function_id, event_name = which
    event = function_properties(template, function_id)["Events"][event_name]
    assert event["Type"] == "SQS"
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_the_worker_and_the_timer_function_are_the_only_queue_consumers(template: dict[str, Any]) -> None:
    consumers = [
        (logical_id, name)
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] == "SQS"
    ]
    assert sorted(consumers) == sorted([WORKER_EVENT, TIMER_EVENT])


def test_worker_consumes_the_revocation_queue_at_a_bounded_concurrency(template: dict[str, Any]) -> None:
    event = worker_event(template)
    assert event["Queue"] == {"Fn::GetAtt": ["RevocationQueue", "Arn"]}
    assert event["BatchSize"] == 10
    assert event["MaximumBatchingWindowInSeconds"] == 1
    # Only the failed messages of a batch return to the queue.
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The bound on concurrent Vonage calls (its rate limit).
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert "Enabled" not in event or event["Enabled"] is True


def test_worker_parameters(template: dict[str, Any]) -> None:
    concurrency = template["Parameters"]["WorkerMaxConcurrency"]
    # 2 to 1000: the range an SQS event source's maximum concurrency accepts.
    assert (concurrency["Type"], concurrency["Default"]) == ("Number", 5)
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)
    receives = template["Parameters"]["WorkerMaxReceiveCount"]
    assert (receives["Type"], receives["Default"]) == ("Number", 10)
    assert receives["MinValue"] == 1
    assert receives["MaxValue"] == 1000  # SQS's limit for maxReceiveCount


def test_sam_maps_the_queue_to_the_worker(translated: dict[str, Any]) -> None:
    # SAM names the event source mapping <function logical id><event name>.
    mapping = translated["Resources"]["".join(WORKER_EVENT)]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["RevocationQueue", "Arn"]}
    assert properties["FunctionName"] == {"Ref": live_alias("RevokeWorkerFunction")}
    assert properties["BatchSize"] == 10
    assert properties["MaximumBatchingWindowInSeconds"] == 1
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert properties.get("Enabled", True) is True
    # The worker's queue, the timer function's and the publisher's ledger stream (test_outcome_publisher.py).
    assert set(resources(translated, "AWS::Lambda::EventSourceMapping")) == {
        "".join(WORKER_EVENT),
        "".join(TIMER_EVENT),
        "".join(PUBLISHER_EVENT),
    }


def test_revocation_queue_redrives_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["RevocationQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RevocationQueueDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "WorkerMaxReceiveCount"},
    }
    assert properties["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in properties
    assert properties["MessageRetentionPeriod"] == FOUR_DAYS
    # A standard queue's message keeps its first enqueue time in the dead-letter queue: the dead-letter
    # queue must keep messages longer than the source queue, or they expire there before anyone looks.
    dead_letter = template["Resources"]["RevocationQueueDeadLetterQueue"]["Properties"]
    assert dead_letter["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dead_letter


def test_revocation_queue_visibility_timeout_is_six_worker_timeouts(template: dict[str, Any]) -> None:
    # AWS's recommendation for a Lambda event source: Lambda can retry a throttled batch before the
    # messages reappear. (Lambda rejects a mapping whose function timeout exceeds the visibility timeout.)
    timeout = function_properties(template, "RevokeWorkerFunction")["Timeout"]
    visibility = template["Resources"]["RevocationQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout
    assert visibility == 180


def test_worker_knows_the_receive_count_the_redrive_policy_uses(template: dict[str, Any]) -> None:
    # The worker tells a last attempt from one SQS will retry: both must come from the same parameter.
    variables = function_properties(template, "RevokeWorkerFunction")["Environment"]["Variables"]
    redrive = template["Resources"]["RevocationQueue"]["Properties"]["RedrivePolicy"]
    assert variables["MAX_RECEIVE_COUNT"] == redrive["maxReceiveCount"] == {"Ref": "WorkerMaxReceiveCount"}


def test_timer_function_consumes_the_timer_queue_without_a_batching_window(template: dict[str, Any]) -> None:
    event = worker_event(template, TIMER_EVENT)
    assert event["Queue"] == {"Fn::GetAtt": ["TimerQueue", "Arn"]}
    assert event["BatchSize"] == 10
    # A timer fires within 2 s of its due time: a batching window would hold a due wake-up back that long.
    assert event["MaximumBatchingWindowInSeconds"] == 0
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Timers due together call Vonage together: bounded, as the worker is, by the event source.
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "TimerMaxConcurrency"}}
    assert "Enabled" not in event or event["Enabled"] is True
    assert "ReservedConcurrentExecutions" not in function_properties(template, TIMER_EVENT[0])


def test_sam_maps_the_timer_queue_to_the_timer_function_without_a_batching_window(translated: dict[str, Any]) -> None:
    properties = translated["Resources"]["".join(TIMER_EVENT)]["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["TimerQueue", "Arn"]}
    assert properties["FunctionName"] == {"Ref": live_alias("RevokeTimerFunction")}
    assert properties["BatchSize"] == 10
    # SAM passes a 0 on (Lambda's default for SQS is also 0, but a default is not a decision).
    assert properties["MaximumBatchingWindowInSeconds"] == 0
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "TimerMaxConcurrency"}}


def test_timer_parameters(template: dict[str, Any]) -> None:
    concurrency = template["Parameters"]["TimerMaxConcurrency"]
    assert (concurrency["Type"], concurrency["Default"]) == ("Number", 5)
    assert concurrency["Default"] == template["Parameters"]["WorkerMaxConcurrency"]["Default"]
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)
    receives = template["Parameters"]["TimerMaxReceiveCount"]
    assert (receives["Type"], receives["Default"]) == ("Number", 10)
    # At least one receive after a failed one before the dead-letter queue.
    assert receives["MinValue"] == 2
    assert receives["MaxValue"] == 1000


def test_timer_queue_redrives_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["TimerQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["TimerDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "TimerMaxReceiveCount"},
    }
    assert properties["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in properties
    # A wake-up waits at most 15 minutes here (SQS's longest delay); a schedule holds the longer ones.
    assert properties["MessageRetentionPeriod"] == FOUR_DAYS
    assert "DelaySeconds" not in properties, "each wake-up sets its own delay"
    dead_letter = template["Resources"]["TimerDeadLetterQueue"]
    assert dead_letter["Type"] == "AWS::SQS::Queue"
    assert dead_letter["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert dead_letter["Properties"]["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dead_letter["Properties"]


def test_timer_queue_visibility_timeout_is_six_timer_function_timeouts(template: dict[str, Any]) -> None:
    timeout = function_properties(template, "RevokeTimerFunction")["Timeout"]
    visibility = template["Resources"]["TimerQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout
    assert visibility == 180
