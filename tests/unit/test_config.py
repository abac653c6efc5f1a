"""Unit tests for load_settings: the environment into Settings, or a ConfigurationError naming the variable."""

import re

import pytest

from rcs_revoker.config import ConfigurationError, Settings, load_settings
from rcs_revoker.domain.regions import Region
from tests.conftest import REPO_ROOT

REQUIRED = {
    "VONAGE_SECRET_ID": "rcs-revoker/vonage",
    "AGENTS_TABLE_NAME": "rcs-agents",
    "IDEMPOTENCY_TABLE_NAME": "rcs-revocations",
}


def env(**overrides: str) -> dict[str, str]:
    return {**REQUIRED, **overrides}


def test_minimal_environment_gives_settings_without_optional_values() -> None:
    assert load_settings(dict(REQUIRED)) == Settings(
        vonage_secret_id="rcs-revoker/vonage",
        agents_table_name="rcs-agents",
        idempotency_table_name="rcs-revocations",
        ledger_table_name=None,
        event_bus_name=None,
        default_region=None,
        vonage_api_base_url=None,
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("rcs-outcomes", "rcs-outcomes"), (" bus ", "bus"), ("", None), (" ", None)]
)
def test_event_bus_is_optional(value: str, expected: str | None) -> None:
    # Without a bus, outcomes are only logged and counted (a deployment with no subscriber).
    assert load_settings(env(EVENT_BUS_NAME=value)).event_bus_name == expected


def test_values_are_stripped() -> None:
    padded = {name: f"  {value}\t\n" for name, value in REQUIRED.items()}
    assert load_settings(padded) == load_settings(dict(REQUIRED))


def test_unrelated_variables_are_ignored() -> None:
    assert load_settings(env(PATH="/usr/bin", AWS_REGION="eu-west-1")) == load_settings(dict(REQUIRED))


@pytest.mark.parametrize("name", list(REQUIRED))
@pytest.mark.parametrize("value", [None, "", "   ", "\t\n"], ids=["missing", "empty", "spaces", "whitespace"])
def test_missing_or_blank_required_variable_is_named(name: str, value: str | None) -> None:
    environ = dict(REQUIRED)
    if value is None:
        del environ[name]
    else:
        environ[name] = value
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ)
    assert str(caught.value) == f"Environment variable {name} is required but not set."


def test_empty_environment_names_the_first_required_variable() -> None:
    with pytest.raises(ConfigurationError, match="VONAGE_SECRET_ID"):
        load_settings({})


def test_configuration_error_is_a_runtime_error() -> None:
    # The handler module lets it escape at cold start: the function fails loudly instead of serving.
    assert issubclass(ConfigurationError, RuntimeError)


# --- DEFAULT_REGION -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eu", Region.EU),
        ("EU", Region.EU),
        ("us", Region.US),
        ("Us", Region.US),
        ("ap", Region.AP),
        (" aP ", Region.AP),
        ("", None),
        ("   ", None),
    ],
)
def test_default_region_in_any_case(value: str, expected: Region | None) -> None:
    assert load_settings(env(DEFAULT_REGION=value)).default_region is expected


@pytest.mark.parametrize("value", ["mars", "europe", "eu-west-1", "api-eu.nexmo.com", "e u", "GB"])
def test_invalid_default_region_is_named_with_the_valid_ones(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(DEFAULT_REGION=value))
    message = str(caught.value)
    assert "DEFAULT_REGION" in message
    assert repr(value) in message
    assert "eu, us, ap" in message


# --- VONAGE_API_BASE_URL ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8099", "http://127.0.0.1:8099"),
        ("http://127.0.0.1:8099/", "http://127.0.0.1:8099"),
        ("http://localhost:1234", "http://localhost:1234"),
        ("http://LOCALHOST:1234", "http://LOCALHOST:1234"),
        ("http://[::1]:80", "http://[::1]:80"),
        ("https://127.0.0.5/prefix/", "https://127.0.0.5/prefix"),
        ("https://127.0.0.5/prefix", "https://127.0.0.5/prefix"),
        ("  http://127.0.0.1:8099  ", "http://127.0.0.1:8099"),
        ("", None),
        ("  ", None),
    ],
)
def test_loopback_base_url_is_accepted_without_trailing_slash(value: str, expected: str | None) -> None:
    assert load_settings(env(VONAGE_API_BASE_URL=value)).vonage_api_base_url == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("https://api-eu.nexmo.com", id="vonage-host"),
        pytest.param("http://example.com:8099", id="public-host"),
        pytest.param("http://8.8.8.8", id="public-ip"),
        pytest.param("http://10.0.0.1:8099", id="private-10"),
        pytest.param("http://192.168.1.10", id="private-192-168"),
        pytest.param("http://172.16.0.1", id="private-172-16"),
        pytest.param("http://169.254.169.254/latest", id="link-local-metadata"),
        pytest.param("http://0.0.0.0:8099", id="unspecified"),
        pytest.param("http://[::]:8099", id="unspecified-v6"),
        pytest.param("http://[fd00::1]:8099", id="unique-local-v6"),
        pytest.param("http://localhost.example.com", id="localhost-prefix"),
        pytest.param("http://127.0.0.1.example.com", id="loopback-prefix"),
        pytest.param("http://127.0.0.1@example.com", id="userinfo-trick"),
        pytest.param("ftp://127.0.0.1/", id="ftp"),
        pytest.param("file:///tmp/x", id="file"),
        pytest.param("127.0.0.1:8099", id="no-scheme"),
        pytest.param("http://", id="missing-host"),
        pytest.param("http:///path", id="empty-host"),
        pytest.param("http://:8099", id="port-only"),
        pytest.param("http://127.0.0.1:8099/?debug=1", id="query"),
        pytest.param("http://127.0.0.1?a", id="query-without-path"),
        pytest.param("http://127.0.0.1:8099/#frag", id="fragment"),
    ],
)
def test_non_loopback_or_malformed_base_url_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(VONAGE_API_BASE_URL=value))
    assert "VONAGE_API_BASE_URL" in str(caught.value)


def test_non_loopback_host_is_named_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(VONAGE_API_BASE_URL="http://10.0.0.1:8099"))
    assert "must point at a loopback address" in str(caught.value)
    assert "'10.0.0.1'" in str(caught.value)


def test_base_url_is_checked_even_when_everything_else_is_valid() -> None:
    with pytest.raises(ConfigurationError, match="VONAGE_API_BASE_URL"):
        load_settings(env(DEFAULT_REGION="eu", VONAGE_API_BASE_URL="https://attacker.example"))


def test_ledger_is_optional() -> None:
    assert load_settings(env(LEDGER_TABLE_NAME=" ledger ")).ledger_table_name == "ledger"
    assert load_settings(env(LEDGER_TABLE_NAME="")).ledger_table_name is None


def test_bulk_settings_default_and_parse() -> None:
    assert load_settings(dict(REQUIRED)).revocation_queue_url is None
    assert load_settings(dict(REQUIRED)).max_receive_count == 10
    parsed = load_settings(env(REVOCATION_QUEUE_URL=" https://sqs/q ", MAX_RECEIVE_COUNT="3"))
    assert (parsed.revocation_queue_url, parsed.max_receive_count) == ("https://sqs/q", 3)


@pytest.mark.parametrize("value", ["0", "-1", "three", "2.5"])
def test_max_receive_count_must_be_a_positive_whole_number(value: str) -> None:
    with pytest.raises(ConfigurationError, match="MAX_RECEIVE_COUNT"):
        load_settings(env(MAX_RECEIVE_COUNT=value))


@pytest.mark.parametrize(
    "url", ["http://evil.example\\@127.0.0.1:8099", "http://user@127.0.0.1:8099", "http://a:b@localhost:1"]
)
def test_vonage_base_url_with_user_info_is_refused(url: str) -> None:
    # urllib3 would connect to "evil.example" for the first one, where urlsplit sees 127.0.0.1.
    with pytest.raises(ConfigurationError, match="VONAGE_API_BASE_URL"):
        load_settings(env(VONAGE_API_BASE_URL=url))


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every variable the service asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_configuration_reads_only_its_documented_variables() -> None:
    # Nothing read from the environment can switch TLS verification off or carry a secret: the list is fixed.
    environment = RecordingEnvironment(env())
    load_settings(environment)
    assert environment.asked == {
        "VONAGE_SECRET_ID",
        "AGENTS_TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "LEDGER_TABLE_NAME",
        "EVENT_BUS_NAME",
        "DEFAULT_REGION",
        "REVOCATION_QUEUE_URL",
        "MAX_RECEIVE_COUNT",
        "VONAGE_API_BASE_URL",
        "POWERTOOLS_IDEMPOTENCY_DISABLED",
        "WEBHOOK_MAX_AGE_S",
        "TIMER_QUEUE_URL",
        "TIMER_QUEUE_ARN",
        "TIMER_SCHEDULE_GROUP",
        "TIMER_SCHEDULER_ROLE_ARN",
        "TIMER_DEAD_LETTER_QUEUE_ARN",
        "TIMER_QUEUE_MAX_DELAY_S",
        "VONAGE_APPLICATIONS",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
    }


def test_only_the_configuration_reads_the_environment() -> None:
    # One place parses the environment: no module can grow its own switch (for TLS, say) unnoticed.
    package = REPO_ROOT / "layers" / "revoker" / "python"
    sources = [*(package / "rcs_revoker").rglob("*.py"), *(REPO_ROOT / "functions").rglob("*.py")]
    readers = {
        str(path.relative_to(REPO_ROOT))
        for path in sources
        if re.search(r"os\.environ|getenv\(", path.read_text(encoding="utf-8"))
    }
    assert readers == {
        "layers/revoker/python/rcs_revoker/config.py",
        "layers/revoker/python/rcs_revoker/observability.py",  # Powertools' service name and metrics namespace
    }


@pytest.mark.parametrize(
    ("value", "expected"), [("", False), ("false", False), ("0", False), ("true", True), ("1", True)]
)
def test_idempotency_switch_takes_powertools_spellings(value: str, expected: bool) -> None:
    assert load_settings(env(POWERTOOLS_IDEMPOTENCY_DISABLED=value)).idempotency_disabled is expected


def test_a_malformed_idempotency_switch_is_named() -> None:
    with pytest.raises(ConfigurationError, match="POWERTOOLS_IDEMPOTENCY_DISABLED"):
        load_settings(env(POWERTOOLS_IDEMPOTENCY_DISABLED="maybe"))


@pytest.mark.parametrize("value", ["1", "901"])
def test_the_timer_queue_delay_is_one_sqs_takes(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TIMER_QUEUE_MAX_DELAY_S"):
        load_settings({**env(), "TIMER_QUEUE_MAX_DELAY_S": value})
    assert load_settings({**env(), "TIMER_QUEUE_MAX_DELAY_S": "4"}).timer_queue_max_delay_s == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", frozenset()), ("brand-b", {"brand-b"}), (" brand-b , agency.c_1 ,", {"brand-b", "agency.c_1"})],
)
def test_the_other_vonage_applications_are_a_list_of_names(value: str, expected: set[str]) -> None:
    assert load_settings(env(VONAGE_APPLICATIONS=value)).vonage_applications == expected


@pytest.mark.parametrize("name", ["brand b", "-brand", "brand/b", "x" * 65])
def test_an_application_name_unfit_for_a_secret_name_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="VONAGE_APPLICATIONS names"):
        load_settings(env(VONAGE_APPLICATIONS=f"brand-a,{name}"))
