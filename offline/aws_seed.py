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
