"""The service's configuration: read from the environment once, at cold start, into a typed object."""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Final
from urllib.parse import urlsplit

from rcs_revoker.domain.applications import APPLICATION_NAME_RULE, is_application_name
from rcs_revoker.domain.regions import REGION_NAMES, Region, parse_region


class ConfigurationError(RuntimeError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    vonage_secret_id: str
    agents_table_name: str
    idempotency_table_name: str
    # Empty: no ledger records (the bulk routes then answer 500); the template always sets it.
    ledger_table_name: str | None
    # The bus the outcome publisher (the ledger's stream) puts events on. Empty: they are logged, not published.
    event_bus_name: str | None = None
    default_region: Region | None = None
    # The bulk queue: needed by POST /revocations (API) and to delay messages (worker).
    revocation_queue_url: str | None = None
    # The queue's redrive maxReceiveCount: on the last receive a transient failure is final.
    max_receive_count: int = 10
    # Local runs and tests only: every PATCH goes here instead of https://api-{region}.nexmo.com.
    vonage_api_base_url: str | None = None
    # Powertools' own switch (POWERTOOLS_IDEMPOTENCY_DISABLED), for development and the bench only.
    idempotency_disabled: bool = False
    # A signed status callback older than this (its iat) is refused as a replay.
    webhook_max_age_s: int = 300
    # Deferred revocations (rcs_revoker.domain.timers): the timer queue, and the Scheduler group, role and
    # dead-letter queue of the schedules that wake the timers due past 15 minutes.
    timer_queue_url: str | None = None
    timer_queue_arn: str | None = None
    timer_schedule_group: str | None = None
    timer_scheduler_role_arn: str | None = None
    timer_dead_letter_queue_arn: str | None = None
    # Timers due within this many seconds are one delayed SQS message; later ones a schedule. 900 (SQS's
    # longest delay) in AWS; tests lower it to exercise the schedules without waiting a quarter of an hour.
    timer_queue_max_delay_s: int = 900
    # The Vonage applications served besides the default one (VONAGE_SECRET_ID's), by name: application
    # `brand-b`'s credentials are the secret `<VONAGE_SECRET_ID>/brand-b`, and its agents name it.
    vonage_applications: frozenset[str] = frozenset()
    # Set by Lambda (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) while it runs the init of a version that SnapStart
    # snapshots: the init then builds what the first request would (rcs_revoker.snapstart).
    snapshot_init: bool = False


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    return Settings(
        vonage_secret_id=_required(environ, "VONAGE_SECRET_ID"),
        agents_table_name=_required(environ, "AGENTS_TABLE_NAME"),
        idempotency_table_name=_required(environ, "IDEMPOTENCY_TABLE_NAME"),
        ledger_table_name=environ.get("LEDGER_TABLE_NAME", "").strip() or None,
        event_bus_name=environ.get("EVENT_BUS_NAME", "").strip() or None,
        default_region=_default_region(environ),
        revocation_queue_url=environ.get("REVOCATION_QUEUE_URL", "").strip() or None,
        max_receive_count=_positive_int(environ, "MAX_RECEIVE_COUNT", 10),
        vonage_api_base_url=_vonage_api_base_url(environ),
        idempotency_disabled=_flag(environ, "POWERTOOLS_IDEMPOTENCY_DISABLED"),
        webhook_max_age_s=_positive_int(environ, "WEBHOOK_MAX_AGE_S", 300),
        timer_queue_url=_optional(environ, "TIMER_QUEUE_URL"),
        timer_queue_arn=_optional(environ, "TIMER_QUEUE_ARN"),
        timer_schedule_group=_optional(environ, "TIMER_SCHEDULE_GROUP"),
        timer_scheduler_role_arn=_optional(environ, "TIMER_SCHEDULER_ROLE_ARN"),
        timer_dead_letter_queue_arn=_optional(environ, "TIMER_DEAD_LETTER_QUEUE_ARN"),
        timer_queue_max_delay_s=_timer_queue_max_delay(environ),
        vonage_applications=_vonage_applications(environ),
        snapshot_init=environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "") == "snap-start",
    )


def _vonage_applications(environ: Mapping[str, str]) -> frozenset[str]:
    names = [name.strip() for name in environ.get("VONAGE_APPLICATIONS", "").split(",") if name.strip()]
    for name in names:
        if not is_application_name(name):
            raise ConfigurationError(
                f"VONAGE_APPLICATIONS names {name!r}; an application name is {APPLICATION_NAME_RULE}."
            )
    return frozenset(names)


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _timer_queue_max_delay(environ: Mapping[str, str]) -> int:
    value = _positive_int(environ, "TIMER_QUEUE_MAX_DELAY_S", 900)
    if not 2 <= value <= 900:
        raise ConfigurationError(f"TIMER_QUEUE_MAX_DELAY_S is {value}; SQS delays a message 2 to 900 seconds here.")
    return value


@cache
def settings() -> Settings:
    """The settings of this container, validated on first use (at cold start, from the handler module)."""
    return load_settings()


# The spellings Powertools accepts for its own switches.
_TRUE: Final = frozenset({"1", "y", "yes", "t", "true", "on"})
_FALSE: Final = frozenset({"", "0", "n", "no", "f", "false", "off"})


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigurationError(f"{name} must be true or false (got {value!r}).")
    return value in _TRUE


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"Environment variable {name} is required but not set.")
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"Environment variable {name} is {value!r}; expected a whole number of at least 1.")
    return int(value)


def _default_region(environ: Mapping[str, str]) -> Region | None:
    value = environ.get("DEFAULT_REGION", "").strip()
    if not value:
        return None
    region = parse_region(value)
    if region is None:
        raise ConfigurationError(f"Environment variable DEFAULT_REGION is {value!r}; expected {REGION_NAMES}.")
    return region


def _vonage_api_base_url(environ: Mapping[str, str]) -> str | None:
    """Only a loopback address is allowed: the override exists for the simulator, and must never send
    the Vonage JWT to a third party, nor turn TLS off on a real network."""
    value = environ.get("VONAGE_API_BASE_URL", "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    # No userinfo and no backslash: parsers disagree on such URLs ("http://a\\@127.0.0.1" is loopback to
    # urlsplit, host "a" to urllib3), and the check must hold for the client that really connects.
    if "@" in parts.netloc or "\\" in value:
        raise ConfigurationError(
            f"Environment variable VONAGE_API_BASE_URL is {value!r}; user info and backslashes are not allowed."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"Environment variable VONAGE_API_BASE_URL is {value!r}; expected a URL like http://127.0.0.1:8099."
        )
    if not _is_loopback(parts.hostname):
        raise ConfigurationError(
            "Environment variable VONAGE_API_BASE_URL must point at a loopback address (127.0.0.1, ::1, "
            f"localhost); got host {parts.hostname!r}. It exists for local runs and tests only."
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
