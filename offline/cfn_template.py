"""Read ``template.yaml`` the way CloudFormation does, so tests and the offline stack never drift from it.

The template is the single source of truth for table keys, indexes and TTL attributes: tests and the
offline stack build their moto tables from it instead of repeating the definitions by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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


# --- Functions and their API routes, for the local API (offline/local_api.py) --------------------------------
# Lambda's default when neither the function nor Globals sets Timeout / MemorySize.
_DEFAULT_TIMEOUT_S = 3
_DEFAULT_MEMORY_MB = 128
# What SAM names the API it creates for Api events without a RestApiId, and that API's stage.
IMPLICIT_API_ID = "ServerlessRestApi"
_IMPLICIT_API_STAGE = "Prod"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class FunctionSpec:
    """An AWS::Serverless::Function as a local run needs it: where its handler is and its limits."""

    logical_id: str
    function_name: str
    module: str  # CodeUri + the Handler's module: functions/revoke_api/ + handler.x -> functions.revoke_api.handler
    attribute: str  # the Handler's function: lambda_handler
    timeout_s: float
    memory_mb: int


@dataclass(frozen=True)
class ApiRoute:
    """One `Type: Api` event of a function: API Gateway (REST) invokes `function` for `method` on `path`."""

    function: FunctionSpec
    event_id: str
    method: str  # upper case; ANY for every method
    path: str  # the resource, with {param} and {param+} templates
    api_id: str  # the RestApiId's logical id, or SAM's implicit API
    stage: str
    authorizer: str  # AWS_IAM, NONE, or the name of an authorizer of the API


def _pseudo_parameters(stack_name: str) -> dict[str, str]:
    return {"AWS::StackName": stack_name, "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}


def _resolve(value: Any, template: dict[str, Any], pseudo: dict[str, str]) -> Any:
    """A property's value with Ref (to a parameter's Default or a pseudo parameter) and the string form of
    Fn::Sub resolved; None when it refers to anything else (a resource, a condition...)."""
    if not isinstance(value, dict):
        return value
    parameters = template.get("Parameters") or {}

    def lookup(name: str) -> Any:
        if name in pseudo:
            return pseudo[name]
        parameter = parameters.get(name)
        return parameter.get("Default") if isinstance(parameter, dict) else None

    if set(value) == {"Ref"}:
        return lookup(str(value["Ref"]))
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        resolved = {name: lookup(name) for name in _SUB_VARIABLE.findall(value["Fn::Sub"])}
        if any(found is None for found in resolved.values()):
            return None
        return _SUB_VARIABLE.sub(lambda match: str(resolved[match.group(1)]), value["Fn::Sub"])
    return None


def _handler_location(logical_id: str, properties: dict[str, Any]) -> tuple[str, str]:
    code_uri, handler = properties.get("CodeUri"), properties.get("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        msg = f"{logical_id}: a local run needs a CodeUri folder and a Handler module.function"
        raise ValueError(msg)
    module, _, attribute = handler.rpartition(".")
    package = [part for part in PurePosixPath(code_uri).parts if part not in ("", ".")]
    return ".".join([*package, module]), attribute


def serverless_functions(template: dict[str, Any], *, stack_name: str = "rcs-revoker") -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of the template, Globals.Function applied, by logical id.

    The handler's module is its CodeUri (relative to the template's folder, which must be on sys.path, as the
    repository root is) joined to the Handler's module, the way the tests import the handlers."""
    pseudo = _pseudo_parameters(stack_name)
    defaults = template.get("Globals", {}).get("Function", {}) or {}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **(resource.get("Properties") or {})}
        module, attribute = _handler_location(logical_id, properties)
        name = _resolve(properties.get("FunctionName"), template, pseudo)
        timeout = _resolve(properties.get("Timeout", _DEFAULT_TIMEOUT_S), template, pseudo)
        memory = _resolve(properties.get("MemorySize", _DEFAULT_MEMORY_MB), template, pseudo)
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            function_name=str(name) if name else logical_id,
            module=module,
            attribute=attribute,
            timeout_s=float(timeout if timeout is not None else _DEFAULT_TIMEOUT_S),
            memory_mb=int(memory if memory is not None else _DEFAULT_MEMORY_MB),
        )
    return functions


def rest_api_properties(template: dict[str, Any], api_id: str) -> dict[str, Any]:
    """The Properties of the AWS::Serverless::Api `api_id` (Globals.Api applied); {} for SAM's implicit API."""
    defaults = template.get("Globals", {}).get("Api", {}) or {}
    resource = template.get("Resources", {}).get(api_id)
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Api":
        return dict(defaults) if api_id == IMPLICIT_API_ID else {}
    return {**defaults, **(resource.get("Properties") or {})}


def api_routes(template: dict[str, Any], *, stack_name: str = "rcs-revoker") -> list[ApiRoute]:
    """Every `Type: Api` event of every function, in template order."""
    pseudo = _pseudo_parameters(stack_name)
    routes: list[ApiRoute] = []
    for logical_id, function in serverless_functions(template, stack_name=stack_name).items():
        events = template["Resources"][logical_id].get("Properties", {}).get("Events") or {}
        for event_id, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            rest_api = properties.get("RestApiId")
            api_id = str(rest_api["Ref"]) if isinstance(rest_api, dict) and "Ref" in rest_api else IMPLICIT_API_ID
            api = rest_api_properties(template, api_id)
            stage = _resolve(api.get("StageName"), template, pseudo) or _IMPLICIT_API_STAGE
            event_auth = (properties.get("Auth") or {}).get("Authorizer")
            default_auth = (api.get("Auth") or {}).get("DefaultAuthorizer")
            routes.append(
                ApiRoute(
                    function=function,
                    event_id=str(event_id),
                    method=str(properties["Method"]).upper(),
                    path=str(properties["Path"]),
                    api_id=api_id,
                    stage=str(stage),
                    authorizer=str(event_auth or default_auth or "NONE"),
                )
            )
    return routes
