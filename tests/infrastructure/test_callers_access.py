"""Callers in other accounts (CallerAccountIds, CallerOrganizationId): the API's resource policy, the bus's policy
and the CallerPolicy output, read on SAM's translation as CloudFormation deploys it with those parameters."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from rcs_revoker.api.routes import API_ROUTES
from tests.infrastructure.cfn_evaluate import PSEUDO_PARAMETERS, Deployment
from tests.infrastructure.sam_template import UNSIGNED_ROUTES, sam_translate

ACCOUNTS = ["111111111111", "222222222222"]
ORGANIZATION = "o-abcdefghij"
OWN_ACCOUNT = PSEUDO_PARAMETERS["AWS::AccountId"]
EXISTING_BUS = "shared-revocations"
# The parameter sets a deployment may use, by name; each is translated by SAM with those values.
SCENARIOS: dict[str, dict[str, str]] = {
    "no callers": {},
    "accounts": {"CallerAccountIds": ",".join(ACCOUNTS)},
    "organization": {"CallerOrganizationId": ORGANIZATION},
    "both": {"CallerAccountIds": ",".join(ACCOUNTS), "CallerOrganizationId": ORGANIZATION},
    "both, existing bus": {
        "CallerAccountIds": ",".join(ACCOUNTS),
        "CallerOrganizationId": ORGANIZATION,
        "EventBusName": EXISTING_BUS,
    },
}
# Every SigV4 route as a resource policy names a method: stage, METHOD, path with each parameter as "*".
SIGV4_METHODS = {f"/v1/{method}{re.sub(r'{[^}]+}', '*', path)}" for method, path in API_ROUTES}
WEBHOOK_METHODS = {f"/v1/{method}{path}" for method, path in UNSIGNED_ROUTES}
API_ARN = "arn:aws:execute-api:eu-west-1:123456789012:RevocationApi"
SOURCES = ["rcs.sender"]  # RevocationRequestSources' default
REQUESTED = "RCS Revocation Requested"


@pytest.fixture(scope="module")
def translations() -> dict[str, dict[str, Any]]:
    """SAM's translation of template.yaml for each scenario (SAM resolves the parameters' values in Auth)."""
    return {name: json.loads(sam_translate(parameters)) for name, parameters in SCENARIOS.items()}


def deployed(translations: dict[str, dict[str, Any]], scenario: str) -> Deployment:
    # VonageSecretName has no default: the translation's own value (tools/sam_translate.py).
    return Deployment(translations[scenario], {"VonageSecretName": "vonage", **SCENARIOS[scenario]})


def api_policy(deployment: Deployment) -> list[dict[str, Any]]:
    body = deployment.resources()["RevocationApi"]["Properties"]["Body"]
    statements: list[dict[str, Any]] = body["x-amazon-apigateway-policy"]["Statement"]
    return statements


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in statements}


def as_set(value: Any) -> set[Any]:
    return set(value) if isinstance(value, list) else {value}


def methods_of(statement: dict[str, Any]) -> set[str]:
    resources = as_set(statement["Resource"])
    assert all(resource.startswith("execute-api:/") for resource in resources), resources
    return {resource.removeprefix("execute-api:") for resource in resources}


# --- the API's resource policy ---------------------------------------------------------------------------
def test_without_callers_the_resource_policy_only_keeps_the_webhook_open(translations: dict[str, Any]) -> None:
    # No statement names a caller: this account's principals are governed by their IAM policies alone, as
    # without a policy, and nobody else gets in. The webhook's Allow is what a policy-less API did implicitly.
    statements = api_policy(deployed(translations, "no callers"))
    assert [statement["Sid"] for statement in statements] == ["VonageStatusWebhook"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_anyone_may_reach_the_webhook_and_nothing_else_unsigned(translations: dict[str, Any], scenario: str) -> None:
    webhook = by_sid(api_policy(deployed(translations, scenario)))["VonageStatusWebhook"]
    assert webhook["Effect"] == "Allow"
    assert webhook["Principal"] == "*"
    assert webhook["Action"] == "execute-api:Invoke"
    assert "Condition" not in webhook
    assert methods_of(webhook) == WEBHOOK_METHODS


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_statement_opens_more_than_it_names(translations: dict[str, Any], scenario: str) -> None:
    # A statement of Principal "*" is the webhook's, or is bound to the organization; every resource is one
    # method of the API: "execute-api:/*", a stage or a method wildcard would open routes nobody listed.
    for statement in api_policy(deployed(translations, scenario)):
        assert statement["Effect"] == "Allow", statement
        assert statement["Action"] == "execute-api:Invoke", statement
        assert not {"NotResource", "NotPrincipal", "NotAction"} & set(statement), statement
        methods = methods_of(statement)
        assert methods <= SIGV4_METHODS | WEBHOOK_METHODS, statement
        if statement["Principal"] == "*" and methods != WEBHOOK_METHODS:
            assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORGANIZATION, statement
        if methods & WEBHOOK_METHODS:
            assert statement["Sid"] == "VonageStatusWebhook", statement


def test_named_accounts_may_invoke_exactly_the_sigv4_routes(translations: dict[str, Any]) -> None:
    statements = by_sid(api_policy(deployed(translations, "accounts")))
    assert set(statements) == {"VonageStatusWebhook", "CallerAccounts"}
    accounts = statements["CallerAccounts"]
    assert accounts["Principal"] == {"AWS": ACCOUNTS}
    assert methods_of(accounts) == SIGV4_METHODS
    # This account's principals stay under IAM alone, even if someone lists it.
    assert accounts["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": OWN_ACCOUNT}}


def test_a_named_organization_may_invoke_exactly_the_sigv4_routes(translations: dict[str, Any]) -> None:
    statements = by_sid(api_policy(deployed(translations, "organization")))
    assert set(statements) == {"VonageStatusWebhook", "CallerOrganization"}
    organization = statements["CallerOrganization"]
    # Principal "*" on a SigV4 method still needs a valid signature: API Gateway authenticates first.
    assert organization["Principal"] == "*"
    assert methods_of(organization) == SIGV4_METHODS
    assert organization["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION},
        "StringNotEquals": {"aws:PrincipalAccount": OWN_ACCOUNT},
    }


def test_accounts_and_organization_together(translations: dict[str, Any]) -> None:
    for scenario in ("both", "both, existing bus"):
        statements = by_sid(api_policy(deployed(translations, scenario)))
        assert set(statements) == {"VonageStatusWebhook", "CallerAccounts", "CallerOrganization"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_method_but_the_webhook_still_requires_sigv4(translations: dict[str, Any], scenario: str) -> None:
    body = deployed(translations, scenario).resources()["RevocationApi"]["Properties"]["Body"]
    security = {
        (method.upper(), path): operation["security"]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert set(security) == set(API_ROUTES) | set(UNSIGNED_ROUTES)
    for route, requirement in security.items():
        assert requirement == ([{"NONE": []}] if route in UNSIGNED_ROUTES else [{"AWS_IAM": []}]), route


def test_naming_callers_deploys_the_api_again(translations: dict[str, Any]) -> None:
    # A resource policy takes effect with a new deployment: SAM names the deployment after a hash of the
    # definition, in which it resolved the parameters' values.
    deployments = {
        scenario: [
            logical_id
            for logical_id, resource in translation["Resources"].items()
            if resource["Type"] == "AWS::ApiGateway::Deployment"
        ]
        for scenario, translation in translations.items()
    }
    assert all(len(found) == 1 for found in deployments.values()), deployments
    ids = {scenario: found[0] for scenario, found in deployments.items()}
    assert len({ids["no callers"], ids["accounts"], ids["organization"], ids["both"]}) == 4, ids
    for scenario, translation in translations.items():
        stage = translation["Resources"]["RevocationApiv1Stage"]["Properties"]
        assert stage["DeploymentId"] == {"Ref": ids[scenario]}


# --- the bus ---------------------------------------------------------------------------------------------
def bus_statements(deployment: Deployment) -> dict[str, dict[str, Any]]:
    policy = deployment.resources()["RevocationEventBus"]["Properties"]["Policy"]
    assert policy["Version"] == "2012-10-17"
    return by_sid(policy["Statement"])


def expected_bus_statements(scenario: str, bus_arn: str) -> dict[str, dict[str, Any]]:
    condition = {
        "ForAllValues:StringEquals": {"events:source": SOURCES},
        "StringEquals": {"events:detail-type": REQUESTED},
        "StringNotEquals": {"aws:PrincipalAccount": OWN_ACCOUNT},
    }
    accounts = {
        "Sid": "CallerAccountsPutRevocationRequests",
        "Effect": "Allow",
        "Principal": {"AWS": ACCOUNTS},
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": condition,
    }
    organization = {
        "Sid": "CallerOrganizationPutRevocationRequests",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {
            **condition,
            "StringEquals": {"events:detail-type": REQUESTED, "aws:PrincipalOrgID": ORGANIZATION},
        },
    }
    parameters = SCENARIOS[scenario]
    statements = [accounts] * ("CallerAccountIds" in parameters) + [organization] * (
        "CallerOrganizationId" in parameters
    )
    return by_sid(statements)


def test_without_callers_the_bus_has_no_policy(translations: dict[str, Any]) -> None:
    deployment = deployed(translations, "no callers")
    assert "Policy" not in deployment.resources()["RevocationEventBus"]["Properties"]
    assert "CallerBusPolicy" not in deployment.outputs()


@pytest.mark.parametrize("scenario", ["accounts", "organization", "both"])
def test_callers_may_put_only_revocation_requests_on_the_bus(translations: dict[str, Any], scenario: str) -> None:
    bus_arn = "arn:aws:events:eu-west-1:123456789012:event-bus/rcs-revoker-revocations"
    deployment = deployed(translations, scenario)
    assert bus_statements(deployment) == expected_bus_statements(scenario, bus_arn)
    assert "CallerBusPolicy" not in deployment.outputs()


def test_a_bus_the_stack_does_not_own_gets_the_statements_as_an_output(translations: dict[str, Any]) -> None:
    # The stack changes no policy of a bus it did not create; the bus's owner merges these statements.
    deployment = deployed(translations, "both, existing bus")
    resources = deployment.resources()
    assert "RevocationEventBus" not in resources
    assert not [resource for resource in resources.values() if resource["Type"] == "AWS::Events::EventBusPolicy"]
    policy = json.loads(deployment.outputs()["CallerBusPolicy"])
    assert policy["Version"] == "2012-10-17"
    bus_arn = f"arn:aws:events:eu-west-1:123456789012:event-bus/{EXISTING_BUS}"
    assert by_sid(policy["Statement"]) == expected_bus_statements("both, existing bus", bus_arn)


def test_no_other_resource_grants_callers_anything(translations: dict[str, Any]) -> None:
    # The callers' access is exactly the two policies above: no Lambda permission, role or queue policy
    # names their accounts or organization.
    deployment = deployed(translations, "both")
    for logical_id, resource in deployment.resources().items():
        if logical_id in {"RevocationApi", "RevocationEventBus"}:
            continue
        text = json.dumps(resource)
        assert ORGANIZATION not in text, logical_id
        assert not [account for account in ACCOUNTS if account in text], logical_id


# --- the caller's side: the CallerPolicy output ----------------------------------------------------------
@pytest.mark.parametrize(
    ("scenario", "bus_arn"),
    [
        ("no callers", "RevocationEventBus.Arn"),
        ("both", "RevocationEventBus.Arn"),
        ("both, existing bus", f"arn:aws:events:eu-west-1:123456789012:event-bus/{EXISTING_BUS}"),
    ],
)
def test_caller_policy_names_every_sigv4_route_and_the_bus(
    translations: dict[str, Any], scenario: str, bus_arn: str
) -> None:
    policy = json.loads(deployed(translations, scenario).outputs()["CallerPolicy"])
    assert policy["Version"] == "2012-10-17"
    statements = by_sid(policy["Statement"])
    assert set(statements) == {"InvokeRevocationApi", "PutRevocationRequests"}
    invoke = statements["InvokeRevocationApi"]
    assert (invoke["Effect"], invoke["Action"]) == ("Allow", "execute-api:Invoke")
    # Each route of API_ROUTES by its ARN, and no other: not the webhook, not "*".
    assert set(invoke["Resource"]) == {API_ARN + method for method in SIGV4_METHODS}
    assert len(invoke["Resource"]) == len(API_ROUTES)
    put = statements["PutRevocationRequests"]
    assert (put["Effect"], put["Action"], put["Resource"]) == ("Allow", "events:PutEvents", bus_arn)
    assert put["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": SOURCES},
        "StringEquals": {"events:detail-type": REQUESTED},
    }


def test_the_resource_policy_and_the_caller_policy_name_the_same_routes(translations: dict[str, Any]) -> None:
    deployment = deployed(translations, "both")
    caller = by_sid(json.loads(deployment.outputs()["CallerPolicy"])["Statement"])["InvokeRevocationApi"]
    for sid in ("CallerAccounts", "CallerOrganization"):
        granted = methods_of(by_sid(api_policy(deployment))[sid])
        assert {API_ARN + method for method in granted} == set(caller["Resource"]), sid
