"""What a deployer of template.yaml would notice: runtime, routes, auth, permissions, data safety, alarms.

The template is read through offline.cfn_template, the same reader the offline stack uses, so these
tests check the very document that is deployed. SAM Globals are merged in where SAM would merge them.
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

REPO_ROOT = DEFAULT_TEMPLATE.parent
SERVICE_TAG = ("service", "rcs-revoker")

# Every action each function may perform, exactly. A new permission must be added here on purpose.
EXPECTED_ACTIONS: dict[str, set[str]] = {
    "RevokeApiFunction": {"secretsmanager:GetSecretValue", "dynamodb:GetItem"},
}

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
}
UNTAGGABLE = {
    "AWS::Serverless::LayerVersion",
    "AWS::SNS::Subscription",
    "AWS::ApiGateway::Account",
    "AWS::CloudFormation::WaitConditionHandle",
}

SECRET_NAME = re.compile(r"PRIVATE_KEY|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|CREDENTIAL|JWT", re.IGNORECASE)
REFERENCE_SUFFIX = re.compile(r"_(ID|NAME|ARN)$")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


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


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def strings_in(value: Any) -> list[str]:
    """Every string inside a value, intrinsic functions included (for the '*' checks)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *strings_in(item)]]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


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


def test_function_code_and_handler(template: dict[str, Any]) -> None:
    properties = function_properties(template, "RevokeApiFunction")
    assert properties["CodeUri"] == "functions/revoke_api/"
    assert properties["Handler"] == "handler.lambda_handler"
    assert sub_string(properties["FunctionName"]) == "${AWS::StackName}-revoke-api"


def test_dependencies_layer_is_built_for_python313_arm64(template: dict[str, Any]) -> None:
    layer = template["Resources"]["DependenciesLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    properties = layer["Properties"]
    assert properties["ContentUri"] == "layers/dependencies/"
    assert (REPO_ROOT / properties["ContentUri"] / "requirements.txt").is_file()
    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]
    assert properties["RetentionPolicy"] == "Delete"


def test_revoker_layer_is_uploaded_as_is(template: dict[str, Any]) -> None:
    layer = template["Resources"]["RevokerLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    # No BuildMethod: the directory is zipped as it is, and must already have Lambda's python/ layout.
    assert "BuildMethod" not in layer.get("Metadata", {})
    properties = layer["Properties"]
    assert properties["ContentUri"] == "layers/revoker/"
    assert (REPO_ROOT / properties["ContentUri"] / "python" / "rcs_revoker" / "__init__.py").is_file()
    assert properties["CompatibleRuntimes"] == ["python3.13"]
    assert properties["CompatibleArchitectures"] == ["arm64"]


# --------------------------------------------------------------------------- API


def test_revoke_route_is_wired_to_the_function(template: dict[str, Any]) -> None:
    routes = [
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id, event["Properties"])
        for logical_id, properties in functions(template).items()
        for event in properties.get("Events", {}).values()
        if event["Type"] == "Api"
    ]
    matching = [route for route in routes if route[:2] == ("POST", "/messages/{message_uuid}/revoke")]
    assert len(matching) == 1, routes
    _, _, logical_id, event = matching[0]
    assert logical_id == "RevokeApiFunction"
    assert event["RestApiId"] == {"Ref": "RevocationApi"}
    # A route-level Auth could switch the API's default authorizer off.
    assert "Auth" not in event


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


# --------------------------------------------------------------------------- permissions


def test_functions_have_exactly_the_expected_actions(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        assert logical_id in EXPECTED_ACTIONS, f"{logical_id}: list its permissions in EXPECTED_ACTIONS"
        statements = policy_statements(properties)
        actions = [action for statement in statements for action in as_list(statement["Action"])]
        assert sorted(actions) == sorted(EXPECTED_ACTIONS[logical_id]), logical_id
        assert all(statement["Effect"] == "Allow" for statement in statements)
        assert "Role" not in properties, f"{logical_id}: a hand-made role escapes these checks"


def test_no_wildcard_action_or_resource(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        for statement in policy_statements(properties):
            assert "NotAction" not in statement, logical_id
            assert "NotResource" not in statement, logical_id
            for text in strings_in(statement["Action"]) + strings_in(statement["Resource"]):
                assert "*" not in text, f"{logical_id}: {text!r}"


def test_secret_access_is_scoped_to_the_vonage_secret(template: dict[str, Any]) -> None:
    statements = policy_statements(function_properties(template, "RevokeApiFunction"))
    (secret,) = [s for s in statements if as_list(s["Action"]) == ["secretsmanager:GetSecretValue"]]
    (resource,) = as_list(secret["Resource"])
    assert sub_string(resource) == (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${VonageSecretName}-??????"
    )
    parameter = template["Parameters"]["VonageSecretName"]
    assert parameter["Type"] == "String"
    assert parameter["MinLength"] == 1


def test_table_access_is_get_item_on_the_agents_table_only(template: dict[str, Any]) -> None:
    statements = policy_statements(function_properties(template, "RevokeApiFunction"))
    (table,) = [s for s in statements if as_list(s["Action"]) == ["dynamodb:GetItem"]]
    assert as_list(table["Resource"]) == [{"Fn::GetAtt": ["AgentsTable", "Arn"]}]


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


def test_environment_names_the_configuration(template: dict[str, Any]) -> None:
    variables = function_properties(template, "RevokeApiFunction")["Environment"]["Variables"]
    assert variables == {
        "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
        "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "VONAGE_SECRET_ID": {"Ref": "VonageSecretName"},
        "AGENTS_TABLE_NAME": {"Ref": "AgentsTable"},
        "DEFAULT_REGION": {"Ref": "DefaultRegion"},
    }
    assert template["Parameters"]["DefaultRegion"]["AllowedValues"] == ["", "eu", "us", "ap"]


# --------------------------------------------------------------------------- data and logs


def test_tables_are_on_demand_recoverable_encrypted_and_retained(template: dict[str, Any]) -> None:
    tables = resources(template, "AWS::DynamoDB::Table")
    assert "AgentsTable" in tables
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert table["DeletionPolicy"] == "Retain", logical_id
        assert table["UpdateReplacePolicy"] == "Retain", logical_id


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
    watched = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]["Dimensions"]
        for a in alarms.values()
    }
    function_dimension = [{"Name": "FunctionName", "Value": {"Ref": "RevokeApiFunction"}}]
    assert watched[("AWS/Lambda", "Errors")] == function_dimension
    assert watched[("AWS/Lambda", "Throttles")] == function_dimension
    api_dimensions = {d["Name"]: d["Value"] for d in watched[("AWS/ApiGateway", "5XXError")]}
    # The metric is keyed by the API's name: it must be the name the API is given.
    assert api_dimensions == {
        "ApiName": template["Resources"]["RevocationApi"]["Properties"]["Name"],
        "Stage": template["Resources"]["RevocationApi"]["Properties"]["StageName"],
    }


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


def test_create_table_kwargs_are_accepted_by_dynamodb(template: dict[str, Any]) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        client = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        client.create_table(**dynamodb_create_table_kwargs(template, "AgentsTable", "agents"))
        described = client.describe_table(TableName="agents")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "agent_id", "KeyType": "HASH"}]


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
