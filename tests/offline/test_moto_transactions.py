"""offline/moto_main.py's TransactWriteItems: every condition checked before anything is written (moto's own
check, without moto's copy of the whole table per item): all written, or none with the reasons DynamoDB gives;
and the table's stream sees each write with its old image, as the outcome publisher needs."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from offline.moto_server import MotoServer

TABLE = "transactions"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with MotoServer() as moto:
        client = boto3.client(
            "dynamodb",
            endpoint_url=moto.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield client


def update(key: str, version: int | None) -> dict[str, Any]:
    condition = "attribute_not_exists(k)" if version is None else "v = :expected"
    values: dict[str, Any] = {":v": {"N": str((version or 0) + 1)}}
    if version is not None:
        values[":expected"] = {"N": str(version)}
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"k": {"S": key}},
            "UpdateExpression": "SET v = :v",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def version(dynamodb: Any, key: str) -> int | None:
    item = dynamodb.get_item(TableName=TABLE, Key={"k": {"S": key}}, ConsistentRead=True).get("Item")
    return int(item["v"]["N"]) if item else None


def test_a_transaction_whose_conditions_all_hold_writes_every_item(dynamodb: Any) -> None:
    keys = [str(uuid.uuid4()) for _ in range(100)]
    dynamodb.transact_write_items(TransactItems=[update(key, None) for key in keys])
    assert {version(dynamodb, key) for key in keys} == {1}


def test_one_failed_condition_cancels_the_transaction_with_every_reason_and_writes_nothing(dynamodb: Any) -> None:
    existing, new = str(uuid.uuid4()), str(uuid.uuid4())
    dynamodb.transact_write_items(TransactItems=[update(existing, None)])

    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[update(new, None), update(existing, None)])

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = raised.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["v"] == {"N": "1"}  # ReturnValuesOnConditionCheckFailure
    assert (version(dynamodb, new), version(dynamodb, existing)) == (None, 1)


def test_the_stream_sees_a_transaction_s_writes_with_their_old_images(dynamodb: Any) -> None:
    key = str(uuid.uuid4())
    dynamodb.transact_write_items(TransactItems=[update(key, None)])
    dynamodb.transact_write_items(TransactItems=[update(key, 1)])

    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=dynamodb.meta.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    mine = [r["dynamodb"] for r in records if r["dynamodb"]["Keys"]["k"]["S"] == key]
    images = [(r.get("OldImage", {}).get("v"), r["NewImage"].get("v")) for r in mine]
    # (moto's UpdateItem that creates an item also streams the bare key first, as outside transactions.)
    assert (None, {"N": "1"}) in images
    assert images[-1] == ({"N": "1"}, {"N": "2"})
