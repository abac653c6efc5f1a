"""Rules every resource of the stack follows: it is tagged, its data has a deletion policy, its references resolve."""

from __future__ import annotations

import re
from typing import Any

from tests.infrastructure.sam_template import merge_globals, sub_string

SERVICE_TAG = ("service", "rcs-revoker")
# Resource types that take tags, and those that cannot. A new type must be put in one of them.
TAGGABLE = {
    "AWS::Serverless::Function",
    "AWS::Serverless::Api",
    "AWS::Logs::LogGroup",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::KMS::Key",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::Role",
    "AWS::Events::EventBus",
    "AWS::SQS::Queue",
    "AWS::Scheduler::ScheduleGroup",
}
UNTAGGABLE = {
    "AWS::Serverless::LayerVersion",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Subscription",
    "AWS::ApiGateway::Account",
    "AWS::CloudFormation::WaitConditionHandle",
    "AWS::Logs::QueryDefinition",  # CloudFormation gives saved queries no Tags property
    "AWS::CloudWatch::Dashboard",  # nor dashboards
}


def tags_of(resource_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    tags = properties.get("Tags")
    if resource_type.startswith("AWS::Serverless::"):
        return dict(tags or {})
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def test_every_taggable_resource_is_tagged(template: dict[str, Any]) -> None:
    global_function = template.get("Globals", {}).get("Function", {})
    for logical_id, resource in template["Resources"].items():
        resource_type = resource["Type"]
        assert resource_type in TAGGABLE | UNTAGGABLE, f"{logical_id}: classify {resource_type}"
        if resource_type in UNTAGGABLE:
            continue
        properties = resource.get("Properties", {})
        if resource_type == "AWS::Serverless::Function":
            properties = merge_globals(global_function, properties)
        tags = tags_of(resource_type, properties)
        assert tags.get(SERVICE_TAG[0]) == SERVICE_TAG[1], f"{logical_id} is not tagged {SERVICE_TAG}"


def test_stateful_resources_say_what_happens_to_their_data(template: dict[str, Any]) -> None:
    # A schedule group holds the pending timers' schedules.
    stateful = {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
        "AWS::Scheduler::ScheduleGroup",
    }
    found = [(i, r) for i, r in template["Resources"].items() if r["Type"] in stateful]
    assert len(found) >= 12
    for logical_id, resource in found:
        assert resource.get("DeletionPolicy") in {"Delete", "Retain"}, logical_id
        assert resource.get("UpdateReplacePolicy") == resource["DeletionPolicy"], logical_id


def test_every_reference_resolves_after_translation(translated: dict[str, Any]) -> None:
    known = set(translated["Resources"]) | set(translated.get("Parameters", {}))

    def references(value: Any) -> list[str]:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return [value["Ref"]]
            if set(value) == {"Fn::GetAtt"}:
                return [value["Fn::GetAtt"][0]]
            if set(value) == {"Fn::Sub"}:
                text = sub_string(value)
                local = set(value["Fn::Sub"][1]) if isinstance(value["Fn::Sub"], list) else set()
                names = [name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)]
                return [name for name in names if name not in local]
            return [name for item in value.values() for name in references(item)]
        if isinstance(value, list):
            return [name for item in value for name in references(item)]
        return []

    unresolved = {
        name
        for name in references(translated["Resources"]) + references(translated.get("Outputs", {}))
        if not name.startswith("AWS::") and name not in known
    }
    assert not unresolved
