"""The functions and their layers: runtime, architecture, memory, tracing, code and handler, timeouts, environment."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infrastructure.cfn_evaluate import Deployment
from tests.infrastructure.sam_template import (
    EVENT_BUS_NAME,
    FUNCTION_CODE,
    REPO_ROOT,
    function_properties,
    functions,
    live_alias,
    strings_in,
    sub_string,
)

SECRET_NAME = re.compile(r"PRIVATE_KEY|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|CREDENTIAL|JWT", re.IGNORECASE)
REFERENCE_SUFFIX = re.compile(r"_(ID|NAME|ARN)$")


def test_every_function_runs_python313_on_arm64_with_both_layers(template: dict[str, Any]) -> None:
    for logical_id, properties in functions(template).items():
        assert properties.get("Runtime") == "python3.13", logical_id
        assert properties.get("Architectures") == ["arm64"], logical_id
        assert {"Ref": "DependenciesLayer"} in properties.get("Layers", []), logical_id
        assert {"Ref": "RevokerLayer"} in properties.get("Layers", []), logical_id
        # No SDK tracing (its measured cold-start cost is in the template): Lambda's own segments only.
        assert "Tracing" not in properties, logical_id


# Each function's memory is a parameter of its own; its default is chosen from `make bench`'s cost x latency
# table (docs/performance.md): the synchronous ones a person or Vonage waits on at 512 MB, the others at 256 MB.
MEMORY_DEFAULTS = {
    "RevokeApiFunction": ("RevokeApiMemorySize", 512),
    "StatusWebhookFunction": ("StatusWebhookMemorySize", 512),
    "RevokeEventFunction": ("RevokeEventMemorySize", 256),
    "RevokeWorkerFunction": ("RevokeWorkerMemorySize", 256),
    "RevokeTimerFunction": ("RevokeTimerMemorySize", 256),
    "OutcomePublisherFunction": ("OutcomePublisherMemorySize", 256),
    "ReconcilerFunction": ("ReconcilerMemorySize", 256),
}


def test_each_function_has_a_memory_parameter_of_its_own(template: dict[str, Any]) -> None:
    assert set(MEMORY_DEFAULTS) == set(functions(template))
    for logical_id, properties in functions(template).items():
        parameter, default = MEMORY_DEFAULTS[logical_id]
        assert properties["MemorySize"] == {"Ref": parameter}, logical_id
        declared = template["Parameters"][parameter]
        assert (declared["Type"], declared["Default"], declared["MinValue"]) == ("Number", default, 128), parameter


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


def test_function_timeouts_leave_time_for_vonage_and_its_retries(template: dict[str, Any]) -> None:
    assert function_properties(template, "RevokeEventFunction")["Timeout"] == 30
    assert function_properties(template, "RevokeWorkerFunction")["Timeout"] == 30
    # A batch of fired timers is a batch of Vonage calls, as for the worker.
    assert function_properties(template, "RevokeTimerFunction")["Timeout"] == 30
    assert function_properties(template, "RevokeApiFunction")["Timeout"] == 15
    # A status callback is one signature check, one ledger read and one write: Vonage wants its answer quickly.
    assert function_properties(template, "StatusWebhookFunction")["Timeout"] == 10
    # A batch of up to 100 ledger changes, put on the bus with EventBridge's retries.
    assert function_properties(template, "OutcomePublisherFunction")["Timeout"] == 30


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


# What every function is told (the Globals), and what one function is told besides.
SHARED_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
    "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "VONAGE_SECRET_ID": {"Ref": "VonageSecretName"},
    "VONAGE_APPLICATIONS": {"Ref": "VonageApplications"},
    "AGENTS_TABLE_NAME": {"Ref": "AgentsTable"},
    "IDEMPOTENCY_TABLE_NAME": {"Ref": "IdempotencyTable"},
    "DEFAULT_REGION": {"Ref": "DefaultRegion"},
    "LEDGER_TABLE_NAME": {"Ref": "LedgerTable"},
    "REVOCATION_QUEUE_URL": {"Ref": "RevocationQueue"},
    "MAX_RECEIVE_COUNT": {"Ref": "WorkerMaxReceiveCount"},
    # Deferred revocations: every function may arm, end or re-arm a timer (test_timers.py).
    "TIMER_QUEUE_URL": {"Ref": "TimerQueue"},
    "TIMER_QUEUE_ARN": {"Fn::GetAtt": ["TimerQueue", "Arn"]},
    "TIMER_DEAD_LETTER_QUEUE_ARN": {"Fn::GetAtt": ["TimerDeadLetterQueue", "Arn"]},
    "TIMER_SCHEDULE_GROUP": {"Ref": "TimerScheduleGroup"},
    "TIMER_SCHEDULER_ROLE_ARN": {"Fn::GetAtt": ["TimerSchedulerRole", "Arn"]},
}
# The bus only for the function that puts outcome events on it.
OWN_ENVIRONMENT: dict[str, dict[str, Any]] = {"OutcomePublisherFunction": {"EVENT_BUS_NAME": EVENT_BUS_NAME}}


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_CODE))
def test_environment_names_the_configuration(template: dict[str, Any], logical_id: str) -> None:
    variables = function_properties(template, logical_id)["Environment"]["Variables"]
    assert variables == {**SHARED_ENVIRONMENT, **OWN_ENVIRONMENT.get(logical_id, {})}
    assert template["Parameters"]["DefaultRegion"]["AllowedValues"] == ["", "eu", "us", "ap"]
    assert set(OWN_ENVIRONMENT) <= set(FUNCTION_CODE), "OWN_ENVIRONMENT lists a function that is gone"


@pytest.mark.parametrize(("parameter", "apply_on"), [("off", "None"), ("on", "PublishedVersions")])
def test_snapstart_is_a_parameter_off_by_default_and_every_trigger_invokes_the_live_alias(
    translated: dict[str, Any], parameter: str, apply_on: str
) -> None:
    assert translated["Parameters"]["SnapStart"]["Default"] == "off"
    deployed = Deployment(translated, {"VonageSecretName": "vonage", "SnapStart": parameter}).resources()
    lambdas = {k: r for k, r in deployed.items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(lambdas) == set(FUNCTION_CODE)
    for logical_id, function in lambdas.items():
        assert function["Properties"]["SnapStart"] == {"ApplyOn": apply_on}, logical_id
        # SnapStart snapshots published versions only: each function has its alias on the version just published
        alias = deployed[live_alias(logical_id)]["Properties"]
        assert (alias["Name"], alias["FunctionName"]) == ("live", logical_id), logical_id
