"""`make agents FILE=...` (tools/load_agents.py) against the offline stack's agents table: every record checked
by the service's own rule, each bad one refused with its line and why, the good ones written and then used."""

import io
import json
from pathlib import Path
from typing import Any

import boto3

from tests.conftest import AGENTS_TABLE, Stack, body_of
from tests.timer_kit import new_uuid, revoke
from tools.load_agents import main

AGENTS_CSV = """agent_id,region,country,application
acme-eu-offers,eu,,
acme-sg-alerts,,sg,
brand-b-us,US,,brand-b
acme-nowhere,,,
acme-bad-region,mars,,
acme-bad-country,,XX,
acme-torn,us,GB,
acme bad id,eu,,
acme-bad-app,eu,,brand/b
acme-eu-offers,us,,
acme-extra,eu,,,surplus
"""


def load(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(args), out=out)
    return status, out.getvalue()


def table_items(stack: Stack) -> dict[str, dict[str, str]]:
    items = boto3.client("dynamodb", endpoint_url=stack.moto.endpoint_url).scan(TableName=AGENTS_TABLE)["Items"]
    return {
        item["agent_id"]["S"]: {name: value["S"] for name, value in item.items() if name != "agent_id"}
        for item in items
    }


def test_the_good_records_are_written_and_each_bad_one_refused_with_its_line(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text(AGENTS_CSV)

    status, output = load(str(path), "--table", AGENTS_TABLE)

    assert status == 1
    assert table_items(stack) == {
        "acme-eu-offers": {"region": "eu"},
        "acme-sg-alerts": {"country": "SG"},
        "brand-b-us": {"region": "us", "application": "brand-b"},
    }
    refused = [line.removeprefix(f"{path}: ") for line in output.splitlines()[:-1]]
    assert [line.split(":")[0] for line in refused] == [f"line {n}" for n in range(5, 13)]
    for words in (
        "needs a region",
        "region 'mars' is not one of eu, us, ap",
        "country 'XX' is not an ISO 3166-1 alpha-2 code",
        "region us and country GB (region eu) disagree",
        "agent_id 'acme bad id' must be 1 to 256 printable ASCII",
        "application 'brand/b' must be 1 to 64 letters",
        "'acme-eu-offers' is already on line 2",
        "more values than the header names",
    ):
        assert any(words in line for line in refused), words
    assert output.splitlines()[-1] == f"3 agents written to {AGENTS_TABLE}; 8 refused."
    # What was written is what the service then resolves
    answer = revoke(stack, new_uuid(), {"agent_id": "acme-sg-alerts"})
    assert body_of(answer)["region"] == "ap"


def test_check_only_writes_nothing(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text("agent_id,region\nacme-eu-offers,eu\n")

    assert load(str(path), "--table", AGENTS_TABLE, "--check") == (0, "1 agents good; 0 refused.\n")
    assert table_items(stack) == {}


def test_with_a_stack_its_table_is_written_and_an_application_it_does_not_serve_refused(
    stack: Stack, tmp_path: Path
) -> None:
    template = {
        "Parameters": {"VonageApplications": {"Type": "String", "Default": ""}},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"AgentsTableName": {"Value": AGENTS_TABLE}},
    }
    boto3.client("cloudformation", endpoint_url=stack.moto.endpoint_url).create_stack(
        StackName="rcs-revoker",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "VonageApplications", "ParameterValue": "brand-b"}],
    )
    path = tmp_path / "agents.jsonl"
    lines: list[Any] = [
        {"agent_id": "brand-b-ap", "region": "ap", "application": "brand-b"},
        {"agent_id": "brand-c-eu", "region": "eu", "application": "brand-c"},
        ["not", "an", "object"],
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    status, output = load(str(path), "--stack", "rcs-revoker")

    assert status == 1
    assert table_items(stack) == {"brand-b-ap": {"region": "ap", "application": "brand-b"}}
    assert "line 2: agent 'brand-c-eu' names the Vonage application 'brand-c', which the stack does not serve" in output
    assert "line 3: not a JSON object" in output


def test_a_file_without_a_header_is_refused_whole(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text("acme-eu-offers,eu\n")

    status, output = load(str(path), "--table", AGENTS_TABLE)

    assert status == 2
    assert "the first line must be a header naming agent_id" in output
    assert table_items(stack) == {}
