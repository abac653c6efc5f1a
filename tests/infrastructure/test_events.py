"""EventBridge: the bus, the revocation rule (its pattern, retries and dead-letter queue), the event function's
asynchronous retries and on-failure destination."""

from __future__ import annotations

import re
from typing import Any

from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    OUTCOME_SOURCE,
    REJECTED_DETAIL_TYPE,
)
from tests.infrastructure.sam_template import (
    EVENT_BUS_NAME,
    FAILURE_QUEUES,
    WORK_QUEUES,
    as_list,
    function_properties,
    functions,
    resources,
    sub_string,
)

RULE_EVENT = ("RevokeEventFunction", "RevocationRequested")


def test_event_bus_is_created_unless_one_is_named(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EventBusName"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], "orders-bus")
    # A name, not an ARN: the ARN is built from it for the PutEvents permission.
    assert not re.fullmatch(parameter["AllowedPattern"], "arn:aws:events:eu-west-1:123456789012:event-bus/x")
    assert template["Conditions"]["CreateEventBus"] == {"Fn::Equals": [{"Ref": "EventBusName"}, ""]}
    bus = template["Resources"]["RevocationEventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Condition"] == "CreateEventBus"
    assert sub_string(bus["Properties"]["Name"]) == "${AWS::StackName}-revocations"


def revocation_rule(template: dict[str, Any]) -> dict[str, Any]:
    function_id, event_name = RULE_EVENT
    event = function_properties(template, function_id)["Events"][event_name]
    assert event["Type"] == "EventBridgeRule"
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_the_only_rule_is_the_revocation_rule_and_the_only_schedule_the_reconciler_s(template: dict[str, Any]) -> None:
    triggers = {
        (logical_id, name): event["Type"]
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] in {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2"}
    }
    assert triggers == {RULE_EVENT: "EventBridgeRule", ("ReconcilerFunction", "EveryMinute"): "Schedule"}


def test_the_reconciler_runs_every_minute_one_run_at_a_time_without_retries(template: dict[str, Any]) -> None:
    reconciler = function_properties(template, "ReconcilerFunction")
    schedule = reconciler["Events"]["EveryMinute"]["Properties"]
    assert schedule["Schedule"] == "rate(1 minute)"
    assert schedule["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    assert reconciler["ReservedConcurrentExecutions"] == 1


def test_a_burst_of_events_is_bounded_by_the_event_function_s_reserved_concurrency(template: dict[str, Any]) -> None:
    properties = function_properties(template, "RevokeEventFunction")
    assert properties["ReservedConcurrentExecutions"] == {"Ref": "EventMaxConcurrency"}
    assert template["Parameters"]["EventMaxConcurrency"]["Default"] == 10


def test_rule_matches_revocation_requests_from_the_configured_sources(template: dict[str, Any]) -> None:
    rule = revocation_rule(template)
    assert rule["Pattern"] == {
        "source": {"Ref": "RevocationRequestSources"},
        "detail-type": ["RCS Revocation Requested"],
    }
    parameter = template["Parameters"]["RevocationRequestSources"]
    assert parameter["Type"] == "CommaDelimitedList"
    assert parameter["Default"] == "rcs.sender"


def test_rule_never_matches_the_outcome_events(template: dict[str, Any]) -> None:
    # Outcomes go to the same bus: matching them would have the function revoke its own outcomes, forever.
    rule = revocation_rule(template)
    assert ACCEPTED_DETAIL_TYPE not in rule["Pattern"]["detail-type"]
    assert REJECTED_DETAIL_TYPE not in rule["Pattern"]["detail-type"]
    default_sources = template["Parameters"]["RevocationRequestSources"]["Default"].split(",")
    assert OUTCOME_SOURCE not in [source.strip() for source in default_sources]


def test_requests_and_outcomes_use_the_same_bus(template: dict[str, Any]) -> None:
    assert revocation_rule(template)["EventBusName"] == EVENT_BUS_NAME
    # Outcomes are put on the bus by the outcome publisher only (from the ledger's stream): no other function
    # is told the bus's name.
    told = {
        logical_id: properties["Environment"]["Variables"]["EVENT_BUS_NAME"]
        for logical_id, properties in functions(template).items()
        if "EVENT_BUS_NAME" in properties["Environment"]["Variables"]
    }
    assert told == {"OutcomePublisherFunction": EVENT_BUS_NAME}


def test_rule_retries_delivery_for_a_day_then_dead_letters(template: dict[str, Any]) -> None:
    rule = revocation_rule(template)
    # Past 24 hours Vonage cannot revoke the message anyway; 185 is EventBridge's maximum.
    assert rule["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    # The queue defined (and encrypted, alarmed) in the template, not one SAM would make with Type: SQS.
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}}


def test_only_the_revocation_rule_may_send_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    policies = [
        policy["Properties"]
        for policy in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "RevocationRequestsDeadLetterQueue"} in policy["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    assert policies[0]["Queues"] == [{"Ref": "RevocationRequestsDeadLetterQueue"}]
    (statement,) = as_list(policies[0]["PolicyDocument"]["Statement"])
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}
    # SAM names the rule it generates <function logical id><event name>.
    rule_id = "".join(RULE_EVENT)
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_sam_generates_the_rule_the_queue_policy_names(translated: dict[str, Any]) -> None:
    # Neither cfn-lint nor sam validate checks a !GetAtt on a resource SAM generates: this does.
    rule = translated["Resources"]["".join(RULE_EVENT)]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["EventBusName"] == EVENT_BUS_NAME
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RevokeEventFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    # SAM created no dead-letter queue or queue policy of its own.
    assert set(resources(translated, "AWS::SQS::Queue")) == FAILURE_QUEUES | WORK_QUEUES
    assert sorted(resources(translated, "AWS::SQS::QueuePolicy")) == ["RevocationRequestsDeadLetterQueuePolicy"]


def test_failed_invocations_are_retried_then_kept(template: dict[str, Any]) -> None:
    config = function_properties(template, "RevokeEventFunction")["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["RevokeEventFailuresQueue", "Arn"]}}
    }
