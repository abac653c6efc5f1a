"""The REST API: its routes and their auth, the stage, throttling, access logs, gateway errors, the logging role."""

from __future__ import annotations

import json
from typing import Any

import pytest

# The API function's routes and the webhook function's: (method, path) -> event id on that function.
from rcs_revoker.api.routes import API_ROUTES, WEBHOOK_ROUTES
from tests.infrastructure.sam_template import UNSIGNED_ROUTES, api_routes, live_alias, sub_string


@pytest.mark.parametrize("route", sorted(API_ROUTES), ids=[API_ROUTES[r] for r in sorted(API_ROUTES)])
def test_route_is_wired_to_the_api_function(template: dict[str, Any], route: tuple[str, str]) -> None:
    routes = api_routes(template)
    matching = [r for r in routes if r[:2] == route]
    assert len(matching) == 1, routes
    _, _, logical_id, event_id, event = matching[0]
    assert (logical_id, event_id) == ("RevokeApiFunction", API_ROUTES[route])
    assert event["RestApiId"] == {"Ref": "RevocationApi"}
    # A route-level Auth could switch the API's default authorizer off.
    assert "Auth" not in event


@pytest.mark.parametrize("route", sorted(WEBHOOK_ROUTES), ids=[WEBHOOK_ROUTES[r] for r in sorted(WEBHOOK_ROUTES)])
def test_webhook_route_is_wired_to_the_webhook_function(template: dict[str, Any], route: tuple[str, str]) -> None:
    routes = api_routes(template)
    matching = [r for r in routes if r[:2] == route]
    assert len(matching) == 1, routes
    _, _, logical_id, event_id, event = matching[0]
    assert (logical_id, event_id) == ("StatusWebhookFunction", WEBHOOK_ROUTES[route])
    assert event["RestApiId"] == {"Ref": "RevocationApi"}
    # Vonage cannot sign with SigV4: the route switches the API's authorizer off, and nothing else.
    assert event["Auth"] == {"Authorizer": "NONE"}


def test_the_api_has_no_other_route(template: dict[str, Any]) -> None:
    assert not set(API_ROUTES) & set(WEBHOOK_ROUTES), "a route is in both tables"
    assert {route[:2] for route in api_routes(template)} == set(API_ROUTES) | set(WEBHOOK_ROUTES)


def test_sam_requires_sigv4_on_every_route_but_the_vonage_webhook(translated: dict[str, Any]) -> None:
    # What API Gateway gets: SAM's definition of RevocationApi. Every method has the AWS_IAM scheme, but
    # exactly the unsigned route: no authorizer at all, and the webhook function behind it.
    body = translated["Resources"]["RevocationApi"]["Properties"]["Body"]
    methods = {
        (method.upper(), path): operation
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert set(methods) == set(API_ROUTES) | set(WEBHOOK_ROUTES)
    unsigned = {route for route, operation in methods.items() if operation["security"] != [{"AWS_IAM": []}]}
    assert unsigned == set(UNSIGNED_ROUTES)
    for route, operation in methods.items():
        uri = sub_string(operation["x-amazon-apigateway-integration"]["uri"])
        if route in UNSIGNED_ROUTES:
            # SAM's "no authorizer": a requirement naming no defined scheme (see securitySchemes below).
            assert operation["security"] == [{"NONE": []}], route
            assert f"${{{live_alias(UNSIGNED_ROUTES[route])}}}" in uri, route
        else:
            assert operation["security"] == [{"AWS_IAM": []}], route
            assert f"${{{live_alias('RevokeApiFunction')}}}" in uri, route
        assert "x-amazon-apigateway-auth" not in operation, route
    # One scheme, SigV4, and no other authorizer. "NONE" must stay undefined: a scheme of that name would be
    # applied to the webhook.
    assert set(body["components"]["securitySchemes"]) == {"AWS_IAM"}
    assert body["components"]["securitySchemes"]["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_api_requires_sigv4_unless_a_route_opts_out(template: dict[str, Any]) -> None:
    # Which routes opt out (exactly one): test_security_review.py.
    api = template["Resources"]["RevocationApi"]
    assert api["Type"] == "AWS::Serverless::Api"
    auth = api["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "AWS_IAM"
    # Callers need execute-api:Invoke only, not lambda:InvokeFunction as with CALLER_CREDENTIALS.
    assert auth.get("InvokeRole") == "NONE"


def test_api_stage_endpoint_and_tracing(template: dict[str, Any]) -> None:
    properties = template["Resources"]["RevocationApi"]["Properties"]
    assert properties["StageName"] == "v1"
    assert properties["EndpointConfiguration"] == {"Type": "REGIONAL"}
    assert properties["TracingEnabled"] is True
    assert sub_string(properties["Name"]) == "${AWS::StackName}-api"
    # Without it SAM also deploys a stage named "Stage", lacking the throttling and access logs below.
    assert "OpenApiVersion" in properties


def test_api_is_throttled(template: dict[str, Any]) -> None:
    settings = template["Resources"]["RevocationApi"]["Properties"]["MethodSettings"]
    everything = [s for s in settings if s["ResourcePath"] == "/*" and s["HttpMethod"] == "*"]
    assert len(everything) == 1, settings
    assert everything[0]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert everything[0]["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert everything[0]["MetricsEnabled"] is True
    parameters = template["Parameters"]
    assert parameters["ApiThrottlingRateLimit"]["Default"] == 50
    assert parameters["ApiThrottlingBurstLimit"]["Default"] == 100


def test_api_access_logs_are_one_json_line_per_request(template: dict[str, Any]) -> None:
    setting = template["Resources"]["RevocationApi"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    log_format = setting["Format"]
    assert "\n" not in log_format
    fields = json.loads(log_format)
    assert fields == {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "userArn": "$context.identity.userArn",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorMessage": "$context.error.message",
    }
    log_group = template["Resources"]["ApiAccessLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}


@pytest.mark.parametrize("response_type", ["DEFAULT_4XX", "DEFAULT_5XX"])
def test_gateway_errors_are_problem_details(template: dict[str, Any], response_type: str) -> None:
    response = template["Resources"]["RevocationApi"]["Properties"]["GatewayResponses"][response_type]
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'"
    (body_template,) = response["ResponseTemplates"].values()
    # What API Gateway substitutes: messageString is a quoted JSON string, the others are raw text.
    rendered = (
        body_template.replace("$context.error.messageString", json.dumps('Say "hi"'))
        .replace("$context.error.responseType", "ACCESS_DENIED")
        .replace("$context.requestId", "0f1e")
    )
    assert "$context" not in rendered, rendered
    body = json.loads(rendered)
    assert body["type"] == "about:blank"
    assert body["title"] == "ACCESS_DENIED"
    assert body["detail"] == 'Say "hi"'
    # No "status": the template cannot know which 4XX/5XX code it answers (see the template's comment).
    assert "status" not in body


def test_api_gateway_logging_role_is_optional_and_ordered_before_the_api(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["CreateApiGatewayLoggingRole"]
    assert parameter["AllowedValues"] == ["true", "false"]
    assert parameter["Default"] == "false"
    condition = template["Conditions"]["ShouldCreateApiGatewayLoggingRole"]
    assert condition == {"Fn::Equals": [{"Ref": "CreateApiGatewayLoggingRole"}, "true"]}
    account = template["Resources"]["ApiGatewayAccount"]
    role = template["Resources"]["ApiGatewayCloudWatchRole"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Condition"] == role["Condition"] == "ShouldCreateApiGatewayLoggingRole"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    assert [sub_string(arn) for arn in role["Properties"]["ManagedPolicyArns"]] == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]
    gate = template["Resources"][template["Resources"]["RevocationApi"]["DependsOn"]]
    assert gate["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    assert {"Ref": "ApiGatewayAccount"} in gate["Metadata"]["WaitFor"]["Fn::If"]
