"""The DynamoDB tables (agents, idempotency, ledger): keys, index, TTL, stream, billing, recovery, encryption,
retention; and the tables the tests and the offline stack create from them (offline.cfn_template), as DynamoDB
accepts them."""

from __future__ import annotations

from typing import Any

import pytest

from offline.cfn_template import dynamodb_create_table_kwargs, dynamodb_ttl_attribute
from tests.infrastructure.sam_template import LEDGER_INDEX, resources


def test_ledger_table_keys_index_and_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["LedgerTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "batch_id", "AttributeType": "S"},
        {"AttributeName": "message_uuid", "AttributeType": "S"},
        {"AttributeName": "redrive_at", "AttributeType": "N"},
        {"AttributeName": "redrive_shard", "AttributeType": "S"},
    ]
    index, redrive = properties["GlobalSecondaryIndexes"]
    # The reconciler's: the due entries' keys, by shard and time.
    assert redrive == {
        "IndexName": "redrive-index",
        "KeySchema": [
            {"AttributeName": "redrive_shard", "KeyType": "HASH"},
            {"AttributeName": "redrive_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
    assert index["IndexName"] == LEDGER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "batch_id", "KeyType": "HASH"},
        {"AttributeName": "message_uuid", "KeyType": "RANGE"},
    ]
    # What the batch view shows, and nothing more: every ledger write is also written to the index.
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(index["Projection"]["NonKeyAttributes"]) == ["attempts", "last_error", "state"]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert dynamodb_ttl_attribute(template, "LedgerTable") == "expires_at"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in index
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # The record of what was revoked outlives the stack and a replacement.
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_ledger_streams_every_change_with_both_images(template: dict[str, Any]) -> None:
    # The outbox: OutcomePublisherFunction reads what a change carries from the entry before and after it.
    properties = template["Resources"]["LedgerTable"]["Properties"]
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    # The ledger's is the only stream of the stack (test_outcome_publisher.py: its one consumer).
    streams = [
        i for i, t in resources(template, "AWS::DynamoDB::Table").items() if "StreamSpecification" in t["Properties"]
    ]
    assert streams == ["LedgerTable"]


def test_tables_are_on_demand_encrypted_recoverable_and_kept_as_needed(template: dict[str, Any]) -> None:
    # Agent configuration is not rebuilt by a deployment; idempotency records expire within a day anyway;
    # the ledger is the record of what was revoked (its TTL cleans it).
    expected_policy = {"AgentsTable": "Retain", "IdempotencyTable": "Delete", "LedgerTable": "Retain"}
    tables = resources(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(expected_policy)
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        # Point-in-time recovery where the data outlives a day; the idempotency table's lives 25 hours.
        recoverable = logical_id != "IdempotencyTable"
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is recoverable
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert table["DeletionPolicy"] == expected_policy[logical_id], logical_id
        assert table["UpdateReplacePolicy"] == expected_policy[logical_id], logical_id


def test_create_table_kwargs_match_the_template(template: dict[str, Any]) -> None:
    kwargs = dynamodb_create_table_kwargs(template, "AgentsTable", "agents-test")
    assert kwargs == {
        "TableName": "agents-test",
        "KeySchema": [{"AttributeName": "agent_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "agent_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert dynamodb_ttl_attribute(template, "AgentsTable") is None


def test_idempotency_table_has_powertools_key_and_ttl(template: dict[str, Any]) -> None:
    # Powertools' DynamoDBPersistenceLayer defaults: key attribute "id", expiry attribute "expiration".
    kwargs = dynamodb_create_table_kwargs(template, "IdempotencyTable", "idempotency-test")
    assert kwargs == {
        "TableName": "idempotency-test",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert dynamodb_ttl_attribute(template, "IdempotencyTable") == "expiration"


def test_ledger_create_table_kwargs_include_the_batch_index(template: dict[str, Any]) -> None:
    kwargs = dynamodb_create_table_kwargs(template, "LedgerTable", "ledger-test")
    assert kwargs["TableName"] == "ledger-test"
    assert kwargs["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": LEDGER_INDEX,
            "KeySchema": [
                {"AttributeName": "batch_id", "KeyType": "HASH"},
                {"AttributeName": "message_uuid", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state", "last_error", "attempts"]},
        },
        {
            "IndexName": "redrive-index",
            "KeySchema": [
                {"AttributeName": "redrive_shard", "KeyType": "HASH"},
                {"AttributeName": "redrive_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
    ]
    # The offline stack's ledger streams its changes as the deployed one does.
    assert kwargs["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_ledger_create_table_kwargs_are_accepted_by_dynamodb(template: dict[str, Any]) -> None:
    import boto3
    import moto

    with moto.mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(**dynamodb_create_table_kwargs(template, "LedgerTable", "ledger"))
        described = client.describe_table(TableName="ledger")["Table"]
        # The batch view's query works on the index as created.
        client.put_item(
            TableName="ledger",
            Item={"message_uuid": {"S": "m-1"}, "batch_id": {"S": "b-1"}, "state": {"S": "revoked"}},
        )
        client.put_item(TableName="ledger", Item={"message_uuid": {"S": "m-2"}, "state": {"S": "revoked"}})
        items = client.query(
            TableName="ledger",
            IndexName=LEDGER_INDEX,
            KeyConditionExpression="batch_id = :batch",
            ExpressionAttributeValues={":batch": {"S": "b-1"}},
        )["Items"]
    assert described["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    index, redrive = described["GlobalSecondaryIndexes"]
    assert redrive["IndexName"] == "redrive-index"
    assert index["IndexName"] == LEDGER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "batch_id", "KeyType": "HASH"},
        {"AttributeName": "message_uuid", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert described["LatestStreamArn"].startswith(described["TableArn"] + "/stream/")
    # Sparse: the entry without a batch_id is not in the index.
    assert [item["message_uuid"]["S"] for item in items] == ["m-1"]


@pytest.mark.parametrize(("logical_id", "key"), [("AgentsTable", "agent_id"), ("IdempotencyTable", "id")])
def test_create_table_kwargs_are_accepted_by_dynamodb(template: dict[str, Any], logical_id: str, key: str) -> None:
    import boto3
    import moto

    with moto.mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(**dynamodb_create_table_kwargs(template, logical_id, "table"))
        described = client.describe_table(TableName="table")["Table"]
    assert described["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
