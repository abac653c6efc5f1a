"""What CloudFormation makes of a (translated) template for given parameter values: its conditions decided,
its intrinsic functions evaluated, AWS::NoValue removed, the resources and outputs whose condition is false
left out. Enough of CloudFormation's semantics for the template tests to read a policy as it is deployed.

A reference to a resource evaluates to its logical id (Ref) or "LogicalId.Attribute" (Fn::GetAtt): the
tests compare names, not physical ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::StackName": "rcs-revoker",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class _NoValue:
    """AWS::NoValue: the property, list item or output that evaluates to it is removed."""


NO_VALUE = _NoValue()


class Deployment:
    """`template` as CloudFormation deploys it with `parameters` (the others take their Default)."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> None:
        self._template = template
        given = parameters or {}
        self._values: dict[str, Any] = dict(PSEUDO_PARAMETERS)
        for name, declaration in (template.get("Parameters") or {}).items():
            raw = given.get(name, declaration.get("Default"))
            if raw is None:
                continue
            text = str(raw)
            self._values[name] = text.split(",") if declaration["Type"] == "CommaDelimitedList" else text
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.evaluate(self._template["Conditions"][name]))
        return self._conditions[name]

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources created, each with its Properties evaluated."""
        created = {}
        for logical_id, resource in self._template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            properties = self.evaluate(resource.get("Properties") or {})
            created[logical_id] = {**resource, "Properties": properties}
        return created

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs: name -> value."""
        found = {}
        for name, output in (self._template.get("Outputs") or {}).items():
            if "Condition" in output and not self.condition(output["Condition"]):
                continue
            found[name] = self.evaluate(output["Value"])
        return found

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.evaluate(item) for item in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            function = self._functions.get(key)
            if function is not None:
                return function(self, argument)
        evaluated = {key: self.evaluate(value) for key, value in node.items()}
        return {key: value for key, value in evaluated.items() if value is not NO_VALUE}

    def _get_att(self, argument: Any) -> str:
        return ".".join(argument if isinstance(argument, list) else argument.split(".", 1))

    def _join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(item) for item in self.evaluate(items))

    def _split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.evaluate(text)).split(separator)

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.evaluate(items)[int(self.evaluate(index))]

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.evaluate(when_true if self.condition(name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = (self.evaluate(item) for item in argument)
        return bool(left == right)

    def _not(self, argument: Any) -> bool:
        return not self.evaluate(argument[0])

    def _and(self, argument: Any) -> bool:
        return all(self.evaluate(item) for item in argument)

    def _or(self, argument: Any) -> bool:
        return any(self.evaluate(item) for item in argument)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._values:
            return self._values[name]
        if name in self._template["Resources"]:
            return name
        raise KeyError(f"Ref to an unknown name: {name}")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.evaluate(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._template["Resources"]:
                return name
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    _functions: Mapping[str, Callable[[Deployment, Any], Any]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Sub": _sub,
        "Fn::Join": _join,
        "Fn::Split": _split,
        "Fn::Select": _select,
        "Fn::If": _if,
        "Fn::Equals": _equals,
        "Fn::Not": _not,
        "Fn::And": _and,
        "Fn::Or": _or,
        "Condition": lambda deployment, name: deployment.condition(name),
    }
