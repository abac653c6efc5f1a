"""offline.cfn_template, the reader of template.yaml that the tests and the offline stack share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from offline.cfn_template import dynamodb_create_table_kwargs, dynamodb_ttl_attribute, load_template


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


def test_a_table_stream_is_passed_on_as_the_template_declares_it(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Resources:
  Changes:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
""",
        encoding="utf-8",
    )
    template = load_template(path)

    assert dynamodb_create_table_kwargs(template, "Changes", "changes")["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert "StreamSpecification" not in dynamodb_create_table_kwargs(template, "Plain", "plain")


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
