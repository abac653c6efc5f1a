"""moto server's own answer time per AWS call: what explains most of the gap between the service's rows."""

import statistics
import time
import uuid
from typing import Any

import boto3

from bench.stack import SECRET_NAME, TemplateStack
from bench.stats import percentile


def moto_latency(endpoint_url: str, template: TemplateStack, calls: int = 200) -> dict[str, Any]:
    """moto server's own answer time per call, from this process (boto3, same config as any client)."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    events = boto3.client("events", endpoint_url=endpoint_url)
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint_url)
    table = template.created.get("IdempotencyTable") or next(
        (name for logical, name in template.created.items() if template._type(logical) == "AWS::DynamoDB::Table"),
        None,
    )
    bus = next(
        (name for logical, name in template.created.items() if template._type(logical) == "AWS::Events::EventBus"),
        "default",
    )
    key_attribute = "id"
    if table is not None:
        key_attribute = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"][0]["AttributeName"]

    def timed(call: Any) -> dict[str, float]:
        for _ in range(10):
            call()
        samples = []
        for _ in range(calls):
            before = time.perf_counter()
            call()
            samples.append((time.perf_counter() - before) * 1000)
        return {"median": round(statistics.median(samples), 2), "p90": round(percentile(samples, 0.9), 2)}

    result: dict[str, Any] = {"calls_each": calls}
    if table is not None:
        result["dynamodb_get_item"] = timed(
            lambda: dynamodb.get_item(TableName=table, Key={key_attribute: {"S": str(uuid.uuid4())}})
        )
        result["dynamodb_put_item"] = timed(
            lambda: dynamodb.put_item(TableName=table, Item={key_attribute: {"S": str(uuid.uuid4())}})
        )
        # An update expression of the size the service's writes use (moto parses each one: it costs).
        result["dynamodb_update_item"] = timed(
            lambda: dynamodb.update_item(
                TableName=table,
                Key={key_attribute: {"S": str(uuid.uuid4())}},
                UpdateExpression="SET #s = :s, attempts = if_not_exists(attempts, :zero) + :one, "
                "created_at = if_not_exists(created_at, :now), updated_at = :now REMOVE last_error",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":s": {"S": "requested"},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":now": {"S": "2026-11-26T09:30:00+00:00"},
                },
            )
        )
    entry = {"Source": "bench", "DetailType": "bench", "Detail": "{}", "EventBusName": bus}
    result["events_put_events"] = timed(lambda: events.put_events(Entries=[entry]))
    result["secretsmanager_get_secret_value"] = timed(lambda: secrets.get_secret_value(SecretId=SECRET_NAME))
    return result
