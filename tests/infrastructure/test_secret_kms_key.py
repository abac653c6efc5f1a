"""A Vonage secret under a customer-managed KMS key (VonageSecretKmsKeyArn): every function that reads the secret
may decrypt with that key, through Secrets Manager only; without the parameter, no KMS grant at all. Read on
SAM's translation as CloudFormation deploys it (the functions' roles are SAM's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.cfn_evaluate import Deployment
from tests.infrastructure.sam_template import as_list, resources, sam_translate

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def role_statements(deployment: Deployment) -> dict[str, list[dict[str, Any]]]:
    """Each IAM role's inline statements, by role."""
    roles = resources({"Resources": deployment.resources()}, "AWS::IAM::Role")
    return {
        logical_id: [
            statement
            for policy in role["Properties"].get("Policies", [])
            for statement in as_list(policy["PolicyDocument"]["Statement"])
        ]
        for logical_id, role in roles.items()
    }


def readers_of_the_secret(statements: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {
        role
        for role, granted in statements.items()
        if any("secretsmanager:GetSecretValue" in as_list(s["Action"]) for s in granted)
    }


def kms_grants(statements: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {
        role: [s for s in granted if any(str(action).startswith("kms:") for action in as_list(s["Action"]))]
        for role, granted in statements.items()
    }


@pytest.fixture(scope="module")
def with_key() -> Deployment:
    parameters = {"VonageSecretKmsKeyArn": KEY}
    return Deployment(json.loads(sam_translate(parameters)), {"VonageSecretName": "vonage", **parameters})


@pytest.fixture(scope="module")
def without_key() -> Deployment:
    return Deployment(json.loads(sam_translate()), {"VonageSecretName": "vonage"})


def test_every_reader_of_the_secret_may_decrypt_it_with_the_key_through_secrets_manager_only(
    with_key: Deployment,
) -> None:
    statements = role_statements(with_key)
    readers = readers_of_the_secret(statements)
    assert len(readers) == 5  # the API, event, worker, timer and webhook functions
    for role, grants in kms_grants(statements).items():
        if role not in readers:
            assert grants == [], role
            continue
        assert grants == [
            {
                "Sid": "DecryptVonageCredentials",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": KEY,
                "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}},
            }
        ], role


def test_without_the_parameter_no_role_gets_any_kms_action_on_the_secret(without_key: Deployment) -> None:
    grants = kms_grants(role_statements(without_key))
    assert all("DecryptVonageCredentials" not in {s.get("Sid") for s in granted} for granted in grants.values()), grants
