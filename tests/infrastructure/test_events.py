"""EventBridge: the bus, the revocation rule (its pattern, retries and dead-letter queue), the event function's
asynchronous retries and on-failure destination."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from moto import mock_aws

from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    OUTCOME_SOURCE,
    REJECTED_DETAIL_TYPE,
)
from tests.infrastructure.cfn_evaluate import Deployment
from tests.infrastructure.sam_template import (
    EVENT_BUS_NAME,
    FAILURE_QUEUES,
    WORK_QUEUES,
    as_list,
    function_properties,
    functions,
    live_alias,
    resources,
    sub_string,
)

RULE_EVENT = ("RevokeEventFunction", "RevocationRequested")
DETAIL_TYPE = "RCS Revocation Requested"
MESSAGE_UUID = "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d"


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


def deployed_pattern(translated: dict[str, Any], **parameters: str) -> str:
    """The revocation rule's EventPattern as CloudFormation deploys it with these parameters, as JSON."""
    rule = Deployment(translated, {"VonageSecretName": "vonage", **parameters}).resources()["".join(RULE_EVENT)]
    return json.dumps(rule["Properties"]["EventPattern"])


def matches(pattern: str, detail: dict[str, Any], source: str = "rcs.sender", detail_type: str = DETAIL_TYPE) -> bool:
    """Whether a rule with this pattern takes an event with this detail, by EventBridge's matching as moto
    implements it: the event is put on a bus and the rule's target queue is read. (moto 5.2 answers
    TestEventPattern with nothing; its rules match as EventBridge does, numeric and prefix filters included.)"""
    with mock_aws():
        events = boto3.client("events", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        queue_url = sqs.create_queue(QueueName="matched")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="revocations", EventPattern=pattern)
        events.put_targets(Rule="revocations", Targets=[{"Id": "queue", "Arn": queue_arn}])
        events.put_events(Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}])
        return bool(sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages"))


def test_rule_matches_revocation_requests_from_the_configured_sources(translated: dict[str, Any]) -> None:
    pattern = deployed_pattern(translated, RevocationRequestSources="rcs.sender,crm.campaigns")
    assert matches(pattern, {"message_uuid": MESSAGE_UUID, "region": "eu"})
    assert matches(pattern, {"message_uuid": MESSAGE_UUID, "agent_id": "any-agent"}, source="crm.campaigns")
    assert not matches(pattern, {"message_uuid": MESSAGE_UUID}, source="someone.else")
    parameter = translated["Parameters"]["RevocationRequestSources"]
    assert parameter["Type"] == "CommaDelimitedList"
    assert parameter["Default"] == "rcs.sender"


def test_a_stack_given_its_agents_takes_only_their_requests(translated: dict[str, Any]) -> None:
    # Two stacks on one bus, one per Vonage application: each rule names its own application's agents.
    brand_a = deployed_pattern(translated, ServedAgentIds="brand-a-eu,brand-a-us")
    brand_b = deployed_pattern(translated, ServedAgentIds="brand-b-ap")

    for_a = {"message_uuid": MESSAGE_UUID, "agent_id": "brand-a-us"}
    for_b = {"message_uuid": MESSAGE_UUID, "agent_id": "brand-b-ap"}
    assert matches(brand_a, for_a)
    assert not matches(brand_b, for_a)
    assert matches(brand_b, for_b)
    assert not matches(brand_a, for_b)
    # A request that names no agent cannot say whose it is: a stack that serves listed agents leaves it alone.
    assert not matches(brand_a, {"message_uuid": MESSAGE_UUID, "region": "eu"})
    # Given no agents, a stack takes every request, as before.
    assert matches(deployed_pattern(translated), for_b)


def test_rule_never_matches_the_outcome_events(translated: dict[str, Any]) -> None:
    # Outcomes go to the same bus: matching them would have the function revoke its own outcomes, forever.
    for pattern in (deployed_pattern(translated), deployed_pattern(translated, ServedAgentIds="brand-b-ap")):
        for outcome in (ACCEPTED_DETAIL_TYPE, REJECTED_DETAIL_TYPE):
            for source in ("rcs.sender", OUTCOME_SOURCE):
                detail = {"message_uuid": MESSAGE_UUID, "agent_id": "brand-b-ap"}
                assert not matches(pattern, detail, source=source, detail_type=outcome)
    default_sources = translated["Parameters"]["RevocationRequestSources"]["Default"].split(",")
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
    assert target["Arn"] == {"Ref": live_alias("RevokeEventFunction")}
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
