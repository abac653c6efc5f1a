"""Fixtures shared by every test folder: the environment a handler needs, sample events, and the offline
stack (moto server and the Vonage simulator, both real HTTP servers on 127.0.0.1, with the handlers invoked
in-process with real event shapes) that the integration and load tests share: one of each per session."""

import base64
import copy
import importlib
import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from offline.aws_fault_proxy import AwsFaultProxy
from offline.aws_seed import (
    TimerResources,
    create_event_bus,
    create_revocation_queue,
    create_tables,
    create_timer_resources,
    drain_queue,
    store_vonage_secret,
    subscribe_queue,
)
from offline.dynamodb_stream_source import DynamoDbStreamSource
from offline.keys import KeyPair, generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.local_api import LocalApi
from offline.moto_server import MotoServer
from offline.schedule_runner import ScheduleRunner
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import VonageSimulator
from rcs_revoker.bootstrap import service
from rcs_revoker.config import settings
from rcs_revoker.observability import logger

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def api_event(
    message_uuid: str,
    body: object = None,
    *,
    raw_body: str | None = None,
    base64_encoded: bool = False,
    method: str = "POST",
    path: str | None = None,
    request_id: str = "11111111-2222-4333-8444-555555555555",
) -> dict[str, Any]:
    """A REST API proxy event shaped like events/api_revoke_by_region.json, for the given request.

    `body` is serialized (and base64-encoded when `base64_encoded`); `raw_body` is sent exactly as given."""
    event = copy.deepcopy(load_event("api_revoke_by_region.json"))
    text = None if body is None else json.dumps(body)
    if base64_encoded and text is not None:
        text = base64.b64encode(text.encode()).decode()
    if raw_body is not None:  # sent as is, already encoded when base64_encoded
        text = raw_body
    event["path"] = path or f"/messages/{message_uuid}/revoke"
    event["httpMethod"] = method
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["requestContext"]["path"] = "/v1" + event["path"]
    event["requestContext"]["httpMethod"] = method
    event["requestContext"]["requestId"] = request_id
    event["body"] = text
    event["isBase64Encoded"] = base64_encoded
    return event


def bulk_event(body: object) -> dict[str, Any]:
    """POST /revocations, as API Gateway hands it to the function."""
    event = api_event("unused", body, path="/revocations")
    event.update(resource="/revocations", pathParameters=None)
    return event


def cancel_event(message_uuid: str) -> dict[str, Any]:
    """DELETE /messages/{message_uuid}/revocation, as API Gateway hands it to the function."""
    event = api_event(message_uuid, None, method="DELETE", path=f"/messages/{message_uuid}/revocation")
    event["resource"] = "/messages/{message_uuid}/revocation"
    return event


def status_event(path: str) -> dict[str, Any]:
    """GET /revocations/{message_uuid} or /batches/{batch_id}, as API Gateway hands it to the function."""
    collection, value = path.strip("/").split("/")
    name = "message_uuid" if collection == "revocations" else "batch_id"
    event = api_event("unused", None, method="GET", path=path)
    event.update(resource=f"/{collection}/{{{name}}}", pathParameters={name: value})
    return event


def eventbridge_event(detail: object, *, event_id: str = "6a7e8feb-b491-4cf7-a9f1-bf3703467718") -> dict[str, Any]:
    """An EventBridge event shaped like events/eventbridge_revoke_by_country.json, with this detail."""
    event = copy.deepcopy(load_event("eventbridge_revoke_by_country.json"))
    event["id"] = event_id
    event["detail"] = detail
    return event


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The minimum environment the service validates at cold start."""
    monkeypatch.setenv("VONAGE_SECRET_ID", "rcs-revoker/vonage")
    monkeypatch.setenv("AGENTS_TABLE_NAME", "rcs-agents")
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "rcs-idempotency")
    monkeypatch.setenv("LEDGER_TABLE_NAME", "rcs-ledger")
    monkeypatch.setenv("EVENT_BUS_NAME", "rcs-revocations")
    monkeypatch.delenv("DEFAULT_REGION", raising=False)
    monkeypatch.delenv("VONAGE_API_BASE_URL", raising=False)


# --- The offline stack ------------------------------------------------------------------------------
APPLICATION_ID = "0f1e2d3c-4b5a-4968-8778-695a4b3c2d1e"
SECRET_NAME = "rcs-revoker/vonage"
# The account's signature secret and api key, as the Vonage dashboard shows them: what signed webhooks carry.
SIGNATURE_SECRET = "offline-signature-secret-0123456789abcdef"
API_KEY = "a1b2c3d4"
AGENTS_TABLE = "rcs-agents"
IDEMPOTENCY_TABLE = "rcs-idempotency"
LEDGER_TABLE = "rcs-ledger"
REVOCATION_QUEUE = "rcs-revocations-queue"
TIMER_QUEUE = "rcs-timers-queue"
MAX_RECEIVE_COUNT = 3
EVENT_BUS = "rcs-revocations"
# What a downstream subscriber (an SMS fallback, say) receives: every outcome event of the service.
OUTCOMES_PATTERN = {"source": ["rcs-revoker"]}
# The environment a test gives the functions (aws_sdk_env, the stack fixture, Stack.set_env): what a function run
# in its own process (offline.lambda_process) is given, see Stack.function_env.
FUNCTION_ENV_NAMES = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_IDEMPOTENCY_DISABLED",
    "VONAGE_SECRET_ID",
    "AGENTS_TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "LEDGER_TABLE_NAME",
    "EVENT_BUS_NAME",
    "DEFAULT_REGION",
    "REVOCATION_QUEUE_URL",
    "MAX_RECEIVE_COUNT",
    "VONAGE_API_BASE_URL",
    "WEBHOOK_MAX_AGE_S",
    "TIMER_QUEUE_URL",
    "TIMER_QUEUE_ARN",
    "TIMER_DEAD_LETTER_QUEUE_ARN",
    "TIMER_SCHEDULE_GROUP",
    "TIMER_SCHEDULER_ROLE_ARN",
    "TIMER_QUEUE_MAX_DELAY_S",
)


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def simulator(keys: KeyPair) -> Iterator[VonageSimulator]:
    with VonageSimulator(APPLICATION_ID, keys.public_pem) as sim:
        yield sim


@pytest.fixture(scope="session")
def local_api() -> Iterator[LocalApi]:
    """The template's routes on loopback, each invoking its function in-process (what sam local start-api does):
    the simulator's status callbacks reach the webhook through it, over real HTTP."""
    with LocalApi(log=io.StringIO()) as api:
        yield api


@pytest.fixture(scope="session")
def aws_faults(moto_server: MotoServer) -> Iterator[AwsFaultProxy]:
    """A proxy in front of moto server through which the functions reach AWS; tests arm faults on it."""
    with AwsFaultProxy(moto_server.endpoint_url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def aws_sdk_env(aws_faults: AwsFaultProxy) -> Iterator[None]:
    """boto3 pointed at moto (through the fault proxy) by the standard SDK settings, as a deployed function
    would be configured. Autouse in the folders that run against the offline stack (their conftest.py), not
    here: unit tests must not start servers."""
    values = {
        "AWS_ENDPOINT_URL": aws_faults.endpoint_url,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
        "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@dataclass
class Stack:
    """One test's view of the offline stack."""

    moto: MotoServer
    vonage: VonageSimulator
    keys: KeyPair
    monkeypatch: pytest.MonkeyPatch
    outcomes_queue_url: str
    revocation_queue_url: str
    dead_letter_queue_url: str
    aws: AwsFaultProxy
    timers: TimerResources
    log_stream: io.StringIO = field(default_factory=io.StringIO)
    ledger_stream: DynamoDbStreamSource | None = None

    def outcome_events(self) -> list[dict[str, Any]]:
        """The outcome events published since the last call, as the subscriber's queue received them: the
        ledger's stream is first relayed to the bus, as OutcomePublisherFunction's event source would."""
        self.publish_outcomes()
        return self.bus_events()

    def bus_events(self) -> list[dict[str, Any]]:
        """What the subscriber's queue received since the last call (without relaying the ledger first)."""
        return drain_queue(self.moto.endpoint_url, self.outcomes_queue_url)

    def publish_outcomes(self, *, polls: int | None = None, timeout_s: float = 10.0) -> None:
        """The ledger's stream, through the outcome publisher function, until nothing is left to publish (or
        `polls` times: one invocation each, a failed batch staying on the stream to be retried)."""
        if self.ledger_stream is None:
            handler = self.handler("functions.outcome_publisher.handler")
            self.ledger_stream = DynamoDbStreamSource(
                self.moto.endpoint_url, LEDGER_TABLE, handler.lambda_handler, log=None
            )
        if polls is None:
            self.ledger_stream.drain(timeout_s=timeout_s)
        for _ in range(polls or 0):
            self.ledger_stream.poll_once()

    def handler(self, module: str = "functions.revoke_api.handler") -> ModuleType:
        """The handler module. Each test starts as a new container; calls within a test share it (warm)."""
        return importlib.import_module(module)

    def invoke_api(self, event: dict[str, Any], *, timeout_s: float = 15.0) -> dict[str, Any]:
        response: dict[str, Any] = self.handler().lambda_handler(event, LocalLambdaContext(timeout_s=timeout_s))
        return response

    def invoke_event(self, event: dict[str, Any], *, timeout_s: float = 30.0) -> dict[str, Any]:
        """Invokes the EventBridge function as Lambda's asynchronous invoke would; raises what it raises."""
        handler = self.handler("functions.revoke_event.handler")
        response: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext(timeout_s=timeout_s))
        return response

    def hold_in_progress(self, message_uuid: str, *, for_s: float) -> None:
        """Writes the message's ledger item as another invocation asking Vonage would leave it: the write-ahead's
        `revoking` record and, on the same item, Powertools' idempotency record in progress for `for_s` seconds
        more (negative: an invocation that died, its Lambda context already expired)."""
        now = time.time()
        stamp = datetime.now(UTC).isoformat()
        boto3.client("dynamodb", endpoint_url=self.moto.endpoint_url).put_item(
            TableName=LEDGER_TABLE,
            Item={
                "message_uuid": {"S": message_uuid},
                "state": {"S": "revoking"},
                "region": {"S": "eu"},
                "attempts": {"N": "1"},
                "version": {"N": "1"},
                "created_at": {"S": stamp},
                "updated_at": {"S": stamp},
                "expires_at": {"N": str(int(now + 4 * 86400))},
                "idempotency_status": {"S": "INPROGRESS"},
                "idempotency_expiration": {"N": str(int(now + 3600))},
                "idempotency_in_progress_expiration": {"N": str(int((now + for_s) * 1000))},
            },
        )

    def queue_depth(self, queue_url: str) -> int:
        """Messages on the queue, visible, in flight or delayed."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = boto3.client("sqs", endpoint_url=self.moto.endpoint_url).get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def worker_queue(self) -> SqsEventSource:
        """The bulk queue feeding the worker function, as Lambda's event source mapping would."""
        handler = self.handler("functions.revoke_worker.handler")
        return SqsEventSource(self.moto.endpoint_url, self.revocation_queue_url, handler.lambda_handler)

    def timer_queue(self) -> SqsEventSource:
        """The timer queue feeding the timer function, as Lambda's event source mapping would."""
        handler = self.handler("functions.revoke_timer.handler")
        return SqsEventSource(self.moto.endpoint_url, self.timers.queue_url, handler.lambda_handler)

    def schedules(self) -> ScheduleRunner:
        """The timers' schedules, fired at their time as EventBridge Scheduler would."""
        return ScheduleRunner(self.moto.endpoint_url, self.timers.schedule_group)

    def function_env(self) -> dict[str, str]:
        """The functions' environment as this test set it, for a function run in its own process
        (offline.lambda_process): the SDK pointed at the fault proxy, the tables, the secret, the simulator."""
        return {name: os.environ[name] for name in FUNCTION_ENV_NAMES if name in os.environ}

    def set_env(self, name: str, value: str | None) -> None:
        if value is None:
            self.monkeypatch.delenv(name, raising=False)
        else:
            self.monkeypatch.setenv(name, value)
        settings.cache_clear()
        service.cache_clear()

    @property
    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines() if line.startswith("{")]

    @property
    def log_text(self) -> str:
        return self.log_stream.getvalue()


@pytest.fixture
def stack(
    moto_server: MotoServer,
    simulator: VonageSimulator,
    aws_faults: AwsFaultProxy,
    keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """A clean account and a clean simulator for each test, seeded as a deployed stack would be."""
    aws_faults.clear()
    moto_server.reset()
    simulator.reset()
    simulator.rotate_key(keys.public_pem)  # a test may have rotated it
    create_tables(
        moto_server.endpoint_url,
        {"AgentsTable": AGENTS_TABLE, "IdempotencyTable": IDEMPOTENCY_TABLE, "LedgerTable": LEDGER_TABLE},
    )
    queue_url, dlq_url = create_revocation_queue(
        moto_server.endpoint_url, REVOCATION_QUEUE, max_receive_count=MAX_RECEIVE_COUNT
    )
    timers = create_timer_resources(moto_server.endpoint_url, TIMER_QUEUE, max_receive_count=MAX_RECEIVE_COUNT)
    for name, value in timers.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TIMER_QUEUE_MAX_DELAY_S", raising=False)
    create_event_bus(moto_server.endpoint_url, EVENT_BUS)
    outcomes_queue_url = subscribe_queue(moto_server.endpoint_url, EVENT_BUS, "outcomes", OUTCOMES_PATTERN)
    store_vonage_secret(
        moto_server.endpoint_url,
        SECRET_NAME,
        APPLICATION_ID,
        keys.private_pem,
        signature_secret=SIGNATURE_SECRET,
        api_key=API_KEY,
    )
    monkeypatch.setenv("VONAGE_SECRET_ID", SECRET_NAME)
    monkeypatch.setenv("AGENTS_TABLE_NAME", AGENTS_TABLE)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    monkeypatch.setenv("EVENT_BUS_NAME", EVENT_BUS)
    monkeypatch.setenv("LEDGER_TABLE_NAME", LEDGER_TABLE)
    monkeypatch.setenv("REVOCATION_QUEUE_URL", queue_url)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
    monkeypatch.setenv("VONAGE_API_BASE_URL", simulator.base_url)
    monkeypatch.delenv("DEFAULT_REGION", raising=False)
    settings.cache_clear()
    service.cache_clear()
    test_stack = Stack(
        moto_server, simulator, keys, monkeypatch, outcomes_queue_url, queue_url, dlq_url, aws_faults, timers
    )
    # The service's one Logger writes JSON lines to stdout; point it at a buffer the test can read.
    previous = logger.registered_handler.setStream(test_stack.log_stream)  # type: ignore[attr-defined]
    yield test_stack
    aws_faults.clear()
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]
    settings.cache_clear()
    service.cache_clear()


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def header(response: dict[str, Any], name: str) -> str | None:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    if name.lower() in headers:
        return str(headers[name.lower()])
    values = multi.get(name.lower())
    return str(values[0]) if values else None
