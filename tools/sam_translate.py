"""Prints template.yaml as CloudFormation sees it after the SAM transform, as JSON.

Runs under the SAM CLI's own environment (.venv-sam), which has samtranslator:
    .venv-sam/bin/python tools/sam_translate.py template.yaml [Name=Value ...] > translated.json
Name=Value pairs are parameter values, as a deployment passes them (the others take their defaults); the value
of a CommaDelimitedList parameter is split on commas, since CloudFormation hands the transform a list.
The template tests check what SAM generates (roles, policies, the API's methods), and checkov scans the
result as well as the template: SAM-generated resources (the API stage, roles) exist only after the transform.
"""

import json
import sys
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """SAM asks IAM for managed policy ARNs by name; the template names them by ARN, so nothing is looked up."""

    def load(self) -> dict[str, str]:
        return {}


def parameter_values(document: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"VonageSecretName": "vonage"}
    declared = document.get("Parameters") or {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or name not in declared:
            raise SystemExit(f"not a parameter of the template: {pair!r} (expected Name=Value)")
        values[name] = value.split(",") if declared[name].get("Type") == "CommaDelimitedList" else value
    return values


def main(template_path: str, pairs: list[str]) -> None:
    with open(template_path, encoding="utf-8") as stream:
        document = yaml_parse(stream.read())
    parameters = parameter_values(document, pairs)
    # The transform wants code in S3, as `sam package` leaves it; the local paths are only placeholders here.
    for resource in document["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = "s3://bucket/" + properties[key]
    json.dump(transform(document, parameters, NoManagedPolicies()), sys.stdout, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
