"""Puts what a deployed stack would have into the moto server: tables from template.yaml, the secret, agents."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3

from offline.cfn_template import DEFAULT_TEMPLATE, dynamodb_create_table_kwargs, load_template


@cache
def _client(service_name: str, endpoint_url: str) -> Any:
    return boto3.client(service_name, endpoint_url=endpoint_url)


def create_tables(endpoint_url: str, names: dict[str, str], template_path: str | Path = DEFAULT_TEMPLATE) -> None:
    """Creates each table `{logical_id: table_name}` exactly as the template (template.yaml) defines it, its
    stream (StreamSpecification) included."""
    template = load_template(template_path)
    client = _client("dynamodb", endpoint_url)
    for logical_id, table_name in names.items():
        client.create_table(**dynamodb_create_table_kwargs(template, logical_id, table_name))


def store_vonage_secret(
    endpoint_url: str,
    name: str,
    application_id: str,
    private_key_pem: str,
    *,
    signature_secret: str | None = None,
    api_key: str | None = None,
) -> str:
    """Creates or updates the credentials secret (with the webhook's signature secret and api key when
    given); returns its ARN."""
    client = _client("secretsmanager", endpoint_url)
    fields = {"application_id": application_id, "private_key": private_key_pem}
    if signature_secret is not None:
        fields["signature_secret"] = signature_secret
    if api_key is not None:
        fields["api_key"] = api_key
    value = json.dumps(fields)
    try:
        response: dict[str, Any] = client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        response = client.put_secret_value(SecretId=name, SecretString=value)
    return str(response["ARN"])


def put_agent(
    endpoint_url: str,
    table_name: str,
    agent_id: str,
    *,
    region: str | None = None,
    country: str | None = None,
    application: str | None = None,
) -> None:
    item: dict[str, Any] = {"agent_id": {"S": agent_id}}
    for name, value in (("region", region), ("country", country), ("application", application)):
        if value is not None:
            item[name] = {"S": value}
    _client("dynamodb", endpoint_url).put_item(TableName=table_name, Item=item)


def create_event_bus(endpoint_url: str, name: str) -> None:
    _client("events", endpoint_url).create_event_bus(Name=name)


def subscribe_queue(endpoint_url: str, bus_name: str, queue_name: str, pattern: dict[str, Any]) -> str:
    """A queue that receives every event of `bus_name` matching `pattern`, as a subscriber would; its URL."""
    sqs = _client("sqs", endpoint_url)
    events = _client("events", endpoint_url)
    queue_url = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"{queue_name}-rule"
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def drain_queue(endpoint_url: str, queue_url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, parsed from JSON, deleted as read."""
    sqs = _client("sqs", endpoint_url)
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


def create_revocation_queue(endpoint_url: str, name: str, *, max_receive_count: int) -> tuple[str, str]:
    """The bulk queue with its dead-letter queue and redrive policy, as template.yaml declares them;
    returns (queue URL, dead-letter queue URL)."""
    sqs = _client("sqs", endpoint_url)
    dlq_url = str(sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = str(
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "180", "RedrivePolicy": redrive})["QueueUrl"]
    )
    return queue_url, dlq_url


@dataclass(frozen=True)
class TimerResources:
    """What template.yaml declares for the timers: the queue, its dead-letter queue, the schedule group and
    the role Scheduler assumes, as the functions' TIMER_* environment names them."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    schedule_group: str
    scheduler_role_arn: str

    def environment(self) -> dict[str, str]:
        return {
            "TIMER_QUEUE_URL": self.queue_url,
            "TIMER_QUEUE_ARN": self.queue_arn,
            "TIMER_DEAD_LETTER_QUEUE_ARN": self.dead_letter_queue_arn,
            "TIMER_SCHEDULE_GROUP": self.schedule_group,
            "TIMER_SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
        }


def create_timer_resources(endpoint_url: str, name: str, *, max_receive_count: int) -> TimerResources:
    """The timer queue (with its dead-letter queue) and the schedule group of the deferred revocations."""
    queue_url, dlq_url = create_revocation_queue(endpoint_url, name, max_receive_count=max_receive_count)
    sqs = _client("sqs", endpoint_url)
    arns = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in (queue_url, dlq_url)
    ]
    group = f"{name}-timers"
    _client("scheduler", endpoint_url).create_schedule_group(Name=group)
    role_arn = f"arn:aws:iam::123456789012:role/{name}-scheduler"  # moto does not assume it
    return TimerResources(queue_url, arns[0], dlq_url, arns[1], group, role_arn)
