"""The stack's security review, as tests: who may call in, what each function may do, what checkov may skip.

checkov itself runs in `make security` (over the template and over SAM's translation); these tests keep
what checkov cannot judge: that each skip carries a reason, that SigV4 is the only way in but for the one
route Vonage calls (whose function checks Vonage's signature), and that what SAM generates (roles,
permissions) grants no wildcard on data.
"""

from __future__ import annotations

import re
from typing import Any

from rcs_revoker.api.routes import API_ROUTES, WEBHOOK_ROUTES
from tests.infrastructure.sam_template import (
    FUNCTION_CODE,
    UNSIGNED_ROUTES,
    api_routes,
    as_list,
    granted_policies,
    live_alias,
    resources_without_allowed_wildcards,
    strings_in,
)

CHECK_ID = re.compile(r"CKV2?_AWS_\d+")
# The ways a caller can reach a function: a change here is a change of the attack surface, made on purpose.
# (principal, function) of every lambda:InvokeFunction permission; API Gateway's are scoped each to one route
# of that function, EventBridge's to its rule.
INVOKERS = {
    ("apigateway.amazonaws.com", "RevokeApiFunction"),
    ("apigateway.amazonaws.com", "StatusWebhookFunction"),
    ("events.amazonaws.com", "RevokeEventFunction"),
    ("events.amazonaws.com", "ReconcilerFunction"),
}
# Each function invoked by a rule: by its own rule only.
EVENT_RULE_ARNS = {
    "RevokeEventFunction": {"Fn::GetAtt": ["RevokeEventFunctionRevocationRequested", "Arn"]},
    "ReconcilerFunction": {"Fn::GetAtt": ["ReconcilerFunctionEveryMinute", "Arn"]},
}
# The functions Lambda itself invokes, polling their source through an event source mapping: no permission.
POLLED = {
    "RevokeWorkerFunction": {"Fn::GetAtt": ["RevocationQueue", "Arn"]},
    "OutcomePublisherFunction": {"Fn::GetAtt": ["LedgerTable", "StreamArn"]},
    "RevokeTimerFunction": {"Fn::GetAtt": ["TimerQueue", "Arn"]},
}
# The one role that is not a function's: the role EventBridge Scheduler sends a timer's wake-up with.
SCHEDULER_ROLE = "TimerSchedulerRole"
# Managed policies SAM attaches (the SQS and DynamoDB event sources add their poller's policy; no X-Ray: the
# functions trace PassThrough). The pollers' are the documented exceptions (test_permissions.py: each on its
# consumer only).
MANAGED_POLICY_NAMES = {
    "AWSLambdaBasicExecutionRole",
    "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaDynamoDBExecutionRole",
}


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


def test_sigv4_is_the_only_auth_mode_and_only_the_vonage_webhook_opts_out(template: dict[str, Any]) -> None:
    api = template["Resources"]["RevocationApi"]["Properties"]
    # No API keys, usage plans, Lambda or Cognito authorizers: one mode, IAM (SigV4). The resource policy only
    # adds callers of other accounts to it and keeps the webhook open (its statements: test_callers_access.py).
    auth = dict(api["Auth"])
    assert set(auth.pop("ResourcePolicy")) == {"CustomStatements"}
    assert auth == {"DefaultAuthorizer": "AWS_IAM", "InvokeRole": "NONE"}
    # Every Api event of every resource (not only of the functions api_routes reads).
    events = [
        (logical_id, event["Properties"])
        for logical_id, resource in template["Resources"].items()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "Api"
    ]
    assert len(events) == len(api_routes(template))
    opted_out = {}
    for logical_id, event in events:
        route = (event["Method"].upper(), event["Path"])
        if route not in UNSIGNED_ROUTES:
            assert "Auth" not in event, f"{logical_id}: {route} overrides the API's auth"
            continue
        # No authorizer, and no other setting (API key, resource policy, scopes) on the way in.
        assert event["Auth"] == {"Authorizer": "NONE"}, (logical_id, route)
        opted_out[route] = logical_id
    # Exactly the Vonage webhook, served by the function that verifies Vonage's signature.
    assert opted_out == UNSIGNED_ROUTES
    assert set(UNSIGNED_ROUTES) <= set(WEBHOOK_ROUTES)


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


def execute_api_arn(method: str, path: str) -> str:
    """The SourceArn SAM gives API Gateway's permission for one route: its path parameters become "*"."""
    return (
        "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/"
        + method
        + re.sub(r"\{[^}/]+\}", "*", path)
    )


def test_each_function_may_be_invoked_by_its_own_trigger_only(translated: dict[str, Any]) -> None:
    permissions = {
        k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Permission"
    }
    # The API routes (the API function's and the webhook), the EventBridge rule and the reconciler's schedule.
    # (The timers' schedules target the timer queue, not a function: no permission.)
    assert len(permissions) == len(API_ROUTES) + len(WEBHOOK_ROUTES) + 2
    # The route each API permission must be scoped to, by function.
    routes = {
        "RevokeApiFunction": {execute_api_arn(method, path) for method, path in API_ROUTES},
        "StatusWebhookFunction": {execute_api_arn(method, path) for method, path in WEBHOOK_ROUTES},
    }
    scoped: dict[str, set[str]] = {function_id: set() for function_id in routes}
    for logical_id, permission in permissions.items():
        assert permission["Action"] == "lambda:InvokeFunction", logical_id
        principal = permission["Principal"]
        (alias,) = permission["FunctionName"].values()
        function_id = alias.removesuffix(live_alias(""))
        assert permission["FunctionName"] == {"Ref": live_alias(function_id)}, logical_id
        assert (principal, function_id) in INVOKERS, f"{logical_id}: {principal!r} may invoke {function_id}"
        # Scoped to the source: this API (its own id, one route of this function) or this rule, never any API
        # or rule.
        if principal == "apigateway.amazonaws.com":
            arn, variables = permission["SourceArn"]["Fn::Sub"]
            assert variables == {"__ApiId__": {"Ref": "RevocationApi"}, "__Stage__": "*"}, logical_id
            assert arn in routes[function_id], f"{logical_id}: {arn} is no route of {function_id}"
            scoped[function_id].add(arn)
        else:
            assert permission["SourceArn"] == EVENT_RULE_ARNS[function_id], logical_id
    assert scoped == routes, "a route of the API has no permission for its function"
    # The pollers: no permission at all (Lambda invokes them itself), each mapped to its source, and every
    # function is reached one way.
    assert not {function_id for _, function_id in INVOKERS} & set(POLLED)
    assert {function_id for _, function_id in INVOKERS} | set(POLLED) == set(FUNCTION_CODE)
    mappings = {
        r["Properties"]["FunctionName"]["Ref"].removesuffix(live_alias("")): r["Properties"]["EventSourceArn"]
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert mappings == POLLED


def generated_roles(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    roles = {k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles
    return roles


def test_no_role_grants_a_wildcard_action_or_resource_inline(translated: dict[str, Any]) -> None:
    # Every inline statement of every role, SAM's own (the on-failure destination) included.
    statements = 0
    for logical_id, role in generated_roles(translated).items():
        for policy in granted_policies(role.get("Policies", [])):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                statements += 1
                assert statement["Effect"] == "Allow", logical_id
                assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), logical_id
                for text in strings_in(statement["Action"]) + resources_without_allowed_wildcards(statement):
                    assert "*" not in text, f"{logical_id}: {text!r}"
    assert statements >= 15  # the review saw the policies (20 today), not an empty list


def test_function_roles_are_for_lambda_with_known_managed_policies_only(translated: dict[str, Any]) -> None:
    for logical_id, role in generated_roles(translated).items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        principals = as_list(statement["Principal"]["Service"])
        if logical_id == "ApiGatewayCloudWatchRole":  # the optional account-wide logging role
            assert principals == ["apigateway.amazonaws.com"]
            continue
        if logical_id == SCHEDULER_ROLE:  # its trust and its one statement: test_timers.py
            assert principals == ["scheduler.amazonaws.com"]
            assert "ManagedPolicyArns" not in role
            continue
        assert principals == ["lambda.amazonaws.com"], logical_id
        names = {str(arn).rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"]}
        assert names <= MANAGED_POLICY_NAMES, f"{logical_id}: {names - MANAGED_POLICY_NAMES}"
