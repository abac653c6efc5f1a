"""Puts what a deployed stack would have into the moto server: tables from template.yaml, the secret, agents."""

import json
from typing import Any

import boto3

from offline.cfn_template import dynamodb_create_table_kwargs, load_template


def create_tables(endpoint_url: str, names: dict[str, str]) -> None:
    """Creates each table `{logical_id: table_name}` exactly as template.yaml defines it."""
    template = load_template()
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    for logical_id, table_name in names.items():
        client.create_table(**dynamodb_create_table_kwargs(template, logical_id, table_name))


def store_vonage_secret(endpoint_url: str, name: str, application_id: str, private_key_pem: str) -> str:
    """Creates or updates the credentials secret; returns its ARN."""
    client = boto3.client("secretsmanager", endpoint_url=endpoint_url)
    value = json.dumps({"application_id": application_id, "private_key": private_key_pem})
    try:
        response: dict[str, Any] = client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        response = client.put_secret_value(SecretId=name, SecretString=value)
    return str(response["ARN"])


def put_agent(
    endpoint_url: str, table_name: str, agent_id: str, *, region: str | None = None, country: str | None = None
) -> None:
    item: dict[str, Any] = {"agent_id": {"S": agent_id}}
    if region is not None:
        item["region"] = {"S": region}
    if country is not None:
        item["country"] = {"S": country}
    boto3.client("dynamodb", endpoint_url=endpoint_url).put_item(TableName=table_name, Item=item)


def create_event_bus(endpoint_url: str, name: str) -> None:
    boto3.client("events", endpoint_url=endpoint_url).create_event_bus(Name=name)


def subscribe_queue(endpoint_url: str, bus_name: str, queue_name: str, pattern: dict[str, Any]) -> str:
    """A queue that receives every event of `bus_name` matching `pattern`, as a subscriber would; its URL."""
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    events = boto3.client("events", endpoint_url=endpoint_url)
    queue_url = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{queue_name}-rule"
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def drain_queue(endpoint_url: str, queue_url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, parsed from JSON, deleted as read."""
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
