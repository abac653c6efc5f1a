"""The offline AWS stack a deployed function would see, built from template.yaml inside moto server.

Each function's environment is read from the template (Globals and the function's own variables) and every
reference in it is made real in moto: a DynamoDB table with the template's keys, an event bus, an SQS queue,
the Vonage secret. So the benchmark gives the service exactly the variables its deployed function has, even
as the template changes, and says which ones it could not resolve.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from offline.aws_seed import create_event_bus, create_tables
from offline.cfn_template import load_template

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "eu-west-1"
STACK_NAME = "rcs-revoker-bench"
SECRET_NAME = "rcs-revoker/vonage"  # noqa: S105 - a name, not a secret
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class TemplateStack:
    """Resolves template values against a moto server, creating each referenced resource once."""

    endpoint_url: str
    template_path: Path
    parameters: dict[str, str]
    template: dict[str, Any] = field(init=False)
    notes: list[str] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # logical id -> physical name (or URL for a queue)

    def __post_init__(self) -> None:
        self.template = load_template(self.template_path)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The environment variables `logical_id` has once deployed, with every reference resolved."""
        variables: dict[str, Any] = dict(
            self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}) or {}
        )
        function = self.template.get("Resources", {}).get(logical_id, {})
        if not function:
            raise KeyError(f"{logical_id} is not a resource of {self.template_path}")
        variables.update(function.get("Properties", {}).get("Environment", {}).get("Variables", {}) or {})
        environment: dict[str, str] = {}
        for name, value in variables.items():
            resolved = self.resolve(value)
            if resolved is None:
                self.notes.append(f"{name}: cannot resolve {value!r} offline; left unset")
            else:
                environment[name] = resolved
        return environment

    def resolve(self, value: Any) -> str | None:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        resolved: str | None = None
        if function == "Ref":
            resolved = self.ref(str(argument))
        elif function == "Fn::If":
            condition, if_true, if_false = argument
            resolved = self.resolve(if_true if self.condition(condition) else if_false)
        elif function == "Fn::GetAtt":
            resolved = self.get_att(str(argument[0]), str(argument[1]))
        elif function == "Fn::Sub" and isinstance(argument, str):
            resolved = self._sub(argument)
        return resolved

    def ref(self, name: str) -> str | None:
        pseudo = {
            "AWS::StackName": STACK_NAME,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            default = parameter.get("Default")
            return None if default is None else self.resolve(default)
        return self._physical(name)

    def condition(self, expression: Any) -> bool:
        if isinstance(expression, str):
            return self.condition(self.template.get("Conditions", {})[expression])
        ((function, argument),) = expression.items()
        if function == "Fn::Equals":
            return self.resolve(argument[0]) == self.resolve(argument[1])
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(item) for item in argument)
        if function == "Fn::Or":
            return any(self.condition(item) for item in argument)
        if function == "Condition":
            return self.condition(str(argument))
        raise ValueError(f"unsupported condition {expression!r}")

    def get_att(self, logical_id: str, attribute: str) -> str | None:
        physical = self._physical(logical_id)
        if physical is None:
            return None
        kind = self._type(logical_id)
        short = physical.rsplit("/", 1)[-1]  # a queue's name, from its URL
        attributes: dict[tuple[str | None, str], str] = {
            ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}",
            ("AWS::SQS::Queue", "QueueName"): short,
            ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{short}",
            ("AWS::SQS::Queue", "QueueUrl"): physical,
            ("AWS::Events::EventBus", "Name"): physical,
            ("AWS::Events::EventBus", "Arn"): f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{physical}",
        }
        return attributes.get((kind, attribute))

    def _type(self, logical_id: str) -> str | None:
        resource = self.template.get("Resources", {}).get(logical_id)
        return resource.get("Type") if isinstance(resource, dict) else None

    def _physical(self, logical_id: str) -> str | None:
        if logical_id in self.created:
            return self.created[logical_id]
        kind = self._type(logical_id)
        name = f"{STACK_NAME}-{logical_id}"
        if kind == "AWS::DynamoDB::Table":
            create_tables(self.endpoint_url, {logical_id: name})
        elif kind == "AWS::Events::EventBus":
            create_event_bus(self.endpoint_url, name)
        elif kind == "AWS::SQS::Queue":
            properties = self.template["Resources"][logical_id].get("Properties", {})
            attributes = {"FifoQueue": "true"} if str(properties.get("FifoQueue")).lower() == "true" else {}
            queue_name = f"{name}.fifo" if attributes else name
            sqs = boto3.client("sqs", endpoint_url=self.endpoint_url)
            name = str(sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"])
        else:
            return None
        self.created[logical_id] = name
        return name

    def _sub(self, text: str) -> str | None:
        missing = False

        def replace(match: re.Match[str]) -> str:
            nonlocal missing
            token = match.group(1)
            resource, _, attribute = token.partition(".")
            value = self.get_att(resource, attribute) if attribute and "::" not in token else self.ref(token)
            if value is None:
                missing = True
                return ""
            return value

        result = _SUB.sub(replace, text)
        return None if missing else result
