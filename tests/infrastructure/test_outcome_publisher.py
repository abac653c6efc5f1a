"""The outbox: the ledger's stream feeding OutcomePublisherFunction (its event source mapping, in the template and
in SAM's translation), the order and bounded retries of its batches, and its failures queue with its alarm.

Outcome events are written into the ledger entry; the publisher puts them on the bus from the stream. Its
permissions are in test_permissions.py, its environment in test_functions.py, its iterator age alarm in
test_observability.py, the stream itself in test_tables.py.
"""

from __future__ import annotations

from typing import Any

from tests.infrastructure.sam_template import (
    FAILURE_QUEUES,
    PUBLISHER_EVENT,
    as_list,
    function_properties,
    functions,
    live_alias,
    resources,
)

# Event types whose source is a stream (shards read in order), as SAM names them.
STREAM_EVENT_TYPES = {"DynamoDB", "Kinesis"}
FAILURES_QUEUE = "OutcomePublisherFailuresQueue"
FAILURES_QUEUE_ARN = {"Fn::GetAtt": [FAILURES_QUEUE, "Arn"]}
# DynamoDB Streams keeps a record 24 hours: past that it is gone, from the stream and from any retry.
STREAM_RETENTION_SECONDS = 24 * 3600
# What the mapping is, in the template and (the same values) in SAM's translation.
MAPPING = {
    "StartingPosition": "TRIM_HORIZON",
    "BatchSize": 100,
    # The function reports the first change it could not publish, and Lambda retries from there...
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    # ...with one batch per shard at a time, so that no event of a message overtakes an earlier one.
    "ParallelizationFactor": 1,
    # Bounded: the default (-1) retries until the record leaves the stream, blocking its shard for a day.
    "MaximumRetryAttempts": 100,
    "MaximumRecordAgeInSeconds": 3600,
    # What still fails is kept, on a queue of the template (encrypted, alarmed), not dropped.
    "DestinationConfig": {"OnFailure": {"Destination": FAILURES_QUEUE_ARN}},
}


def publisher_event(template: dict[str, Any]) -> dict[str, Any]:
    function_id, event_name = PUBLISHER_EVENT
    event = function_properties(template, function_id)["Events"][event_name]
    assert event["Type"] == "DynamoDB"
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_the_publisher_is_the_only_stream_consumer_and_has_no_other_trigger(template: dict[str, Any]) -> None:
    consumers = [
        (logical_id, name)
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] in STREAM_EVENT_TYPES
    ]
    assert consumers == [PUBLISHER_EVENT]
    function_id, event_name = PUBLISHER_EVENT
    assert set(function_properties(template, function_id)["Events"]) == {event_name}


def test_the_ledger_stream_feeds_the_publisher(template: dict[str, Any]) -> None:
    event = publisher_event(template)
    assert event["Stream"] == {"Fn::GetAtt": ["LedgerTable", "StreamArn"]}
    # The stream exists, with what the publisher reads: the entry before and after each change.
    ledger = template["Resources"]["LedgerTable"]["Properties"]
    assert ledger["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_publisher_reads_in_order_and_retries_a_bounded_time(template: dict[str, Any]) -> None:
    event = publisher_event(template)
    # Nothing else on the mapping: no filter that would drop changes, no switch that would disable it, no
    # bisection or tumbling window changing what a batch is.
    assert set(event) == {"Stream", *MAPPING}
    for name, value in MAPPING.items():
        assert event[name] == value, name
    # Bounded, and within the stream's retention: a record that exhausts its retries reaches the failures
    # queue while the stream still holds it.
    assert 0 <= event["MaximumRetryAttempts"] <= 10_000
    assert 60 <= event["MaximumRecordAgeInSeconds"] < STREAM_RETENTION_SECONDS


def test_the_publishers_failures_are_kept_on_an_alarmed_failure_queue(template: dict[str, Any]) -> None:
    destination = publisher_event(template)["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == FAILURES_QUEUE_ARN
    # A failure queue: encrypted, kept two weeks, alarmed on its first message (test_queues.py and
    # test_observability.py check every one of them).
    assert FAILURES_QUEUE in FAILURE_QUEUES
    assert template["Resources"][FAILURES_QUEUE]["Type"] == "AWS::SQS::Queue"
    alarms = [
        alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [FAILURES_QUEUE, "QueueName"]}}]
    ]
    assert len(alarms) == 1, alarms
    (alarm,) = alarms
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", 1)
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    # Lambda sends there with the publisher's role (its own statement): no queue policy opens it to anyone.
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        assert {"Ref": FAILURES_QUEUE} not in as_list(policy["Properties"]["Queues"])
    # Nothing consumes it: its messages wait for whoever answers the alarm.
    for logical_id, properties in functions(template).items():
        for event in properties.get("Events", {}).values():
            assert event["Properties"].get("Queue") != FAILURES_QUEUE_ARN, logical_id


def test_the_publisher_has_no_asynchronous_failure_path(template: dict[str, Any]) -> None:
    # Lambda polls the stream: a dead-letter queue or an EventInvokeConfig (asynchronous invocations only)
    # would never be used, and would suggest failures go somewhere they do not.
    properties = function_properties(template, PUBLISHER_EVENT[0])
    assert "DeadLetterQueue" not in properties
    assert "EventInvokeConfig" not in properties


def test_sam_maps_the_ledger_stream_to_the_publisher(translated: dict[str, Any]) -> None:
    # SAM names the event source mapping <function logical id><event name>.
    mapping = translated["Resources"]["".join(PUBLISHER_EVENT)]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    assert mapping["Properties"] == {
        "EventSourceArn": {"Fn::GetAtt": ["LedgerTable", "StreamArn"]},
        "FunctionName": {"Ref": live_alias(PUBLISHER_EVENT[0])},
        **MAPPING,
    }
