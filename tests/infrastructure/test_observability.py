"""Logs and alarms: one log group per function, the alarms and their SNS topic (encrypted), the optional email."""

from __future__ import annotations

from typing import Any

from tests.infrastructure.sam_template import (
    FAILURE_QUEUES,
    WORK_QUEUES,
    as_list,
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


def test_alarms_notify_the_alarm_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert {"Ref": "AlarmTopic"} in properties["AlarmActions"], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id
        expected_threshold = DURATION_ALARMS[logical_id][3] if logical_id in DURATION_ALARMS else 1
        assert properties["Threshold"] == expected_threshold, logical_id
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", logical_id
        assert properties["Period"] == 300, logical_id
    watched = [
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], a["Properties"]["Dimensions"])
        for a in alarms.values()
    ]
    unwatched = [
        (function_id, metric)
        for function_id in functions(template)
        for metric in ("Errors", "Throttles")
        if ("AWS/Lambda", metric, [{"Name": "FunctionName", "Value": {"Ref": function_id}}]) not in watched
    ]
    assert not unwatched, f"no alarm on (function, metric): {unwatched}"
    (api_5xx,) = [dimensions for namespace, _, dimensions in watched if namespace == "AWS/ApiGateway"]
    api_dimensions = {d["Name"]: d["Value"] for d in api_5xx}
    # The metric is keyed by the API's name: it must be the name the API is given.
    assert api_dimensions == {
        "ApiName": template["Resources"]["RevocationApi"]["Properties"]["Name"],
        "Stage": template["Resources"]["RevocationApi"]["Properties"]["StageName"],
    }


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
        if alarm["Properties"]["MetricName"] == "IteratorAge"
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
        if alarm["Properties"]["Namespace"] == "AWS/SQS"
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
