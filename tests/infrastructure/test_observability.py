"""Logs and alarms: one log group per function, the alarms and their SNS topic (encrypted), the optional email."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infrastructure.sam_template import (
    FAILURE_QUEUES,
    WORK_QUEUES,
    as_list,
    emitted_metrics,
    functions,
    resources,
    sub_string,
)


def test_each_function_logs_to_its_own_group_with_retention(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        group_ref = properties["LoggingConfig"]["LogGroup"]
        assert set(group_ref) == {"Ref"}, logical_id
        group = template["Resources"][group_ref["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        # Lambda's default group name for this function, so nothing else creates one without retention.
        expected = "/aws/lambda/" + sub_string(properties["FunctionName"])
        assert sub_string(group["Properties"]["LogGroupName"]) == expected
    assert 30 in template["Parameters"]["LogRetentionInDays"]["AllowedValues"]
    assert template["Parameters"]["LogRetentionInDays"]["Default"] == 30


# Alarms on a duration, not a count: their threshold is that duration, in the metric's unit.
DURATION_ALARMS = {
    # The outcome events are more than a minute behind the ledger (IteratorAge is in milliseconds).
    "OutcomePublisherIteratorAgeAlarm": ("AWS/Lambda", "IteratorAge", "OutcomePublisherFunction", 60_000),
}
# Where one occurrence is too many: the service's own metrics that mean a person must act.
ABSOLUTE_METRICS = {
    "UnexpectedErrors",
    "VonageCredentialsRejected",
    "OutcomePublishFailures",
    "LedgerWriteFailures",
    "IdempotencyRecordsNotStored",
    "TimersNotArmed",
    "RevocationsAbandoned",
}
# The functions whose throttles a caller sees (API Gateway, Vonage's callbacks); the others retry theirs.
SYNCHRONOUS_FUNCTIONS = {"RevokeApiFunction", "StatusWebhookFunction"}


def watched(properties: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """(namespace, metric, dimensions) of every metric an alarm reads, a metric-math alarm's included."""
    if "MetricName" in properties:
        return [(properties["Namespace"], properties["MetricName"], properties["Dimensions"])]
    return [
        (
            m["MetricStat"]["Metric"]["Namespace"],
            m["MetricStat"]["Metric"]["MetricName"],
            m["MetricStat"]["Metric"]["Dimensions"],
        )
        for m in properties["Metrics"]
        if "MetricStat" in m
    ]


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: alarm["Properties"] for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
    }


def test_every_alarm_notifies_the_topic_and_says_what_to_do(template: dict[str, Any]) -> None:
    assert len(alarms(template)) >= 20
    for logical_id, properties in alarms(template).items():
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", logical_id
        # The runbook line: what it means, then what to do.
        assert " Act: " in properties["AlarmDescription"], logical_id


def test_each_function_alarms_on_a_lasting_error_rate_not_on_one_error(template: dict[str, Any]) -> None:
    for function_id in functions(template):
        dimensions = [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
        (properties,) = [p for p in alarms(template).values() if ("AWS/Lambda", "Errors", dimensions) in watched(p)]
        assert ("AWS/Lambda", "Invocations", dimensions) in watched(properties), function_id
        (expression,) = [m["Expression"] for m in properties["Metrics"] if "Expression" in m]
        # A share of the invocations, only once there were enough of them to say so, for 15 minutes.
        assert re.fullmatch(r"IF\(invocations >= \d+, 100 \* errors / invocations, 0\)", expression), function_id
        assert (properties["EvaluationPeriods"], properties["DatapointsToAlarm"]) == (3, 3), function_id
        assert 5 <= properties["Threshold"] <= 25, function_id


def test_only_the_functions_a_caller_waits_on_alarm_on_throttles(template: dict[str, Any]) -> None:
    throttled = {
        dimensions[0]["Value"]["Ref"]
        for properties in alarms(template).values()
        for namespace, metric, dimensions in watched(properties)
        if (namespace, metric) == ("AWS/Lambda", "Throttles")
    }
    assert throttled == SYNCHRONOUS_FUNCTIONS


def test_the_api_alarms_on_its_5xx_rate_keyed_by_its_own_name(template: dict[str, Any]) -> None:
    (api,) = [p for p in alarms(template).values() if any(n == "AWS/ApiGateway" for n, _, _ in watched(p))]
    assert sorted(metric for _, metric, _ in watched(api)) == ["5XXError", "Count"]
    (dimensions,) = {json.dumps(d) for _, _, d in watched(api)}
    # The metric is keyed by the API's name: it must be the name the API is given.
    assert {d["Name"]: d["Value"] for d in json.loads(dimensions)} == {
        "ApiName": template["Resources"]["RevocationApi"]["Properties"]["Name"],
        "Stage": template["Resources"]["RevocationApi"]["Properties"]["StageName"],
    }


def test_every_service_metric_an_alarm_reads_is_one_the_code_emits(template: dict[str, Any]) -> None:
    read = {
        (metric, json.dumps(dimensions))
        for properties in alarms(template).values()
        for namespace, metric, dimensions in watched(properties)
        if namespace == "RcsRevoker"
    }
    assert {metric for metric, _ in read} - emitted_metrics() == set()
    # Powertools puts the service name on every metric as its one dimension.
    service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert {dimensions for _, dimensions in read} == {json.dumps([{"Name": "service", "Value": service}])}


def test_one_occurrence_of_what_needs_a_person_is_an_alarm(template: dict[str, Any]) -> None:
    absolute = {
        properties["MetricName"]: properties
        for properties in alarms(template).values()
        if properties.get("Namespace") == "RcsRevoker"
    }
    assert set(absolute) == ABSOLUTE_METRICS
    for metric, properties in absolute.items():
        assert (properties["Statistic"], properties["Threshold"], properties["EvaluationPeriods"]) == ("Sum", 1, 1), (
            metric
        )


def test_the_oldest_bulk_revocation_alarms_long_before_the_24_hour_window_ends(template: dict[str, Any]) -> None:
    (properties,) = [p for p in alarms(template).values() if p.get("MetricName") == "ApproximateAgeOfOldestMessage"]
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RevocationQueue", "QueueName"]}}
    ]
    assert properties["Statistic"] == "Maximum"
    assert 3600 <= properties["Threshold"] <= 6 * 3600  # hours left to act in, of Vonage's 24


def test_vonage_s_error_rate_is_alarmed_against_the_calls_made(template: dict[str, Any]) -> None:
    (properties,) = [
        p for p in alarms(template).values() if any(metric == "VonageErrors" for _, metric, _ in watched(p))
    ]
    stats = {
        m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Stat"]
        for m in properties["Metrics"]
        if "MetricStat" in m
    }
    # Each call to Vonage records one VonageLatency sample: their count is the calls made.
    assert stats == {"VonageErrors": "Sum", "VonageLatency": "SampleCount"}


def test_outcome_events_alarm_when_they_fall_behind_the_ledger(template: dict[str, Any]) -> None:
    for logical_id, (namespace, metric, function_id, threshold) in DURATION_ALARMS.items():
        properties = template["Resources"][logical_id]["Properties"]
        assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric), logical_id
        assert properties["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_id}}], logical_id
        # The oldest record of the period: one publication stuck behind a failing one is enough.
        assert properties["Statistic"] == "Maximum", logical_id
        assert properties["Threshold"] == threshold, logical_id
        assert properties["EvaluationPeriods"] == 1, logical_id
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
    # Every alarm on the iterator age is listed above, and every stream consumer has one.
    iterator_age = {
        logical_id
        for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("MetricName") == "IteratorAge"
    }
    assert iterator_age == {i for i, (_, metric, _, _) in DURATION_ALARMS.items() if metric == "IteratorAge"}
    stream_consumers = {
        logical_id
        for logical_id, properties in functions(template).items()
        if any(event["Type"] in {"DynamoDB", "Kinesis"} for event in properties.get("Events", {}).values())
    }
    assert stream_consumers == {DURATION_ALARMS[i][2] for i in iterator_age}


def test_every_failure_queue_alarms_on_its_first_message(template: dict[str, Any]) -> None:
    # A new queue must be classified: a failure queue (alarmed on depth) or a work queue (not).
    assert set(resources(template, "AWS::SQS::Queue")) == FAILURE_QUEUES | WORK_QUEUES
    depth_alarms = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert set(depth_alarms) == FAILURE_QUEUES
    for queue, properties in depth_alarms.items():
        assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible", queue
        assert properties["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}},
        ]
        # A depth: the alarm stays on while a single message waits, not only when one arrives.
        assert properties["Statistic"] == "Maximum", queue
        assert properties["Threshold"] == 1, queue


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(template: dict[str, Any]) -> None:
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    # CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key.
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = template["Resources"]["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(cloudwatch) == 1
    assert set(as_list(cloudwatch[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alarm_email_is_optional(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert subscription["Properties"]["Protocol"] == "email"
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_saved_queries_cover_every_function_log_group_and_the_questions_on_call_asks(
    template: dict[str, Any],
) -> None:
    queries = resources(template, "AWS::Logs::QueryDefinition")
    assert set(queries) == {"MessageHistoryQuery", "RejectionsByReasonQuery"}
    function_log_groups = {
        logical_id
        for logical_id, group in resources(template, "AWS::Logs::LogGroup").items()
        if "/aws/lambda/" in str(group["Properties"]["LogGroupName"])
    }
    for logical_id, query in queries.items():
        named = {reference["Ref"] for reference in query["Properties"]["LogGroupNames"]}
        assert named == function_log_groups, logical_id
    # The fields they read are the ones the outcome log line carries (record_outcome.py).
    assert 'filter message_uuid = "' in queries["MessageHistoryQuery"]["Properties"]["QueryString"]
    rejections = queries["RejectionsByReasonQuery"]["Properties"]["QueryString"]
    assert 'filter outcome = "rejected"' in rejections
    assert "by reason" in rejections
