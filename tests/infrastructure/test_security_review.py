"""The stack's security review, as tests: who may call in, what each function may do, what checkov may skip.

checkov itself runs in `make security` (over the template and over SAM's translation); these tests keep
what checkov cannot judge: that each skip carries a reason, that SigV4 is the only way in, and that what SAM
generates (roles, permissions) grants no wildcard on data.
"""

from __future__ import annotations

import re
from typing import Any

from tests.infrastructure.sam_template import as_list, strings_in

CHECK_ID = re.compile(r"CKV2?_AWS_\d+")
# The ways a caller can reach a function: a change here is a change of the attack surface, made on purpose.
INVOKERS = {
    "apigateway.amazonaws.com": "RevokeApiFunction",
    "events.amazonaws.com": "RevokeEventFunction",
}
# Managed policies SAM attaches (Tracing: Active adds X-Ray; the SQS event source adds its poller's policy).
# X-Ray's PutTraceSegments cannot be scoped to a resource; the SQS one is the documented exception.
MANAGED_POLICY_NAMES = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaSQSQueueExecutionRole"}


def checkov_skips(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        logical_id: resource["Metadata"]["checkov"]["skip"]
        for logical_id, resource in template["Resources"].items()
        if "checkov" in resource.get("Metadata", {})
    }


def test_every_checkov_skip_names_a_check_and_gives_its_reason(template: dict[str, Any]) -> None:
    skips = checkov_skips(template)
    assert skips, "no skip at all: then make security passes without one, or checkov stopped reading them"
    for logical_id, entries in skips.items():
        assert entries, logical_id
        for entry in entries:
            assert set(entry) == {"id", "comment"}, (logical_id, entry)
            assert CHECK_ID.fullmatch(entry["id"]), (logical_id, entry["id"])
            # A reason, not a shrug: a sentence that says why the check does not apply here.
            assert len(entry["comment"]) >= 80, (logical_id, entry["id"], entry["comment"])
        ids = [entry["id"] for entry in entries]
        assert len(ids) == len(set(ids)), f"{logical_id} skips a check twice"


def test_sigv4_is_the_only_auth_mode_the_api_offers(template: dict[str, Any]) -> None:
    api = template["Resources"]["RevocationApi"]["Properties"]
    # No API keys, usage plans, Lambda or Cognito authorizers, resource policies: one mode, IAM (SigV4).
    assert api["Auth"] == {"DefaultAuthorizer": "AWS_IAM", "InvokeRole": "NONE"}
    for logical_id, resource in template["Resources"].items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "Api":
                assert "Auth" not in event["Properties"], f"{logical_id}: a route overrides the API's auth"


def test_no_other_way_in(template: dict[str, Any], translated: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in translated["Resources"].values()}
    # No HTTP API, no function URL, no second REST API that could skip the SigV4 requirement.
    assert "AWS::ApiGatewayV2::Api" not in types
    assert "AWS::Lambda::Url" not in types
    assert [k for k, r in translated["Resources"].items() if r["Type"] == "AWS::ApiGateway::RestApi"] == [
        "RevocationApi"
    ]
    for logical_id, resource in template["Resources"].items():
        assert "FunctionUrlConfig" not in resource.get("Properties", {}), logical_id


def test_each_function_may_be_invoked_by_its_own_trigger_only(translated: dict[str, Any]) -> None:
    permissions = {
        k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
    }
    assert len(permissions) == 5  # four API routes, one EventBridge rule
    for logical_id, permission in permissions.items():
        assert permission["Action"] == "lambda:InvokeFunction", logical_id
        principal = permission["Principal"]
        assert principal in INVOKERS, f"{logical_id}: {principal!r} may invoke a function"
        assert permission["FunctionName"] == {"Ref": INVOKERS[principal]}, logical_id
        # Scoped to the source: this API (its own id, one route) or this rule, never any API or rule.
        if principal == "apigateway.amazonaws.com":
            arn, variables = permission["SourceArn"]["Fn::Sub"]
            assert variables["__ApiId__"] == {"Ref": "RevocationApi"}, logical_id
            assert arn.startswith("arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/"), logical_id
        else:
            assert permission["SourceArn"] == {"Fn::GetAtt": ["RevokeEventFunctionRevocationRequested", "Arn"]}


def generated_roles(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    roles = {k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles
    return roles


def test_no_role_grants_a_wildcard_action_or_resource_inline(translated: dict[str, Any]) -> None:
    # Every inline statement of every role, SAM's own (the on-failure destination) included.
    statements = 0
    for logical_id, role in generated_roles(translated).items():
        for policy in role.get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                statements += 1
                assert statement["Effect"] == "Allow", logical_id
                assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), logical_id
                for text in strings_in(statement["Action"]) + strings_in(statement["Resource"]):
                    assert "*" not in text, f"{logical_id}: {text!r}"
    assert statements >= 15  # the review saw the policies (19 today), not an empty list


def test_function_roles_are_for_lambda_with_known_managed_policies_only(translated: dict[str, Any]) -> None:
    for logical_id, role in generated_roles(translated).items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        principals = as_list(statement["Principal"]["Service"])
        if logical_id == "ApiGatewayCloudWatchRole":  # the optional account-wide logging role
            assert principals == ["apigateway.amazonaws.com"]
            continue
        assert principals == ["lambda.amazonaws.com"], logical_id
        names = {str(arn).rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"]}
        assert names <= MANAGED_POLICY_NAMES, f"{logical_id}: {names - MANAGED_POLICY_NAMES}"
