"""Read ``template.yaml`` the way CloudFormation does, so tests and the offline stack never drift from it.

The template is the single source of truth for table keys, indexes and TTL attributes: tests and the
offline stack build their moto tables from it instead of repeating the definitions by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

# Short-form tag -> long-form key. !Ref and !Condition keep their bare names; the rest are "Fn::<name>".
_TAGS: dict[str, str] = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub",
            "GetAtt",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "Join",
            "Select",
            "Split",
            "FindInMap",
            "ImportValue",
            "Base64",
            "GetAZs",
            "Cidr",
        )
    },
}


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml ships no type stubs
    """A SafeLoader that turns CloudFormation short-form tags into their long (JSON) form."""


def _construct(loader: yaml.SafeLoader, node: yaml.Node, key: str) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if key == "Fn::GetAtt":
            # "Resource.Attribute" -> ["Resource", "Attribute"]; the attribute may itself contain dots.
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


def _register(tag: str, key: str) -> None:
    def constructor(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        return _construct(loader, node, key)

    CloudFormationLoader.add_constructor(f"!{tag}", constructor)


for _tag, _key in _TAGS.items():
    _register(_tag, _key)


def load_template(path: str | Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template, short-form intrinsic functions included."""
    with Path(path).open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        msg = f"{path}: a template must be a mapping, got {type(document).__name__}"
        raise TypeError(msg)
    return document


def _table_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
        msg = f"{logical_id} is not an AWS::DynamoDB::Table in the template"
        raise KeyError(msg)
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def _plain_index(index: dict[str, Any]) -> dict[str, Any]:
    """Keep what boto3's create_table accepts for a global secondary index (drops e.g. Contributor Insights)."""
    keep = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
    return {key: index[key] for key in keep if key in index}


def dynamodb_create_table_kwargs(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """boto3 ``create_table`` keyword arguments for the template's table ``logical_id``, named ``table_name``."""
    properties = _table_properties(template, logical_id)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": [dict(key) for key in properties["KeySchema"]],
        "AttributeDefinitions": [dict(attribute) for attribute in properties["AttributeDefinitions"]],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if kwargs["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" in properties:
        kwargs["ProvisionedThroughput"] = dict(properties["ProvisionedThroughput"])
    indexes = properties.get("GlobalSecondaryIndexes") or []
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = [_plain_index(index) for index in indexes]
    # CloudFormation's StreamSpecification names the view type only; the API also wants StreamEnabled.
    stream = properties.get("StreamSpecification")
    if isinstance(stream, dict) and stream.get("StreamViewType"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": str(stream["StreamViewType"])}
    return kwargs


def dynamodb_ttl_attribute(template: dict[str, Any], logical_id: str) -> str | None:
    """The table's TTL attribute name, or None when TTL is not enabled in the template."""
    spec = _table_properties(template, logical_id).get("TimeToLiveSpecification")
    if not isinstance(spec, dict) or str(spec.get("Enabled")).lower() != "true":
        return None
    name = spec.get("AttributeName")
    return str(name) if name else None
