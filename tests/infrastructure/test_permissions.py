"""What each function may do: its inline policy statements, exactly, and what SAM adds to its role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.sam_template import (
    FUNCTION_CODE,
    LEDGER_INDEX,
    as_list,
    function_properties,
    functions,
    strings_in,
    sub_string,
)

# Powertools Idempotency (DynamoDB) reads, creates, completes and deletes records: nothing else.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# The ledger: only the API function creates entries (a submitted batch); every entry point reads and updates.
LEDGER_ACTIONS = {
    "RevokeApiFunction": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    "RevokeEventFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "RevokeWorkerFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
}
LEDGER_INDEX_ARN = {"Fn::Sub": "${LedgerTable.Arn}/index/" + LEDGER_INDEX}
# Every action each function may perform, exactly. A new permission must be added here on purpose.
# (dynamodb:GetItem several times: on the agents table, the idempotency table and the ledger.)
EXPECTED_ACTIONS: dict[str, list[str]] = {
    "RevokeApiFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        "sqs:SendMessage",
        *LEDGER_ACTIONS["RevokeApiFunction"],
        "dynamodb:Query",
    ],
    "RevokeEventFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        *LEDGER_ACTIONS["RevokeEventFunction"],
    ],
    # What SAM adds for its SQS event source (receive, delete) is checked on the translation.
    "RevokeWorkerFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        *LEDGER_ACTIONS["RevokeWorkerFunction"],
        "sqs:ChangeMessageVisibility",
    ],
}
EVENT_BUS_ARN = {
    "Fn::If": [
        "CreateEventBus",
        {"Fn::GetAtt": ["RevocationEventBus", "Arn"]},
        {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"},
    ]
}


def policy_statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        # Strings are managed policies and {"DynamoDBCrudPolicy": ...} are SAM policy templates: both
        # grant more than the function needs.
        assert isinstance(policy, dict), f"managed policy {policy!r}: use an inline statement"
        assert "Statement" in policy, f"SAM policy template {sorted(policy)}: use an inline statement"
        statements.extend(as_list(policy["Statement"]))
    return statements


def test_functions_have_exactly_the_expected_actions(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        assert logical_id in EXPECTED_ACTIONS, f"{logical_id}: list its permissions in EXPECTED_ACTIONS"
        statements = policy_statements(properties)
        actions = [action for statement in statements for action in as_list(statement["Action"])]
        assert sorted(actions) == sorted(EXPECTED_ACTIONS[logical_id]), logical_id
        assert all(statement["Effect"] == "Allow" for statement in statements)
        assert "Role" not in properties, f"{logical_id}: a hand-made role escapes these checks"
    assert set(EXPECTED_ACTIONS) == set(functions(template)), "EXPECTED_ACTIONS lists a function that is gone"


def test_no_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        for statement in policy_statements(properties):
            assert "NotAction" not in statement, logical_id
            assert "NotResource" not in statement, logical_id
            for text in strings_in(statement["Action"]) + strings_in(statement["Resource"]):
                assert "*" not in text, f"{logical_id}: {text!r}"


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_secret_access_is_scoped_to_the_vonage_secret(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    (secret,) = [s for s in statements if as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]]
    (resource,) = as_list(secret["Resource"])
    assert sub_string(resource) == (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${VonageSecretName}-??????"
    )
    parameter = template["Parameters"]["VonageSecretName"]
    assert parameter["Type"] == "String"
    assert parameter["MinLength"] == 1


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_table_access_is_scoped_per_table(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    by_resource = {json.dumps(as_list(s["Resource"]), sort_keys=True): as_list(s["Action"]) for s in dynamodb}
    assert len(by_resource) == len(dynamodb), "one statement per table (or index)"
    # Agents are looked up by key only; idempotency records get exactly what Powertools does with them;
    # ledger entries are read and updated (created by the API function only).
    expected = {
        json.dumps([{"Fn::GetAtt": ["AgentsTable", "Arn"]}]): ["dynamodb:GetItem"],
        json.dumps([{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]): IDEMPOTENCY_ACTIONS,
        json.dumps([{"Fn::GetAtt": ["LedgerTable", "Arn"]}]): LEDGER_ACTIONS[logical_id],
    }
    if logical_id == "RevokeApiFunction":
        # GET /batches/{batch_id}: a Query on the batch index only, never on the table itself.
        expected[json.dumps([LEDGER_INDEX_ARN])] = ["dynamodb:Query"]
    assert by_resource == expected


def test_the_queried_index_is_the_ledgers_batch_index(template: dict[str, Any]) -> None:
    # The index ARN in the policy is a string: a renamed index would leave the Query denied.
    (index,) = template["Resources"]["LedgerTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    statements = policy_statements(function_properties(template, "RevokeApiFunction"))
    (query,) = [s for s in statements if "dynamodb:Query" in as_list(s["Action"])]
    assert sub_string(as_list(query["Resource"])[0]) == "${LedgerTable.Arn}/index/" + index["IndexName"]


def test_queue_access_is_scoped_to_the_revocation_queue(template: dict[str, Any]) -> None:
    expected = {
        "RevokeApiFunction": ["sqs:SendMessage"],
        # A message Vonage rate-limited is delayed by its Retry-After.
        "RevokeWorkerFunction": ["sqs:ChangeMessageVisibility"],
        "RevokeEventFunction": [],
    }
    for logical_id, actions in expected.items():
        statements = policy_statements(function_properties(template, logical_id))
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
        assert [a for s in sqs for a in as_list(s["Action"])] == actions, logical_id
        for statement in sqs:
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["RevocationQueue", "Arn"]}], logical_id


def test_sam_lets_each_function_send_to_its_own_queue_only(translated: dict[str, Any]) -> None:
    invoke_config = translated["Resources"]["RevokeEventFunctionEventInvokeConfig"]["Properties"]
    assert invoke_config["FunctionName"] == {"Ref": "RevokeEventFunction"}
    # The event function: its on-failure destination (added by SAM). The API function: the revocation
    # queue (its own statement). The worker consumes, never sends (its failures are redriven by SQS).
    expected = {
        "RevokeEventFunction": [{"Fn::GetAtt": ["RevokeEventFailuresQueue", "Arn"]}],
        "RevokeApiFunction": [{"Fn::GetAtt": ["RevocationQueue", "Arn"]}],
        "RevokeWorkerFunction": [],
    }
    for function_id, resources_sent_to in expected.items():
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        sends = [
            statement
            for policy in role["Policies"]
            for statement in as_list(policy["PolicyDocument"]["Statement"])
            if "sqs:SendMessage" in as_list(statement["Action"])
        ]
        assert all(as_list(statement["Action"]) == ["sqs:SendMessage"] for statement in sends), function_id
        assert [resource for s in sends for resource in as_list(s["Resource"])] == resources_sent_to, function_id


def test_sam_adds_the_sqs_execution_policy_to_the_worker_only(translated: dict[str, Any]) -> None:
    # SAM grants the worker's SQS event source receive/delete through this AWS managed policy, which is not
    # scoped to the queue (Resource "*"): the one unscoped grant of the stack, and it must stay the only one.
    base = [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    ]
    sqs_policy = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    for function_id in FUNCTION_CODE:
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        expected = [*base, sqs_policy] if function_id == "RevokeWorkerFunction" else base
        assert role["ManagedPolicyArns"] == expected, function_id
        # No inline sqs:ReceiveMessage/DeleteMessage either: the managed policy is all SAM adds.
        actions = [
            a for p in role["Policies"] for s in as_list(p["PolicyDocument"]["Statement"]) for a in as_list(s["Action"])
        ]
        assert "sqs:ReceiveMessage" not in actions, function_id
        assert "sqs:DeleteMessage" not in actions, function_id


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_outcome_events_go_to_the_revocation_bus_only(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    (put_events,) = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert as_list(put_events["Action"]) == ["events:PutEvents"]
    assert as_list(put_events["Resource"]) == [EVENT_BUS_ARN]
