"""What each function may do: its inline policy statements, exactly, and what SAM adds to its role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.sam_template import (
    DEFAULT_APPLICATION_SECRET_ARN,
    FUNCTION_CODE,
    LEDGER_INDEX,
    OTHER_APPLICATIONS_SECRETS,
    as_list,
    function_properties,
    functions,
    granted_policies,
    resources_without_allowed_wildcards,
    strings_in,
    sub_string,
)

# Powertools Idempotency (DynamoDB) reads, creates, completes and deletes records: nothing else.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# The ledger: only the API function reads entries together and writes a batch's member items (a submitted
# batch); every entry point reads and updates, and so do the status webhook (a callback's outcome), the
# reconciler (a re-drive) and the timer function (a wake-up). The outcome publisher reads its stream, not the table.
LEDGER_ACTIONS = {
    "RevokeApiFunction": [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
    ],
    "RevokeEventFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "RevokeWorkerFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "StatusWebhookFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "ReconcilerFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "RevokeTimerFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
}
# Arming a timer (any entry point may be asked to defer a revocation): its wake-up on the timer queue, or a
# schedule with the scheduler role; a replaced timer's schedule is deleted (test_timers.py has the scoping).
ARM_TIMER_ACTIONS = ["sqs:SendMessage", "scheduler:CreateSchedule", "scheduler:DeleteSchedule", "iam:PassRole"]
REDRIVE_INDEX_ARN = {"Fn::Sub": "${LedgerTable.Arn}/index/redrive-index"}
LEDGER_INDEX_ARN = {"Fn::Sub": "${LedgerTable.Arn}/index/" + LEDGER_INDEX}
# Every action each function may perform, exactly. A new permission must be added here on purpose.
# (dynamodb:GetItem several times: on the agents table, the idempotency table and the ledger.)
# The secret, and its customer-managed KMS key when VonageSecretKmsKeyArn names one (test_secret_kms_key.py).
READ_SECRET_ACTIONS = ["secretsmanager:GetSecretValue", "kms:Decrypt"]
EXPECTED_ACTIONS: dict[str, list[str]] = {
    "RevokeApiFunction": [
        *READ_SECRET_ACTIONS,
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "sqs:SendMessage",
        *LEDGER_ACTIONS["RevokeApiFunction"],
        "dynamodb:Query",
        *ARM_TIMER_ACTIONS,
    ],
    "RevokeEventFunction": [
        *READ_SECRET_ACTIONS,
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        *LEDGER_ACTIONS["RevokeEventFunction"],
        "sqs:SendMessage",
        *ARM_TIMER_ACTIONS,
    ],
    # What SAM adds for its SQS event source (receive, delete) is checked on the translation.
    "RevokeWorkerFunction": [
        *READ_SECRET_ACTIONS,
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        *LEDGER_ACTIONS["RevokeWorkerFunction"],
        "sqs:SendMessage",
        *ARM_TIMER_ACTIONS,
    ],
    # The signature secret is a field of the Vonage credentials secret; no agents, no idempotency records. A
    # delivered message's long timer: its schedule is deleted.
    "StatusWebhookFunction": [
        *READ_SECRET_ACTIONS,
        *LEDGER_ACTIONS["StatusWebhookFunction"],
        "scheduler:DeleteSchedule",
    ],
    # The only function that puts events on the bus, and its stream's OnFailure destination. What SAM adds
    # for the stream (DescribeStream, GetRecords, ...) is checked on the translation.
    "OutcomePublisherFunction": [
        "events:PutEvents",
        "sqs:SendMessage",
    ],
    # The due entries from the re-drive index, each entry read and updated, its request back on the queue (or
    # a timer whose wake-up never came woken on the timer queue).
    "ReconcilerFunction": [
        *LEDGER_ACTIONS["ReconcilerFunction"],
        "dynamodb:Query",
        "sqs:SendMessage",
        "sqs:SendMessage",
    ],
    # The worker's path for a fired timer (a rate-limited one waits on the bulk queue); a wake-up not yet due
    # goes round the timer queue. What SAM adds for its SQS event source is checked on the translation.
    "RevokeTimerFunction": [
        *READ_SECRET_ACTIONS,
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        *LEDGER_ACTIONS["RevokeTimerFunction"],
        "sqs:SendMessage",
        "sqs:SendMessage",
    ],
}
# The tables (and index) each function's statements name, with their actions.
AGENTS_ARN = {"Fn::GetAtt": ["AgentsTable", "Arn"]}
IDEMPOTENCY_ARN = {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
LEDGER_ARN = {"Fn::GetAtt": ["LedgerTable", "Arn"]}
REVOCATION_ENTRY_POINT_TABLES = [
    (AGENTS_ARN, ["dynamodb:GetItem"]),
    (IDEMPOTENCY_ARN, IDEMPOTENCY_ACTIONS),
]
TABLE_ACCESS: dict[str, list[tuple[dict[str, Any], list[str]]]] = {
    "RevokeApiFunction": [
        *REVOCATION_ENTRY_POINT_TABLES,
        (LEDGER_ARN, LEDGER_ACTIONS["RevokeApiFunction"]),
        # GET /batches/{batch_id}: a Query on the batch index only, never on the table itself.
        (LEDGER_INDEX_ARN, ["dynamodb:Query"]),
    ],
    "RevokeEventFunction": [*REVOCATION_ENTRY_POINT_TABLES, (LEDGER_ARN, LEDGER_ACTIONS["RevokeEventFunction"])],
    "RevokeWorkerFunction": [*REVOCATION_ENTRY_POINT_TABLES, (LEDGER_ARN, LEDGER_ACTIONS["RevokeWorkerFunction"])],
    "StatusWebhookFunction": [(LEDGER_ARN, LEDGER_ACTIONS["StatusWebhookFunction"])],
    # The ledger's stream only, through the managed policy SAM adds (test_sam_adds_the_event_source_policies...).
    "OutcomePublisherFunction": [],
    "ReconcilerFunction": [
        (LEDGER_ARN, LEDGER_ACTIONS["ReconcilerFunction"]),
        (REDRIVE_INDEX_ARN, ["dynamodb:Query"]),
    ],
    "RevokeTimerFunction": [*REVOCATION_ENTRY_POINT_TABLES, (LEDGER_ARN, LEDGER_ACTIONS["RevokeTimerFunction"])],
}
# Who sends what to which queue, by the function's own statements.
REVOCATION_QUEUE_ARN = {"Fn::GetAtt": ["RevocationQueue", "Arn"]}
TIMER_QUEUE_ARN = {"Fn::GetAtt": ["TimerQueue", "Arn"]}
QUEUE_ACCESS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # A batch's revocations; and every entry point: a timer's wake-up.
    "RevokeApiFunction": [("sqs:SendMessage", REVOCATION_QUEUE_ARN), ("sqs:SendMessage", TIMER_QUEUE_ARN)],
    # A request Vonage rate-limited goes back on the queue as a new message, delayed past its Retry-After.
    "RevokeWorkerFunction": [("sqs:SendMessage", REVOCATION_QUEUE_ARN), ("sqs:SendMessage", TIMER_QUEUE_ARN)],
    "RevokeEventFunction": [("sqs:SendMessage", REVOCATION_QUEUE_ARN), ("sqs:SendMessage", TIMER_QUEUE_ARN)],
    # A re-driven request goes back on the queue; a timer whose wake-up never came is woken.
    "ReconcilerFunction": [("sqs:SendMessage", REVOCATION_QUEUE_ARN), ("sqs:SendMessage", TIMER_QUEUE_ARN)],
    # A fired timer Vonage rate-limited waits on the bulk queue; a wake-up not yet due goes round again.
    "RevokeTimerFunction": [("sqs:SendMessage", REVOCATION_QUEUE_ARN), ("sqs:SendMessage", TIMER_QUEUE_ARN)],
    "StatusWebhookFunction": [],
    # The stream mapping's OnFailure destination: Lambda sends with the function's role.
    "OutcomePublisherFunction": [("sqs:SendMessage", {"Fn::GetAtt": ["OutcomePublisherFailuresQueue", "Arn"]})],
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
    for policy in granted_policies(properties.get("Policies", [])):
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
            for text in strings_in(statement["Action"]) + resources_without_allowed_wildcards(statement):
                assert "*" not in text, f"{logical_id}: {text!r}"


@pytest.mark.parametrize(
    "logical_id", sorted(f for f, actions in EXPECTED_ACTIONS.items() if "secretsmanager:GetSecretValue" in actions)
)
def test_secret_access_is_scoped_to_the_vonage_secret(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    (secret,) = [s for s in statements if as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]]
    # The default application's secret, and the other applications' under its name when there are any.
    default, others = as_list(secret["Resource"])
    assert sub_string(default) == DEFAULT_APPLICATION_SECRET_ARN
    assert others == OTHER_APPLICATIONS_SECRETS
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
    expected = {json.dumps([arn], sort_keys=True): actions for arn, actions in TABLE_ACCESS[logical_id]}
    assert by_resource == expected
    assert set(TABLE_ACCESS) == set(EXPECTED_ACTIONS)


@pytest.mark.parametrize(
    ("function_id", "index_name"), [("RevokeApiFunction", LEDGER_INDEX), ("ReconcilerFunction", "redrive-index")]
)
def test_each_queried_index_is_one_the_ledger_has(template: dict[str, Any], function_id: str, index_name: str) -> None:
    # The index ARN in the policy is a string: a renamed index would leave the Query denied.
    indexes = template["Resources"]["LedgerTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index_name in [index["IndexName"] for index in indexes]
    statements = policy_statements(function_properties(template, function_id))
    (query,) = [s for s in statements if "dynamodb:Query" in as_list(s["Action"])]
    assert sub_string(as_list(query["Resource"])[0]) == "${LedgerTable.Arn}/index/" + index_name


def test_queue_access_is_scoped_to_the_queue_each_function_uses(template: dict[str, Any]) -> None:
    assert set(QUEUE_ACCESS) == set(functions(template))
    for logical_id, expected in QUEUE_ACCESS.items():
        statements = policy_statements(function_properties(template, logical_id))
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
        # One queue per statement: no statement lets a function do to one queue what it may do to another.
        for statement in sqs:
            assert len(as_list(statement["Resource"])) == 1, logical_id
        granted = [(a, resource) for s in sqs for a in as_list(s["Action"]) for resource in as_list(s["Resource"])]
        assert granted == expected, logical_id


def test_sam_lets_each_function_send_to_its_own_queue_only(translated: dict[str, Any]) -> None:
    invoke_config = translated["Resources"]["RevokeEventFunctionEventInvokeConfig"]["Properties"]
    assert invoke_config["FunctionName"] == {"Ref": "RevokeEventFunction"}
    # The event function: its on-failure destination (added by SAM). The API function: the revocation
    # queue (its own statement), as the worker and the event function (a rate-limited request) and the
    # reconciler (a re-drive) do. The webhook sends nothing. The publisher: its stream's OnFailure
    # destination (its own statement: SAM adds none for a DynamoDB event's destination without a Type).
    # Every function that may arm or re-arm a timer also sends to the timer queue.
    expected = {
        "RevokeEventFunction": [
            {"Fn::GetAtt": ["RevokeEventFailuresQueue", "Arn"]},
            REVOCATION_QUEUE_ARN,
            TIMER_QUEUE_ARN,
        ],
        "RevokeApiFunction": [REVOCATION_QUEUE_ARN, TIMER_QUEUE_ARN],
        "RevokeWorkerFunction": [REVOCATION_QUEUE_ARN, TIMER_QUEUE_ARN],
        "StatusWebhookFunction": [],
        "OutcomePublisherFunction": [{"Fn::GetAtt": ["OutcomePublisherFailuresQueue", "Arn"]}],
        "ReconcilerFunction": [REVOCATION_QUEUE_ARN, TIMER_QUEUE_ARN],
        "RevokeTimerFunction": [REVOCATION_QUEUE_ARN, TIMER_QUEUE_ARN],
    }
    assert set(expected) == set(FUNCTION_CODE)
    for function_id, resources_sent_to in expected.items():
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        sends = [
            statement
            for policy in granted_policies(role["Policies"])
            for statement in as_list(policy["PolicyDocument"]["Statement"])
            if "sqs:SendMessage" in as_list(statement["Action"])
        ]
        assert all(as_list(statement["Action"]) == ["sqs:SendMessage"] for statement in sends), function_id
        assert [resource for s in sends for resource in as_list(s["Resource"])] == resources_sent_to, function_id


# What an event source's poller needs, inline: SAM grants it through a managed policy instead (below).
POLLER_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


def role_actions(role: dict[str, Any]) -> list[str]:
    """Every action of a generated role's inline policies."""
    return [
        action
        for policy in granted_policies(role.get("Policies", []))
        for statement in as_list(policy["PolicyDocument"]["Statement"])
        for action in as_list(statement["Action"])
    ]


def test_sam_adds_the_event_source_policies_to_their_consumers_only(translated: dict[str, Any]) -> None:
    # SAM grants the worker's and the timer function's SQS event sources receive/delete, and the publisher's
    # DynamoDB stream DescribeStream/GetRecords/GetShardIterator/ListStreams, through AWS managed policies that
    # are not scoped to the queue or the stream (Resource "*"): the unscoped grants of the stack, each on its
    # consumers only.
    base = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    event_source_policies = {
        "RevokeWorkerFunction": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "RevokeTimerFunction": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        "OutcomePublisherFunction": "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
    }
    for function_id in FUNCTION_CODE:
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        expected = [*base, event_source_policies[function_id]] if function_id in event_source_policies else base
        assert role["ManagedPolicyArns"] == expected, function_id
        # No inline poller actions either: the managed policy is all SAM adds.
        assert not POLLER_ACTIONS & set(role_actions(role)), function_id


def test_outcome_events_go_to_the_revocation_bus_only(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        statements = [s for s in policy_statements(properties) if "events:PutEvents" in as_list(s["Action"])]
        if logical_id != "OutcomePublisherFunction":
            # Outcomes are written into the ledger; its stream's publisher puts them on the bus.
            assert not statements, f"{logical_id}: only OutcomePublisherFunction puts events"
            continue
        (put_events,) = statements
        assert as_list(put_events["Action"]) == ["events:PutEvents"]
        assert as_list(put_events["Resource"]) == [EVENT_BUS_ARN]


def test_sam_lets_only_the_publisher_put_events(translated: dict[str, Any]) -> None:
    # On the translation: no role SAM generates (an EventBridge destination, a policy template) puts
    # events either.
    putting = {
        logical_id
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and "events:PutEvents" in role_actions(resource["Properties"])
    }
    assert putting == {"OutcomePublisherFunctionRole"}
