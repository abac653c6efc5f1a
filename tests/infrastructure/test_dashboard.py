"""The operations dashboard: valid JSON as CloudFormation deploys it, every alarm on it, and a widget for each
question on-call asks (requests, outcomes with their fallback, Vonage's latency and errors, the bulk queue,
timers), whose log widgets read log lines the code writes."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import REPO_ROOT
from tests.infrastructure.cfn_evaluate import Deployment
from tests.infrastructure.sam_template import emitted_metrics, resources


def dashboard(template: dict[str, Any]) -> list[dict[str, Any]]:
    (properties,) = [
        resource["Properties"]
        for resource in Deployment(template, {"VonageSecretName": "vonage"}).resources().values()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    widgets: list[dict[str, Any]] = json.loads(properties["DashboardBody"])["widgets"]
    return widgets


def metrics_of(widgets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(metric, stat) of every metric a widget draws."""
    drawn = set()
    for widget in widgets:
        for line in widget["properties"].get("metrics", []):
            names = [part for part in line if isinstance(part, str)]
            options = next((part for part in line if isinstance(part, dict)), {})
            if len(names) >= 2:
                drawn.add((names[1], options.get("stat", widget["properties"].get("stat", ""))))
    return drawn


def test_the_dashboard_shows_every_alarm(template: dict[str, Any]) -> None:
    (alarm_widget,) = [w for w in dashboard(template) if w["type"] == "alarm"]
    shown = {arn.removesuffix(".Arn") for arn in alarm_widget["properties"]["alarms"]}
    assert shown == set(resources(template, "AWS::CloudWatch::Alarm"))


def test_the_dashboard_answers_what_on_call_asks(template: dict[str, Any]) -> None:
    drawn = metrics_of(dashboard(template))
    for wanted in (
        ("RevocationRequests", "Sum"),
        ("RevocationsAccepted", "Sum"),
        ("RevocationsRejected", "Sum"),
        ("VonageLatency", "p50"),
        ("VonageLatency", "p99"),
        ("VonageErrors", "Sum"),
        ("ApproximateNumberOfMessagesVisible", "Maximum"),
        ("ApproximateAgeOfOldestMessage", "Maximum"),
        ("ApproximateNumberOfMessagesDelayed", "Maximum"),
    ):
        assert wanted in drawn, wanted


def test_the_log_widgets_read_lines_the_code_writes(template: dict[str, Any]) -> None:
    code = "\n".join(path.read_text() for path in (REPO_ROOT / "layers" / "revoker" / "python").rglob("*.py"))
    queries = [w["properties"]["query"] for w in dashboard(template) if w["type"] == "log"]
    assert any("by detail_type, fallback" in query for query in queries)  # outcomes by kind and fallback
    assert any("by reason" in query for query in queries)  # rejections by reason
    for query in queries:
        for message in re.findall(r'message = "([^"]+)"', query):
            assert f'"{message}"' in code, message
        for group in re.findall(r"SOURCE '([A-Za-z]+)'", query):
            assert template["Resources"][group]["Type"] == "AWS::Logs::LogGroup", group


def test_every_service_metric_the_dashboard_draws_is_one_the_code_emits(template: dict[str, Any]) -> None:
    drawn = {
        line[1]
        for widget in dashboard(template)
        for line in widget["properties"].get("metrics", [])
        if line and line[0] == "RcsRevoker"
    }
    assert len(drawn) >= 10
    assert drawn - emitted_metrics() == set()
