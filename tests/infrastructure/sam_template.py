"""How the template tests read template.yaml, and the names more than one of them checks.

The template is read through offline.cfn_template, the same reader the offline stack uses, so the tests
check the very document that is deployed. SAM Globals are merged in where SAM would merge them. What SAM
itself generates (the EventBridge rule, the destination permission, the event source mappings of the queue and
of the ledger's stream and their managed policies, the API definition) is checked on SAM's own translation of
the template (the `translated` fixture of conftest.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

from offline.cfn_template import DEFAULT_TEMPLATE

REPO_ROOT = DEFAULT_TEMPLATE.parent

# Each function's code directory and name; handler.lambda_handler must be defined there.
FUNCTION_CODE = {
    "RevokeApiFunction": ("functions/revoke_api/", "${AWS::StackName}-revoke-api"),
    "RevokeEventFunction": ("functions/revoke_event/", "${AWS::StackName}-revoke-event"),
    "RevokeWorkerFunction": ("functions/revoke_worker/", "${AWS::StackName}-revoke-worker"),
    "StatusWebhookFunction": ("functions/status_webhook/", "${AWS::StackName}-status-webhook"),
    "OutcomePublisherFunction": ("functions/outcome_publisher/", "${AWS::StackName}-outcome-publisher"),
    "ReconcilerFunction": ("functions/reconciler/", "${AWS::StackName}-reconciler"),
    "RevokeTimerFunction": ("functions/revoke_timer/", "${AWS::StackName}-revoke-timer"),
}
# The bus the revocation rule listens on and the outcome publisher puts on: the one the stack creates, or the
# one the EventBusName parameter names.
EVENT_BUS_NAME = {"Fn::If": ["CreateEventBus", {"Ref": "RevocationEventBus"}, {"Ref": "EventBusName"}]}
# Queues whose every message is a failure (each alarms on its first message): a revocation that failed, or
# ledger changes whose outcome events could not be published, or a timer that could not fire. And the work queues.
FAILURE_QUEUES = {
    "RevocationRequestsDeadLetterQueue",
    "RevokeEventFailuresQueue",
    "RevocationQueueDeadLetterQueue",
    "OutcomePublisherFailuresQueue",
    "TimerDeadLetterQueue",
}
WORK_QUEUES = {"RevocationQueue", "TimerQueue"}
# The one route without SigV4, and the function behind it: Vonage cannot sign its callbacks with SigV4, so
# the function verifies Vonage's own signature (an HS256 JWT). Written here, not read from
# rcs_revoker.api.routes: another unsigned route is a change of the attack surface, made here on purpose.
UNSIGNED_ROUTES = {("POST", "/webhooks/vonage/status"): "StatusWebhookFunction"}
# The publisher's trigger: the ledger's stream (SAM names the mapping <function logical id><event name>).
PUBLISHER_EVENT = ("OutcomePublisherFunction", "LedgerChanges")
# The ledger's index for the batch view (GET /batches/{batch_id}).
LEDGER_INDEX = "batch_id-index"
# The schedule group of the timers' schedules, and every schedule in it: the one resource of the stack's policies
# with a "*", since the functions name each schedule at run time (one per timer).
TIMER_SCHEDULE_GROUP_NAME = "${AWS::StackName}-timers"
TIMER_SCHEDULES_ARN = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/" + TIMER_SCHEDULE_GROUP_NAME + "/*"
)


def sam_translate(parameters: Mapping[str, str] | None = None) -> str:
    """SAM's translation of template.yaml (tools/sam_translate.py in .venv-sam) as JSON text, with these
    parameter values (a CommaDelimitedList's comma-separated) and the defaults for the others."""
    sam_python = REPO_ROOT / ".venv-sam" / "bin" / "python"
    if not sam_python.exists():
        pytest.fail("the SAM CLI environment (.venv-sam) is not set up: run make setup")
    pairs = [f"{name}={value}" for name, value in (parameters or {}).items()]
    result = subprocess.run(
        [str(sam_python), str(REPO_ROOT / "tools" / "sam_translate.py"), str(DEFAULT_TEMPLATE), *pairs],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def granted_policies(policies: list[Any]) -> list[Any]:
    """A function's or role's policies with those granted under a condition (`Fn::If` [condition, policy,
    AWS::NoValue]) taken as granted: what the widest deployment holds, so that every check covers them too."""
    unwrapped = []
    for policy in policies:
        if isinstance(policy, dict) and "Fn::If" in policy:
            _, granted, otherwise = policy["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, "a conditional policy is granted or not, never swapped"
            unwrapped.append(granted)
        else:
            unwrapped.append(policy)
    return unwrapped


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def strings_in(value: Any) -> list[str]:
    """Every string inside a value, intrinsic functions included (for the '*' checks)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *strings_in(item)]]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def is_timer_schedules_grant(statement: dict[str, Any]) -> bool:
    """A statement of Scheduler actions on the timers group's schedules, and on nothing else: its "*" is allowed."""
    actions = as_list(statement["Action"])
    return (
        bool(actions)
        and all(isinstance(action, str) and action.startswith("scheduler:") for action in actions)
        and as_list(statement["Resource"]) == [{"Fn::Sub": TIMER_SCHEDULES_ARN}]
    )


SECRET_ARN_PREFIX = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
# The credentials secret of the default Vonage application (Secrets Manager appends 6 characters to a name) ...
DEFAULT_APPLICATION_SECRET_ARN = SECRET_ARN_PREFIX + "${VonageSecretName}-??????"
# ... and those of the other applications (VonageApplications), under its name: the one "*" a grant may have.
OTHER_APPLICATIONS_SECRETS_ARN = SECRET_ARN_PREFIX + "${VonageSecretName}/*"
OTHER_APPLICATIONS_SECRETS = {
    "Fn::If": ["ServesOtherApplications", {"Fn::Sub": OTHER_APPLICATIONS_SECRETS_ARN}, {"Ref": "AWS::NoValue"}]
}


def resources_without_allowed_wildcards(statement: dict[str, Any]) -> list[str]:
    """The resource strings of a statement that must not hold a "*": all but those of the two grants named at run
    time, Scheduler actions on the timers group's schedules and the other Vonage applications' secrets."""
    if is_timer_schedules_grant(statement):
        return []
    return strings_in([r for r in as_list(statement["Resource"]) if r != OTHER_APPLICATIONS_SECRETS])


def emitted_metrics() -> set[str]:
    """The names of the EMF metrics the service's code emits (its `count` and `milliseconds` calls)."""
    code = "\n".join(path.read_text() for path in (REPO_ROOT / "layers" / "revoker" / "python").rglob("*.py"))
    return set(re.findall(r'(?:count|milliseconds)\(\s*"([A-Za-z]+)"', code))


def live_alias(function_id: str) -> str:
    """The logical id of the alias SAM makes for a function (Globals' AutoPublishAlias: live): what every
    trigger invokes, so that SnapStart's snapshot of the published version serves it."""
    return f"{function_id}Aliaslive"


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge key by key (the resource wins), lists are concatenated."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    global_properties = template.get("Globals", {}).get("Function", {})
    properties = template["Resources"][logical_id]["Properties"]
    merged: dict[str, Any] = merge_globals(global_properties, properties)
    return merged


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {
        logical_id: function_properties(template, logical_id)
        for logical_id in resources(template, "AWS::Serverless::Function")
    }
    assert found, "the template defines no AWS::Serverless::Function"
    return found


def sub_string(value: Any) -> str:
    """The template string of a !Sub (short or list form); fails on anything else."""
    assert isinstance(value, dict), f"expected !Sub, got {value!r}"
    assert set(value) == {"Fn::Sub"}, f"expected !Sub, got {value!r}"
    sub = value["Fn::Sub"]
    text = sub[0] if isinstance(sub, list) else sub
    assert isinstance(text, str)
    return text


def api_routes(template: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(METHOD, path, function, event id, event properties) of every Api event."""
    return [
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id, name, event["Properties"])
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] == "Api"
    ]
