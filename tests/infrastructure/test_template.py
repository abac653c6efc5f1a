"""What a deployer of template.yaml would notice: runtime, routes, events, auth, permissions, data safety, alarms.

The template is read through offline.cfn_template, the same reader the offline stack uses, so these
tests check the very document that is deployed. SAM Globals are merged in where SAM would merge them.
What SAM itself generates (the EventBridge rule, the destination permission, the SQS event source
mapping and its managed policy, the API definition) is checked on SAM's own translation of the template,
made with the SAM CLI's environment (.venv-sam).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from offline.cfn_template import (
    DEFAULT_TEMPLATE,
    dynamodb_create_table_kwargs,
    dynamodb_ttl_attribute,
    load_template,
)
from rcs_revoker.adapters.eventbridge_outcomes import (
    ACCEPTED_DETAIL_TYPE,
    OUTCOME_SOURCE,
    REJECTED_DETAIL_TYPE,
)
from rcs_revoker.api.routes import API_ROUTES  # every route: (method, path) -> event id on RevokeApiFunction
from tests.infrastructure.conftest import as_list, strings_in

REPO_ROOT = DEFAULT_TEMPLATE.parent
SERVICE_TAG = ("service", "rcs-revoker")

# Powertools Idempotency (DynamoDB) reads, creates, completes and deletes records: nothing else.
IDEMPOTENCY_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# The ledger: only the API function creates entries (a submitted batch); every entry point reads and updates.
LEDGER_ACTIONS = {
    "RevokeApiFunction": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    "RevokeEventFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
    "RevokeWorkerFunction": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
}
LEDGER_INDEX = "batch_id-index"
LEDGER_INDEX_ARN = {"Fn::Sub": "${LedgerTable.Arn}/index/" + LEDGER_INDEX}
# Every action each function may perform, exactly. A new permission must be added here on purpose.
# (dynamodb:GetItem several times: on the agents table, the idempotency table and the ledger.)
EXPECTED_ACTIONS: dict[str, list[str]] = {
    "RevokeApiFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        "sqs:SendMessage",
        *LEDGER_ACTIONS["RevokeApiFunction"],
        "dynamodb:Query",
    ],
    "RevokeEventFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        *LEDGER_ACTIONS["RevokeEventFunction"],
    ],
    # What SAM adds for its SQS event source (receive, delete) is checked on the translation.
    "RevokeWorkerFunction": [
        "secretsmanager:GetSecretValue",
        "dynamodb:GetItem",
        *IDEMPOTENCY_ACTIONS,
        "events:PutEvents",
        *LEDGER_ACTIONS["RevokeWorkerFunction"],
        "sqs:ChangeMessageVisibility",
    ],
}
# Each function's code directory; handler.lambda_handler must be defined there.
FUNCTION_CODE = {
    "RevokeApiFunction": ("functions/revoke_api/", "${AWS::StackName}-revoke-api"),
    "RevokeEventFunction": ("functions/revoke_event/", "${AWS::StackName}-revoke-event"),
    "RevokeWorkerFunction": ("functions/revoke_worker/", "${AWS::StackName}-revoke-worker"),
}
# The bus both functions use: the one the stack creates, or the one the EventBusName parameter names.
EVENT_BUS_NAME = {"Fn::If": ["CreateEventBus", {"Ref": "RevocationEventBus"}, {"Ref": "EventBusName"}]}
EVENT_BUS_ARN = {
    "Fn::If": [
        "CreateEventBus",
        {"Fn::GetAtt": ["RevocationEventBus", "Arn"]},
        {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"},
    ]
}
RULE_EVENT = ("RevokeEventFunction", "RevocationRequested")
WORKER_EVENT = ("RevokeWorkerFunction", "RevocationQueue")
FOURTEEN_DAYS = 14 * 24 * 3600
FOUR_DAYS = 4 * 24 * 3600
# Queues whose every message is a failed revocation (each alarms on its first message), and the work queue.
FAILURE_QUEUES = {"RevocationRequestsDeadLetterQueue", "RevokeEventFailuresQueue", "RevocationQueueDeadLetterQueue"}
WORK_QUEUES = {"RevocationQueue"}

# Resource types that take tags, and those that cannot. A new type must be put in one of them.
TAGGABLE = {
    "AWS::Serverless::Function",
    "AWS::Serverless::Api",
    "AWS::Logs::LogGroup",
    "AWS::DynamoDB::Table",
    "AWS::SNS::Topic",
    "AWS::KMS::Key",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::Role",
    "AWS::Events::EventBus",
    "AWS::SQS::Queue",
}
UNTAGGABLE = {
    "AWS::Serverless::LayerVersion",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Subscription",
    "AWS::ApiGateway::Account",
    "AWS::CloudFormation::WaitConditionHandle",
}

SECRET_NAME = re.compile(r"PRIVATE_KEY|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|CREDENTIAL|JWT", re.IGNORECASE)
REFERENCE_SUFFIX = re.compile(r"_(ID|NAME|ARN)$")


# --------------------------------------------------------------------------- helpers


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: maps merge key by key (the resource wins), lists are concatenated."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    global_properties = template.get("Globals", {}).get("Function", {})
    properties = template["Resources"][logical_id]["Properties"]
    merged: dict[str, Any] = merge_globals(global_properties, properties)
    return merged


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {
        logical_id: function_properties(template, logical_id)
        for logical_id in resources(template, "AWS::Serverless::Function")
    }
    assert found, "the template defines no AWS::Serverless::Function"
    return found


def sub_string(value: Any) -> str:
    """The template string of a !Sub (short or list form); fails on anything else."""
    assert isinstance(value, dict), f"expected !Sub, got {value!r}"
    assert set(value) == {"Fn::Sub"}, f"expected !Sub, got {value!r}"
    sub = value["Fn::Sub"]
    text = sub[0] if isinstance(sub, list) else sub
    assert isinstance(text, str)
    return text


def tags_of(resource_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    tags = properties.get("Tags")
    if resource_type.startswith("AWS::Serverless::"):
        return dict(tags or {})
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def policy_statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        # Strings are managed policies and {"DynamoDBCrudPolicy": ...} are SAM policy templates: both
        # grant more than the function needs.
        assert isinstance(policy, dict), f"managed policy {policy!r}: use an inline statement"
        assert "Statement" in policy, f"SAM policy template {sorted(policy)}: use an inline statement"
        statements.extend(as_list(policy["Statement"]))
    return statements


# --------------------------------------------------------------------------- runtime and packaging


def test_every_function_runs_python313_on_arm64_with_both_layers(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        assert properties.get("Runtime") == "python3.13", logical_id
        assert properties.get("Architectures") == ["arm64"], logical_id
        assert {"Ref": "DependenciesLayer"} in properties.get("Layers", []), logical_id
        assert {"Ref": "RevokerLayer"} in properties.get("Layers", []), logical_id
        assert properties.get("Tracing") == "Active", logical_id
        assert properties.get("MemorySize") == {"Ref": "FunctionMemorySize"}, logical_id


def test_every_function_is_listed_with_its_code(template: dict[str, Any]) -> None:
    assert set(functions(template)) == set(FUNCTION_CODE)


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_CODE))
def test_function_code_and_handler(template: dict[str, Any], logical_id: str) -> None:
    code_uri, function_name = FUNCTION_CODE[logical_id]
    properties = function_properties(template, logical_id)
    assert properties["CodeUri"] == code_uri
    assert properties["Handler"] == "handler.lambda_handler"
    source = (REPO_ROOT / code_uri / "handler.py").read_text(encoding="utf-8")
    assert re.search(r"^def lambda_handler\(", source, re.MULTILINE), f"{code_uri}handler.py"
    assert sub_string(properties["FunctionName"]) == function_name


def test_event_function_has_time_for_vonage_and_its_retries(template: dict[str, Any]) -> None:
    assert function_properties(template, "RevokeEventFunction")["Timeout"] == 30
    assert function_properties(template, "RevokeWorkerFunction")["Timeout"] == 30
    assert function_properties(template, "RevokeApiFunction")["Timeout"] == 15


def test_dependencies_layer_is_built_for_python313_arm64(template: dict[str, Any]) -> None:
    layer = template["Resources"]["DependenciesLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    properties = layer["Properties"]
    assert properties["ContentUri"] == "layers/dependencies/"
    assert (REPO_ROOT / properties["ContentUri"] / "requirements.txt").is_file()
    # The Makefile target sam build runs fetches arm64 wheels for 3.13 and compiles the bytecode once.
    makefile = (REPO_ROOT / properties["ContentUri"] / "Makefile").read_text()
    assert "build-DependenciesLayer:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile
    assert "compileall" in makefile
    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]
    assert properties["RetentionPolicy"] == "Delete"


def test_revoker_layer_is_built_with_its_bytecode(template: dict[str, Any]) -> None:
    layer = template["Resources"]["RevokerLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (REPO_ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert "build-RevokerLayer:" in makefile
    assert '"$(ARTIFACTS_DIR)/python"' in makefile  # Lambda adds /opt/python to sys.path
    assert "compileall" in makefile
    properties = layer["Properties"]
    assert properties["ContentUri"] == "layers/revoker/"
    assert (REPO_ROOT / properties["ContentUri"] / "python" / "rcs_revoker" / "__init__.py").is_file()
    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]


# --------------------------------------------------------------------------- API


def api_routes(template: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(METHOD, path, function, event id, event properties) of every Api event."""
    return [
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id, name, event["Properties"])
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] == "Api"
    ]


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


def test_the_api_has_no_other_route(template: dict[str, Any]) -> None:
    assert {route[:2] for route in api_routes(template)} == set(API_ROUTES)


def test_sam_requires_sigv4_on_every_route_of_the_definition(translated: dict[str, Any]) -> None:
    # What API Gateway gets: SAM's definition of RevocationApi, every method with the AWS_IAM scheme.
    body = translated["Resources"]["RevocationApi"]["Properties"]["Body"]
    methods = {
        (method.upper(), path): operation
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert set(methods) == set(API_ROUTES)
    for route, operation in methods.items():
        assert operation["security"] == [{"AWS_IAM": []}], route
        uri = sub_string(operation["x-amazon-apigateway-integration"]["uri"])
        assert "${RevokeApiFunction.Arn}" in uri, route
    assert body["components"]["securitySchemes"]["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_api_requires_sigv4_on_every_route(template: dict[str, Any]) -> None:
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


# --------------------------------------------------------------------------- EventBridge


def test_event_bus_is_created_unless_one_is_named(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["EventBusName"]
    assert parameter["Type"] == "String"
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"], "orders-bus")
    # A name, not an ARN: the ARN is built from it for the PutEvents permission.
    assert not re.fullmatch(parameter["AllowedPattern"], "arn:aws:events:eu-west-1:123456789012:event-bus/x")
    assert template["Conditions"]["CreateEventBus"] == {"Fn::Equals": [{"Ref": "EventBusName"}, ""]}
    bus = template["Resources"]["RevocationEventBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Condition"] == "CreateEventBus"
    assert sub_string(bus["Properties"]["Name"]) == "${AWS::StackName}-revocations"


def revocation_rule(template: dict[str, Any]) -> dict[str, Any]:
    function_id, event_name = RULE_EVENT
    event = function_properties(template, function_id)["Events"][event_name]
    assert event["Type"] == "EventBridgeRule"
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_every_eventbridge_rule_is_the_revocation_rule(template: dict[str, Any]) -> None:
    rules = [
        (logical_id, name)
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] in {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2"}
    ]
    assert rules == [RULE_EVENT]


def test_rule_matches_revocation_requests_from_the_configured_sources(template: dict[str, Any]) -> None:
    rule = revocation_rule(template)
    assert rule["Pattern"] == {
        "source": {"Ref": "RevocationRequestSources"},
        "detail-type": ["RCS Revocation Requested"],
    }
    parameter = template["Parameters"]["RevocationRequestSources"]
    assert parameter["Type"] == "CommaDelimitedList"
    assert parameter["Default"] == "rcs.sender"


def test_rule_never_matches_the_outcome_events(template: dict[str, Any]) -> None:
    # Outcomes go to the same bus: matching them would have the function revoke its own outcomes, forever.
    rule = revocation_rule(template)
    assert ACCEPTED_DETAIL_TYPE not in rule["Pattern"]["detail-type"]
    assert REJECTED_DETAIL_TYPE not in rule["Pattern"]["detail-type"]
    default_sources = template["Parameters"]["RevocationRequestSources"]["Default"].split(",")
    assert OUTCOME_SOURCE not in [source.strip() for source in default_sources]


def test_requests_and_outcomes_use_the_same_bus(template: dict[str, Any]) -> None:
    assert revocation_rule(template)["EventBusName"] == EVENT_BUS_NAME
    for logical_id, properties in functions(template).items():
        assert properties["Environment"]["Variables"]["EVENT_BUS_NAME"] == EVENT_BUS_NAME, logical_id


def test_rule_retries_delivery_for_a_day_then_dead_letters(template: dict[str, Any]) -> None:
    rule = revocation_rule(template)
    # Past 24 hours Vonage cannot revoke the message anyway; 185 is EventBridge's maximum.
    assert rule["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    # The queue defined (and encrypted, alarmed) in the template, not one SAM would make with Type: SQS.
    assert rule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}}


def test_only_the_revocation_rule_may_send_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    policies = [
        policy["Properties"]
        for policy in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": "RevocationRequestsDeadLetterQueue"} in policy["Properties"]["Queues"]
    ]
    assert len(policies) == 1
    assert policies[0]["Queues"] == [{"Ref": "RevocationRequestsDeadLetterQueue"}]
    (statement,) = as_list(policies[0]["PolicyDocument"]["Statement"])
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}
    # SAM names the rule it generates <function logical id><event name>.
    rule_id = "".join(RULE_EVENT)
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_sam_generates_the_rule_the_queue_policy_names(translated: dict[str, Any]) -> None:
    # Neither cfn-lint nor sam validate checks a !GetAtt on a resource SAM generates: this does.
    rule = translated["Resources"]["".join(RULE_EVENT)]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["EventBusName"] == EVENT_BUS_NAME
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RevokeEventFunction", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RevocationRequestsDeadLetterQueue", "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    # SAM created no dead-letter queue or queue policy of its own.
    assert set(resources(translated, "AWS::SQS::Queue")) == FAILURE_QUEUES | WORK_QUEUES
    assert sorted(resources(translated, "AWS::SQS::QueuePolicy")) == ["RevocationRequestsDeadLetterQueuePolicy"]


def test_every_reference_resolves_after_translation(translated: dict[str, Any]) -> None:
    known = set(translated["Resources"]) | set(translated.get("Parameters", {}))

    def references(value: Any) -> list[str]:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return [value["Ref"]]
            if set(value) == {"Fn::GetAtt"}:
                return [value["Fn::GetAtt"][0]]
            if set(value) == {"Fn::Sub"}:
                text = sub_string(value)
                local = set(value["Fn::Sub"][1]) if isinstance(value["Fn::Sub"], list) else set()
                names = [name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)]
                return [name for name in names if name not in local]
            return [name for item in value.values() for name in references(item)]
        if isinstance(value, list):
            return [name for item in value for name in references(item)]
        return []

    unresolved = {
        name
        for name in references(translated["Resources"]) + references(translated.get("Outputs", {}))
        if not name.startswith("AWS::") and name not in known
    }
    assert not unresolved


def test_failed_invocations_are_retried_then_kept(template: dict[str, Any]) -> None:
    config = function_properties(template, "RevokeEventFunction")["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    assert config["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["RevokeEventFailuresQueue", "Arn"]}}
    }


def test_sam_lets_each_function_send_to_its_own_queue_only(translated: dict[str, Any]) -> None:
    invoke_config = translated["Resources"]["RevokeEventFunctionEventInvokeConfig"]["Properties"]
    assert invoke_config["FunctionName"] == {"Ref": "RevokeEventFunction"}
    # The event function: its on-failure destination (added by SAM). The API function: the revocation
    # queue (its own statement). The worker consumes, never sends (its failures are redriven by SQS).
    expected = {
        "RevokeEventFunction": [{"Fn::GetAtt": ["RevokeEventFailuresQueue", "Arn"]}],
        "RevokeApiFunction": [{"Fn::GetAtt": ["RevocationQueue", "Arn"]}],
        "RevokeWorkerFunction": [],
    }
    for function_id, resources_sent_to in expected.items():
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        sends = [
            statement
            for policy in role["Policies"]
            for statement in as_list(policy["PolicyDocument"]["Statement"])
            if "sqs:SendMessage" in as_list(statement["Action"])
        ]
        assert all(as_list(statement["Action"]) == ["sqs:SendMessage"] for statement in sends), function_id
        assert [resource for s in sends for resource in as_list(s["Resource"])] == resources_sent_to, function_id


@pytest.mark.parametrize("logical_id", sorted(FAILURE_QUEUES))
def test_failure_queues_are_encrypted_and_keep_messages_two_weeks(template: dict[str, Any], logical_id: str) -> None:
    queue = template["Resources"][logical_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    # SSE-SQS: with SSE-KMS, EventBridge and Lambda would need a key policy granting them the key.
    assert properties["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in properties
    assert properties["MessageRetentionPeriod"] == FOURTEEN_DAYS


# --------------------------------------------------------------------------- bulk revocations


def worker_event(template: dict[str, Any]) -> dict[str, Any]:
    function_id, event_name = WORKER_EVENT
    event = function_properties(template, function_id)["Events"][event_name]
    assert event["Type"] == "SQS"
    properties: dict[str, Any] = event["Properties"]
    return properties


def test_worker_is_the_only_queue_consumer(template: dict[str, Any]) -> None:
    consumers = [
        (logical_id, name)
        for logical_id, properties in functions(template).items()
        for name, event in properties.get("Events", {}).items()
        if event["Type"] == "SQS"
    ]
    assert consumers == [WORKER_EVENT]


def test_worker_consumes_the_revocation_queue_at_a_bounded_concurrency(template: dict[str, Any]) -> None:
    event = worker_event(template)
    assert event["Queue"] == {"Fn::GetAtt": ["RevocationQueue", "Arn"]}
    assert event["BatchSize"] == 10
    assert event["MaximumBatchingWindowInSeconds"] == 1
    # Only the failed messages of a batch return to the queue.
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The bound on concurrent Vonage calls (its rate limit).
    assert event["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert "Enabled" not in event or event["Enabled"] is True


def test_worker_parameters(template: dict[str, Any]) -> None:
    concurrency = template["Parameters"]["WorkerMaxConcurrency"]
    # 2 to 1000: the range an SQS event source's maximum concurrency accepts.
    assert (concurrency["Type"], concurrency["Default"]) == ("Number", 5)
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (2, 1000)
    receives = template["Parameters"]["WorkerMaxReceiveCount"]
    assert (receives["Type"], receives["Default"]) == ("Number", 10)
    assert receives["MinValue"] == 1
    assert receives["MaxValue"] == 1000  # SQS's limit for maxReceiveCount


def test_sam_maps_the_queue_to_the_worker(translated: dict[str, Any]) -> None:
    # SAM names the event source mapping <function logical id><event name>.
    mapping = translated["Resources"]["".join(WORKER_EVENT)]
    assert mapping["Type"] == "AWS::Lambda::EventSourceMapping"
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Fn::GetAtt": ["RevocationQueue", "Arn"]}
    assert properties["FunctionName"] == {"Ref": "RevokeWorkerFunction"}
    assert properties["BatchSize"] == 10
    assert properties["MaximumBatchingWindowInSeconds"] == 1
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    assert properties.get("Enabled", True) is True
    assert len(resources(translated, "AWS::Lambda::EventSourceMapping")) == 1


def test_revocation_queue_redrives_to_its_dead_letter_queue(template: dict[str, Any]) -> None:
    queue = template["Resources"]["RevocationQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    properties = queue["Properties"]
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RevocationQueueDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "WorkerMaxReceiveCount"},
    }
    assert properties["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in properties
    assert properties["MessageRetentionPeriod"] == FOUR_DAYS
    # A standard queue's message keeps its first enqueue time in the dead-letter queue: the dead-letter
    # queue must keep messages longer than the source queue, or they expire there before anyone looks.
    dead_letter = template["Resources"]["RevocationQueueDeadLetterQueue"]["Properties"]
    assert dead_letter["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dead_letter


def test_revocation_queue_visibility_timeout_is_six_worker_timeouts(template: dict[str, Any]) -> None:
    # AWS's recommendation for a Lambda event source: Lambda can retry a throttled batch before the
    # messages reappear. (Lambda rejects a mapping whose function timeout exceeds the visibility timeout.)
    timeout = function_properties(template, "RevokeWorkerFunction")["Timeout"]
    visibility = template["Resources"]["RevocationQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * timeout
    assert visibility == 180


def test_ledger_table_keys_index_and_ttl(template: dict[str, Any]) -> None:
    table = template["Resources"]["LedgerTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "batch_id", "AttributeType": "S"},
        {"AttributeName": "message_uuid", "AttributeType": "S"},
    ]
    (index,) = properties["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "batch_id", "KeyType": "HASH"},
        {"AttributeName": "message_uuid", "KeyType": "RANGE"},
    ]
    # What the batch view shows, and nothing more: every ledger write is also written to the index.
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(index["Projection"]["NonKeyAttributes"]) == ["attempts", "last_error", "state"]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert dynamodb_ttl_attribute(template, "LedgerTable") == "expires_at"
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in index
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # The record of what was revoked outlives the stack and a replacement.
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


# --------------------------------------------------------------------------- permissions


def test_functions_have_exactly_the_expected_actions(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        assert logical_id in EXPECTED_ACTIONS, f"{logical_id}: list its permissions in EXPECTED_ACTIONS"
        statements = policy_statements(properties)
        actions = [action for statement in statements for action in as_list(statement["Action"])]
        assert sorted(actions) == sorted(EXPECTED_ACTIONS[logical_id]), logical_id
        assert all(statement["Effect"] == "Allow" for statement in statements)
        assert "Role" not in properties, f"{logical_id}: a hand-made role escapes these checks"
    assert set(EXPECTED_ACTIONS) == set(functions(template)), "EXPECTED_ACTIONS lists a function that is gone"


def test_no_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        for statement in policy_statements(properties):
            assert "NotAction" not in statement, logical_id
            assert "NotResource" not in statement, logical_id
            for text in strings_in(statement["Action"]) + strings_in(statement["Resource"]):
                assert "*" not in text, f"{logical_id}: {text!r}"


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_secret_access_is_scoped_to_the_vonage_secret(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    (secret,) = [s for s in statements if as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]]
    (resource,) = as_list(secret["Resource"])
    assert sub_string(resource) == (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${VonageSecretName}-??????"
    )
    parameter = template["Parameters"]["VonageSecretName"]
    assert parameter["Type"] == "String"
    assert parameter["MinLength"] == 1


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_table_access_is_scoped_per_table(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    by_resource = {json.dumps(as_list(s["Resource"]), sort_keys=True): as_list(s["Action"]) for s in dynamodb}
    assert len(by_resource) == len(dynamodb), "one statement per table (or index)"
    # Agents are looked up by key only; idempotency records get exactly what Powertools does with them;
    # ledger entries are read and updated (created by the API function only).
    expected = {
        json.dumps([{"Fn::GetAtt": ["AgentsTable", "Arn"]}]): ["dynamodb:GetItem"],
        json.dumps([{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]): IDEMPOTENCY_ACTIONS,
        json.dumps([{"Fn::GetAtt": ["LedgerTable", "Arn"]}]): LEDGER_ACTIONS[logical_id],
    }
    if logical_id == "RevokeApiFunction":
        # GET /batches/{batch_id}: a Query on the batch index only, never on the table itself.
        expected[json.dumps([LEDGER_INDEX_ARN])] = ["dynamodb:Query"]
    assert by_resource == expected


def test_the_queried_index_is_the_ledgers_batch_index(template: dict[str, Any]) -> None:
    # The index ARN in the policy is a string: a renamed index would leave the Query denied.
    (index,) = template["Resources"]["LedgerTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    statements = policy_statements(function_properties(template, "RevokeApiFunction"))
    (query,) = [s for s in statements if "dynamodb:Query" in as_list(s["Action"])]
    assert sub_string(as_list(query["Resource"])[0]) == "${LedgerTable.Arn}/index/" + index["IndexName"]


def test_queue_access_is_scoped_to_the_revocation_queue(template: dict[str, Any]) -> None:
    expected = {
        "RevokeApiFunction": ["sqs:SendMessage"],
        # A message Vonage rate-limited is delayed by its Retry-After.
        "RevokeWorkerFunction": ["sqs:ChangeMessageVisibility"],
        "RevokeEventFunction": [],
    }
    for logical_id, actions in expected.items():
        statements = policy_statements(function_properties(template, logical_id))
        sqs = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
        assert [a for s in sqs for a in as_list(s["Action"])] == actions, logical_id
        for statement in sqs:
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["RevocationQueue", "Arn"]}], logical_id


def test_sam_adds_the_sqs_execution_policy_to_the_worker_only(translated: dict[str, Any]) -> None:
    # SAM grants the worker's SQS event source receive/delete through this AWS managed policy, which is not
    # scoped to the queue (Resource "*"): the one unscoped grant of the stack, and it must stay the only one.
    base = [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    ]
    sqs_policy = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    for function_id in FUNCTION_CODE:
        role = translated["Resources"][f"{function_id}Role"]["Properties"]
        expected = [*base, sqs_policy] if function_id == "RevokeWorkerFunction" else base
        assert role["ManagedPolicyArns"] == expected, function_id
        # No inline sqs:ReceiveMessage/DeleteMessage either: the managed policy is all SAM adds.
        actions = [
            a for p in role["Policies"] for s in as_list(p["PolicyDocument"]["Statement"]) for a in as_list(s["Action"])
        ]
        assert "sqs:ReceiveMessage" not in actions, function_id
        assert "sqs:DeleteMessage" not in actions, function_id


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_outcome_events_go_to_the_revocation_bus_only(template: dict[str, Any], logical_id: str) -> None:
    statements = policy_statements(function_properties(template, logical_id))
    (put_events,) = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert as_list(put_events["Action"]) == ["events:PutEvents"]
    assert as_list(put_events["Resource"]) == [EVENT_BUS_ARN]


def test_no_secret_in_environment_variables(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        variables = properties.get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if SECRET_NAME.search(name):
                # Only a reference to a secret (its id, name or ARN), taken from a parameter or resource.
                assert REFERENCE_SUFFIX.search(name), f"{logical_id}: {name} looks like a secret"
                assert isinstance(value, dict), f"{logical_id}: {name} is a literal, expected a !Ref"
            for text in strings_in(value):
                assert "PRIVATE KEY" not in text, f"{logical_id}: {name}"
                assert not re.fullmatch(r"[A-Za-z0-9+/=_-]{32,}", text), f"{logical_id}: {name} = {text!r}"


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_ACTIONS))
def test_environment_names_the_configuration(template: dict[str, Any], logical_id: str) -> None:
    variables = function_properties(template, logical_id)["Environment"]["Variables"]
    assert variables == {
        "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
        "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "VONAGE_SECRET_ID": {"Ref": "VonageSecretName"},
        "AGENTS_TABLE_NAME": {"Ref": "AgentsTable"},
        "IDEMPOTENCY_TABLE_NAME": {"Ref": "IdempotencyTable"},
        "EVENT_BUS_NAME": EVENT_BUS_NAME,
        "DEFAULT_REGION": {"Ref": "DefaultRegion"},
        "LEDGER_TABLE_NAME": {"Ref": "LedgerTable"},
        "REVOCATION_QUEUE_URL": {"Ref": "RevocationQueue"},
        "MAX_RECEIVE_COUNT": {"Ref": "WorkerMaxReceiveCount"},
    }
    assert template["Parameters"]["DefaultRegion"]["AllowedValues"] == ["", "eu", "us", "ap"]


def test_worker_knows_the_receive_count_the_redrive_policy_uses(template: dict[str, Any]) -> None:
    # The worker tells a last attempt from one SQS will retry: both must come from the same parameter.
    variables = function_properties(template, "RevokeWorkerFunction")["Environment"]["Variables"]
    redrive = template["Resources"]["RevocationQueue"]["Properties"]["RedrivePolicy"]
    assert variables["MAX_RECEIVE_COUNT"] == redrive["maxReceiveCount"] == {"Ref": "WorkerMaxReceiveCount"}


# --------------------------------------------------------------------------- data and logs


def test_tables_are_on_demand_recoverable_encrypted_and_kept_as_needed(template: dict[str, Any]) -> None:
    # Agent configuration is not rebuilt by a deployment; idempotency records expire within a day anyway;
    # the ledger is the record of what was revoked (its TTL cleans it).
    expected_policy = {"AgentsTable": "Retain", "IdempotencyTable": "Delete", "LedgerTable": "Retain"}
    tables = resources(template, "AWS::DynamoDB::Table")
    assert set(tables) == set(expected_policy)
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert table["DeletionPolicy"] == expected_policy[logical_id], logical_id
        assert table["UpdateReplacePolicy"] == expected_policy[logical_id], logical_id


def test_stateful_resources_say_what_happens_to_their_data(template: dict[str, Any]) -> None:
    stateful = {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup", "AWS::KMS::Key"}
    found = [(i, r) for i, r in template["Resources"].items() if r["Type"] in stateful]
    assert len(found) >= 12
    for logical_id, resource in found:
        assert resource.get("DeletionPolicy") in {"Delete", "Retain"}, logical_id
        assert resource.get("UpdateReplacePolicy") == resource["DeletionPolicy"], logical_id


def test_each_function_logs_to_its_own_group_with_retention(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        group_ref = properties["LoggingConfig"]["LogGroup"]
        assert set(group_ref) == {"Ref"}, logical_id
        group = template["Resources"][group_ref["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        # Lambda's default group name for this function, so nothing else creates one without retention.
        expected = "/aws/lambda/" + sub_string(properties["FunctionName"])
        assert sub_string(group["Properties"]["LogGroupName"]) == expected
    assert 30 in template["Parameters"]["LogRetentionInDays"]["AllowedValues"]
    assert template["Parameters"]["LogRetentionInDays"]["Default"] == 30


# --------------------------------------------------------------------------- alarms, tags, outputs


def test_alarms_notify_the_alarm_topic(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        properties = alarm["Properties"]
        assert {"Ref": "AlarmTopic"} in properties["AlarmActions"], logical_id
        assert properties["TreatMissingData"] == "notBreaching", logical_id
        assert properties["Threshold"] == 1, logical_id
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", logical_id
        assert properties["Period"] == 300, logical_id
    watched = [
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"], a["Properties"]["Dimensions"])
        for a in alarms.values()
    ]
    for function_id in functions(template):
        dimension = [{"Name": "FunctionName", "Value": {"Ref": function_id}}]
        assert ("AWS/Lambda", "Errors", dimension) in watched, function_id
        assert ("AWS/Lambda", "Throttles", dimension) in watched, function_id
    (api_5xx,) = [dimensions for namespace, _, dimensions in watched if namespace == "AWS/ApiGateway"]
    api_dimensions = {d["Name"]: d["Value"] for d in api_5xx}
    # The metric is keyed by the API's name: it must be the name the API is given.
    assert api_dimensions == {
        "ApiName": template["Resources"]["RevocationApi"]["Properties"]["Name"],
        "Stage": template["Resources"]["RevocationApi"]["Properties"]["StageName"],
    }


def test_every_failure_queue_alarms_on_its_first_message(template: dict[str, Any]) -> None:
    # A new queue must be classified: a failure queue (alarmed on depth) or a work queue (not).
    assert set(resources(template, "AWS::SQS::Queue")) == FAILURE_QUEUES | WORK_QUEUES
    depth_alarms = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "AWS/SQS"
    }
    assert set(depth_alarms) == FAILURE_QUEUES
    for queue, properties in depth_alarms.items():
        assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible", queue
        assert properties["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}},
        ]
        # A depth: the alarm stays on while a single message waits, not only when one arrives.
        assert properties["Statistic"] == "Maximum", queue
        assert properties["Threshold"] == 1, queue


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(template: dict[str, Any]) -> None:
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    # CloudWatch cannot publish to a topic encrypted with the AWS-managed alias/aws/sns key.
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = template["Resources"]["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(cloudwatch) == 1
    assert set(as_list(cloudwatch[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_alarm_email_is_optional(template: dict[str, Any]) -> None:
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert subscription["Properties"]["Protocol"] == "email"
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_every_taggable_resource_is_tagged(template: dict[str, Any]) -> None:
    global_function = template.get("Globals", {}).get("Function", {})
    for logical_id, resource in template["Resources"].items():
        resource_type = resource["Type"]
        assert resource_type in TAGGABLE | UNTAGGABLE, f"{logical_id}: classify {resource_type}"
        if resource_type in UNTAGGABLE:
            continue
        properties = resource.get("Properties", {})
        if resource_type == "AWS::Serverless::Function":
            properties = merge_globals(global_function, properties)
        tags = tags_of(resource_type, properties)
        assert tags.get(SERVICE_TAG[0]) == SERVICE_TAG[1], f"{logical_id} is not tagged {SERVICE_TAG}"


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert sub_string(outputs["ApiUrl"]["Value"]) == (
        "https://${RevocationApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"
    )
    assert sub_string(outputs["RevokeEndpoint"]["Value"]) == (
        sub_string(outputs["ApiUrl"]["Value"]) + "/messages/{message_uuid}/revoke"
    )
    assert outputs["AgentsTableName"]["Value"] == {"Ref": "AgentsTable"}
    assert outputs["RevokeApiFunctionName"]["Value"] == {"Ref": "RevokeApiFunction"}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    assert outputs["EventBusName"]["Value"] == EVENT_BUS_NAME
    assert outputs["IdempotencyTableName"]["Value"] == {"Ref": "IdempotencyTable"}
    assert outputs["RevokeEventFunctionName"]["Value"] == {"Ref": "RevokeEventFunction"}
    # Ref of a queue is its URL.
    assert outputs["RevocationRequestsDeadLetterQueueUrl"]["Value"] == {"Ref": "RevocationRequestsDeadLetterQueue"}
    assert outputs["RevokeEventFailuresQueueUrl"]["Value"] == {"Ref": "RevokeEventFailuresQueue"}
    assert (
        sub_string(outputs["SubmitBatchEndpoint"]["Value"]) == sub_string(outputs["ApiUrl"]["Value"]) + "/revocations"
    )
    assert ("POST", "/revocations") in API_ROUTES
    assert outputs["LedgerTableName"]["Value"] == {"Ref": "LedgerTable"}
    assert outputs["RevocationQueueUrl"]["Value"] == {"Ref": "RevocationQueue"}
    assert outputs["RevocationQueueDeadLetterQueueUrl"]["Value"] == {"Ref": "RevocationQueueDeadLetterQueue"}
    assert outputs["RevokeWorkerFunctionName"]["Value"] == {"Ref": "RevokeWorkerFunction"}


# --------------------------------------------------------------------------- offline.cfn_template


def test_create_table_kwargs_match_the_template(template: dict[str, Any]) -> None:
    kwargs = dynamodb_create_table_kwargs(template, "AgentsTable", "agents-test")
    assert kwargs == {
        "TableName": "agents-test",
        "KeySchema": [{"AttributeName": "agent_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "agent_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert dynamodb_ttl_attribute(template, "AgentsTable") is None


def test_idempotency_table_has_powertools_key_and_ttl(template: dict[str, Any]) -> None:
    # Powertools' DynamoDBPersistenceLayer defaults: key attribute "id", expiry attribute "expiration".
    kwargs = dynamodb_create_table_kwargs(template, "IdempotencyTable", "idempotency-test")
    assert kwargs == {
        "TableName": "idempotency-test",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert dynamodb_ttl_attribute(template, "IdempotencyTable") == "expiration"


def test_ledger_create_table_kwargs_include_the_batch_index(template: dict[str, Any]) -> None:
    kwargs = dynamodb_create_table_kwargs(template, "LedgerTable", "ledger-test")
    assert kwargs["TableName"] == "ledger-test"
    assert kwargs["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": LEDGER_INDEX,
            "KeySchema": [
                {"AttributeName": "batch_id", "KeyType": "HASH"},
                {"AttributeName": "message_uuid", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state", "last_error", "attempts"]},
        }
    ]


def test_ledger_create_table_kwargs_are_accepted_by_dynamodb(template: dict[str, Any]) -> None:
    import boto3
    import moto

    with moto.mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(**dynamodb_create_table_kwargs(template, "LedgerTable", "ledger"))
        described = client.describe_table(TableName="ledger")["Table"]
        # The batch view's query works on the index as created.
        client.put_item(
            TableName="ledger",
            Item={"message_uuid": {"S": "m-1"}, "batch_id": {"S": "b-1"}, "state": {"S": "revoked"}},
        )
        client.put_item(TableName="ledger", Item={"message_uuid": {"S": "m-2"}, "state": {"S": "revoked"}})
        items = client.query(
            TableName="ledger",
            IndexName=LEDGER_INDEX,
            KeyConditionExpression="batch_id = :batch",
            ExpressionAttributeValues={":batch": {"S": "b-1"}},
        )["Items"]
    assert described["KeySchema"] == [{"AttributeName": "message_uuid", "KeyType": "HASH"}]
    (index,) = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LEDGER_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "batch_id", "KeyType": "HASH"},
        {"AttributeName": "message_uuid", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    # Sparse: the entry without a batch_id is not in the index.
    assert [item["message_uuid"]["S"] for item in items] == ["m-1"]


@pytest.mark.parametrize(("logical_id", "key"), [("AgentsTable", "agent_id"), ("IdempotencyTable", "id")])
def test_create_table_kwargs_are_accepted_by_dynamodb(template: dict[str, Any], logical_id: str, key: str) -> None:
    import boto3
    import moto

    with moto.mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(**dynamodb_create_table_kwargs(template, logical_id, "table"))
        described = client.describe_table(TableName="table")["Table"]
    assert described["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]


def test_create_table_kwargs_rejects_what_is_not_a_table(template: dict[str, Any]) -> None:
    with pytest.raises(KeyError):
        dynamodb_create_table_kwargs(template, "AlarmTopic", "x")
    with pytest.raises(KeyError):
        dynamodb_create_table_kwargs(template, "NoSuchTable", "x")


def test_indexes_and_ttl_are_read_from_the_template(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Resources:
  Jobs:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: status, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: by-status
          KeySchema: [{AttributeName: status, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
          ContributorInsightsSpecification: {Enabled: true}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
""",
        encoding="utf-8",
    )
    template = load_template(path)
    kwargs = dynamodb_create_table_kwargs(template, "Jobs", "jobs")
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert dynamodb_ttl_attribute(template, "Jobs") == "expires_at"


def test_short_form_tags_become_long_form(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Conditions:
  A: !Equals [!Ref Env, prod]
  B: !Not [!Condition A]
  C: !And [!Condition A, !Or [!Condition B, !Condition A]]
Outputs:
  Arn: {Value: !GetAtt Table.StreamArn}
  Arn2: {Value: !GetAtt [Table, Arn]}
  Nested: {Value: !GetAtt Stack.Outputs.Name}
  Sub: {Value: !Sub "${AWS::StackName}-x"}
  SubList: {Value: !Sub ["${A}", {A: !Ref B}]}
  If: {Value: !If [A, !Ref AWS::NoValue, x]}
  Join: {Value: !Join [",", [!Select [0, !Split [",", "a,b"]], !ImportValue Shared]]}
  Map: {Value: !FindInMap [M, !Ref AWS::Region, k]}
  Misc: {Value: [!Base64 "x", !GetAZs "", !Cidr ["10.0.0.0/16", 4, 8]]}
""",
        encoding="utf-8",
    )
    template = load_template(path)
    assert template["Conditions"] == {
        "A": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "B": {"Fn::Not": [{"Condition": "A"}]},
        "C": {"Fn::And": [{"Condition": "A"}, {"Fn::Or": [{"Condition": "B"}, {"Condition": "A"}]}]},
    }
    values = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert values["Arn"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert values["Arn2"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert values["Nested"] == {"Fn::GetAtt": ["Stack", "Outputs.Name"]}
    assert values["Sub"] == {"Fn::Sub": "${AWS::StackName}-x"}
    assert values["SubList"] == {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}
    assert values["If"] == {"Fn::If": ["A", {"Ref": "AWS::NoValue"}, "x"]}
    assert values["Join"] == {
        "Fn::Join": [",", [{"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, {"Fn::ImportValue": "Shared"}]]
    }
    assert values["Map"] == {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "k"]}
    assert values["Misc"] == [
        {"Fn::Base64": "x"},
        {"Fn::GetAZs": ""},
        {"Fn::Cidr": ["10.0.0.0/16", 4, 8]},
    ]


def test_loader_stays_safe(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(Exception, match="python/object"):
        load_template(path)
