"""The AWS clients of a container: one boto3 session, one client per service, shared by every adapter.

One session loads the SDK's endpoint and model data once; a client per service (clients are thread-safe)
keeps one connection pool per service. Endpoints come from the standard SDK configuration
(AWS_ENDPOINT_URL works), never from code.

Every call ends by the invocation's deadline (rcs_revoker.deadlines): botocore bounds each attempt by its
connect and read timeouts, but not a call's attempts and back-off together, nor by the time a Lambda has left.
Two event hooks do: an attempt starts only if it can end, at worst, by the deadline, and a retry is not slept
for when no attempt could follow it in time. The call then fails with DeadlineReached, a BotoCoreError that
every adapter already reports as the dependency being unavailable.
"""

import threading
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError
from botocore.retries.standard import RetryEventAdapter, StandardRetryConditions

from rcs_revoker import SERVICE_NAME, __version__
from rcs_revoker.deadlines import time_left

CONNECT_TIMEOUT_S: Final = 1.0
READ_TIMEOUT_S: Final = 2.0
# The longest one attempt of an AWS call can take (AWS answers whole or not at all: no dribbled replies).
ATTEMPT_S: Final = CONNECT_TIMEOUT_S + READ_TIMEOUT_S
# Attempts of one call, the first included. (botocore's `max_attempts` counts the retries alone: 3 of them
# made 4 attempts, one more than the deadline rule below and the docs assumed.)
MAX_ATTEMPTS: Final = 3
# botocore's standard mode sleeps up to 2**(attempt - 1) seconds (jittered) before a retry: 1, then 2.
MAX_RETRY_SLEEP_S: Final = 2.0

AWS_CLIENT_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    user_agent_appid=f"{SERVICE_NAME}-{__version__}",
    max_pool_connections=20,  # the bulk paths call DynamoDB and SQS from several threads
)

# botocore's own rule of what standard mode retries, asked before it sleeps for a retry.
_retryable = StandardRetryConditions(max_attempts=MAX_ATTEMPTS)
_retry_context = RetryEventAdapter()
_lock = threading.Lock()  # a boto3 session must not build clients from two threads at once
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


class DeadlineReached(BotoCoreError):  # type: ignore[misc]  # botocore is untyped
    fmt = "No time was left for this AWS call before the function's deadline"


def aws_client(service_name: str) -> Any:
    with _lock:
        client = _clients.get(service_name)
        if client is None:
            client = _clients[service_name] = bounded_by_deadline(
                _the_session().client(service_name, config=AWS_CLIENT_CONFIG)
            )
        return client


def _the_session() -> boto3.session.Session:
    global _session  # noqa: PLW0603 - one session per container, created on first use (under _lock)
    if _session is None:
        _session = boto3.session.Session()
    return _session


def aws_credentials() -> Any:
    """The container's credentials, as its clients sign with them (botocore refreshes them when they expire)."""
    with _lock:
        return _the_session().get_credentials()


def close_connections() -> None:
    """Hangs up every pooled connection of every client (SnapStart: a connection in a snapshot would be shared
    by every copy restored from it); the clients stay, and connect again on their next call."""
    with _lock:
        for client in _clients.values():
            client._endpoint.http_session.close()  # botocore's URLLib3Session: clears its pool managers


def bounded_by_deadline(client: Any) -> Any:
    """The client, its every call ending by the invocation's deadline (see the module's docstring)."""
    client.meta.events.register("before-send", _attempt_in_time)
    client.meta.events.register_first("needs-retry", _retry_in_time)
    return client


def _attempt_in_time(**_: Any) -> None:
    left = time_left()
    if left is not None and left < ATTEMPT_S:
        raise DeadlineReached


def _retry_in_time(**kwargs: Any) -> None:
    """Registered first: when botocore would sleep and retry but no attempt could follow in time, the call
    ends now. Answers nothing itself (None), so that botocore's own handler decides every other case."""
    left = time_left()
    if (
        left is None
        or left >= MAX_RETRY_SLEEP_S + ATTEMPT_S
        or isinstance(kwargs.get("caught_exception"), DeadlineReached)
    ):
        return
    if _retryable.is_retryable(_retry_context.create_retry_context(**kwargs)):
        raise DeadlineReached
