"""`make run`: the service end to end on this machine, with no AWS account and no Vonage account.

Starts moto server (AWS) and the Vonage simulator, creates the tables (from template.yaml), the event bus,
a Vonage secret and RCS agents the way a deployed stack holds them (offline.local_stack), then sends every
events/ sample through its function (API Gateway, EventBridge, the bulk queue's worker) and prints the
answers, the functions' JSON logs and EMF metrics, and the outcome events a subscriber of the bus receives.

`python -m offline.demo` works without make too: it sets up its import paths itself (offline.repo_paths).
"""

# First, before any dependency is imported: a clear message when this is not the project's environment.
from offline.preflight import require_environment

require_environment(make_target="run", module="offline.demo")

import importlib
import io
import json
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.aws_fault_proxy import AwsFaultProxy
from offline.aws_seed import drain_queue
from offline.dynamodb_stream_source import DynamoDbStreamSource
from offline.keys import generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.local_api import LocalApi
from offline.local_stack import (
    API_KEY,
    APPLICATION_ID,
    LEDGER_TABLE,
    SIGNATURE_SECRET,
    WEBHOOK_PATH,
    seed_offline_stack,
)
from offline.moto_server import MotoServer
from offline.repo_paths import use_repo_import_paths
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import Outcome, VonageSimulator
from offline.vonage_webhooks import sign_callback

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
# What each sample should get; events without an entry are expected to be accepted.
EXPECTED_STATUS = {"api_revoke_window_expired.json": 422}
EXPECTED_OUTCOME = {"eventbridge_revoke_malformed.json": "rejected"}


def main() -> int:
    use_repo_import_paths()
    keys = generate_key_pair()
    with (
        MotoServer() as moto,
        AwsFaultProxy(moto.endpoint_url) as functions_aws,
        VonageSimulator(APPLICATION_ID, keys.public_pem) as vonage,
    ):
        _banner(f"moto server on {moto.endpoint_url}, Vonage simulator on {vonage.base_url}")
        # The functions reach moto through the proxy, which serialises DynamoDB writes: moto checks a condition
        # and then writes, without a lock between the two (DynamoDB's conditional writes are atomic), and the
        # webhook racing the timer function would otherwise lose an update now and then.
        stack = seed_offline_stack(
            moto.endpoint_url, vonage.base_url, keys, functions_endpoint_url=functions_aws.endpoint_url
        )
        print(stack.summary)

        handler = importlib.import_module("functions.revoke_api.handler")
        results: list[tuple[str, int | str, int | str]] = []
        for path in sorted(EVENTS_DIR.glob("api_revoke_*.json")):
            event = json.loads(path.read_text())
            results.append((path.name, _invoke(handler, path.name, event), EXPECTED_STATUS.get(path.name, 202)))

        # Two answers a sender meets in real life, played by the simulator.
        busy = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
        vonage.program(busy, Outcome.rate_limited(retry_after=30))
        event = json.loads((EVENTS_DIR / "api_revoke_by_region.json").read_text())
        event["path"] = f"/messages/{busy}/revoke"
        event["pathParameters"] = {"message_uuid": busy}
        results.append(("Vonage rate-limits (429, Retry-After: 30)", _invoke(handler, "rate-limited", event), 429))
        event["body"] = json.dumps({"agent_id": "no-such-agent"})
        results.append(("unknown agent_id", _invoke(handler, "unknown agent", event), 404))

        events_handler = importlib.import_module("functions.revoke_event.handler")
        for path in sorted(EVENTS_DIR.glob("eventbridge_*.json")):
            event = json.loads(path.read_text())
            outcome = _invoke_event(events_handler, path.name, event)
            results.append((path.name, outcome, EXPECTED_OUTCOME.get(path.name, "accepted")))
        # At least once in, exactly once out: EventBridge delivers the same event again.
        again = json.loads((EVENTS_DIR / "eventbridge_revoke_by_country.json").read_text())
        duplicate = _invoke_event(events_handler, "duplicate", again)
        results.append(("the same event delivered twice", duplicate, "accepted"))

        # Bulk: a batch through the API, the worker fed from the queue, then the status API.
        receipt = json.loads(_invoke(handler, "api_submit_batch.json", _load("api_submit_batch.json"), body=True))
        results.append(("api_submit_batch.json (4 valid, 1 invalid)", receipt["accepted"], 4))
        worker = importlib.import_module("functions.revoke_worker.handler")
        _banner("the worker drains the queue (as Lambda's SQS event source mapping would)")
        polls = SqsEventSource(moto.endpoint_url, stack.revocation_queue_url, worker.lambda_handler).drain()
        results.append(("worker: messages revoked from the queue", sum(p.received - p.failed for p in polls), 4))
        record_event = _load("api_get_revocation.json")
        results.append(("api_get_revocation.json", _invoke(handler, "api_get_revocation.json", record_event), 200))
        batch_event = _load("api_get_batch.json")
        batch_event["path"] = f"/batches/{receipt['batch_id']}"
        batch_event["pathParameters"] = {"batch_id": receipt["batch_id"]}
        results.append(("api_get_batch.json (this batch)", _invoke(handler, "api_get_batch.json", batch_event), 200))

        # The message lifecycle and the timers: Vonage's signed status callbacks, through a local API server.
        lifecycle, timers = _with_status_callbacks(vonage, handler, moto.endpoint_url, stack.timers.queue_url)
        results += lifecycle.results + timers.results

        fallbacks = _publish_and_print_outcomes(moto.endpoint_url, stack.outcomes_queue_url)
        results.append(
            ("fallback of the message revoked before delivery", str(fallbacks.get(lifecycle.revoked)), "True")
        )
        results.append(("fallback of the message delivered first", str(fallbacks.get(lifecycle.delivered)), "False"))
        results.append(("fallback of the timer that fired", str(fallbacks.get(timers.revoked)), "True"))
        results.append(("fallback of the timer a delivery cancelled", str(fallbacks.get(timers.delivered)), "False"))

        _banner("summary")
        for name, status, expected in results:
            print(f"  {'ok ' if status == expected else 'BAD'} {status}  {name}")
        print(f"\n  PATCH requests the Vonage simulator received: {len(vonage.requests)} (one per message)")
        return 0 if all(status == expected for _, status, expected in results) else 1


def _with_status_callbacks(
    vonage: VonageSimulator, handler: Any, moto_endpoint_url: str, timer_queue_url: str
) -> tuple["Lifecycle", "Lifecycle"]:
    """The stories that need Vonage's callbacks: they reach the webhook through a local API server."""
    with LocalApi(log=io.StringIO()) as api:
        # Vonage retries a callback that is not acknowledged for hours; the webhook's first call is a cold
        # start (its modules compiled, on a fresh clone): more attempts, each given longer, than by default.
        vonage.set_status_webhook(api.url + WEBHOOK_PATH, SIGNATURE_SECRET, api_key=API_KEY, attempts=8, timeout_s=5.0)
        try:
            lifecycle = _lifecycle(vonage, handler, api.url + WEBHOOK_PATH)
            timer_handler = importlib.import_module("functions.revoke_timer.handler")
            timers = _timers(
                vonage, handler, SqsEventSource(moto_endpoint_url, timer_queue_url, timer_handler.lambda_handler)
            )
        finally:
            vonage.set_status_webhook(None)
    return lifecycle, timers


def _publish_and_print_outcomes(moto_endpoint_url: str, outcomes_queue_url: str) -> dict[str, object]:
    """Relays the ledger's stream to the bus, prints what a subscriber received; the fallback of each message
    that ended."""
    _banner("the ledger's stream, relayed to the bus (as OutcomePublisherFunction's event source would)")
    publisher = importlib.import_module("functions.outcome_publisher.handler")
    DynamoDbStreamSource(moto_endpoint_url, LEDGER_TABLE, publisher.lambda_handler).drain()
    _banner("outcome events received by a subscriber of the bus")
    fallbacks: dict[str, object] = {}
    for outcome_event in drain_queue(moto_endpoint_url, outcomes_queue_url):
        print(json.dumps({"detail-type": outcome_event["detail-type"], "detail": outcome_event["detail"]}))
        if outcome_event["detail-type"] in _ENDS:
            fallbacks[outcome_event["detail"]["message_uuid"]] = outcome_event["detail"]["fallback"]
    return fallbacks


# The outcome events that say whether the SMS must go out.
_ENDS = ("RCS Revocation Confirmed", "RCS Revocation Too Late", "RCS Revocation Cancelled")


@dataclass
class Lifecycle:
    results: list[tuple[str, int | str, int | str]]
    revoked: str  # the message revoked before delivery
    delivered: str  # the message delivered before the revocation


def _lifecycle(vonage: VonageSimulator, handler: Any, webhook_url: str) -> Lifecycle:
    """The four stories of a sender with an SMS fallback, played by the simulator's messages and callbacks."""
    results: list[tuple[str, int | str, int | str]] = []
    revoked, delivered, by_uuid = (str(uuid.uuid4()) for _ in range(3))
    agent, phone = "acme-sg-promotions", "6591234567"

    _banner("an RCS message that is not delivered (the phone is off): revoked before delivery")
    vonage.add_message(revoked, agent, phone, delivery_delay_s=None)
    vonage.wait_for_callbacks(1, message_uuid=revoked)  # submitted
    results.append(
        ("sent, revoked before delivery", _invoke(handler, "revoke", _revoke_event(revoked, {"region": "ap"})), 202)
    )
    vonage.wait_for_callbacks(2, message_uuid=revoked)  # rejected: the revocation took effect
    results.append(("... then Vonage reports it rejected", _state(handler, revoked), "revoked"))

    _banner("an RCS message delivered at once: the revocation comes too late")
    vonage.add_message(delivered, agent, phone, delivery_delay_s=0.05)
    vonage.wait_for_callbacks(2, message_uuid=delivered)  # submitted, delivered
    results.append(
        ("delivered, then asked to revoke", _invoke(handler, "revoke", _revoke_event(delivered, {"region": "ap"})), 409)
    )
    results.append(("... and Vonage was not called", vonage.patches_for(delivered), 0))

    _banner("revoked by its UUID alone: the submitted callback named the agent, the agents table its region")
    vonage.add_message(by_uuid, agent, phone, delivery_delay_s=None)
    vonage.wait_for_callbacks(1, message_uuid=by_uuid)
    results.append(
        (
            "revoked by UUID alone after a submitted callback",
            _invoke(handler, "revoke", _revoke_event(by_uuid, None)),
            202,
        )
    )

    _banner("a forged status callback (signed with another secret)")
    body = json.dumps(
        {"message_uuid": revoked, "status": "delivered", "timestamp": "2026-12-01T23:00:00.000Z"}
    ).encode()
    headers = sign_callback(
        body, "a-guess-that-is-not-the-signature-secret", api_key=API_KEY, application_id=APPLICATION_ID
    )
    request = urllib.request.Request(webhook_url, data=body, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            forged: int = answer.status
    except urllib.error.HTTPError as error:
        forged = error.code
        print(f"-- answer: {forged}\n{error.read().decode()}")
    results.append(("a forged status callback", forged, 401))
    return Lifecycle(results, revoked, delivered)


def _timers(vonage: VonageSimulator, handler: Any, timer_queue: SqsEventSource) -> Lifecycle:
    """ "Revoke unless delivered within N seconds", both ways: the timer queue fed to the timer function as
    Lambda's event source would (in the background, every 50 ms)."""
    results: list[tuple[str, int | str, int | str]] = []
    fires, cancelled = str(uuid.uuid4()), str(uuid.uuid4())
    agent, phone = "acme-sg-promotions", "6591234567"
    timer_queue.start(interval_s=0.05, log=sys.stderr)
    try:
        _banner("revoke unless delivered within 2 s: the phone is off, so the timer fires")
        vonage.add_message(fires, agent, phone, delivery_delay_s=None)
        vonage.wait_for_callbacks(1, message_uuid=fires)  # submitted
        asked = _revoke_event(fires, {"region": "ap", "after_seconds": 2})
        results.append(("revoke unless delivered within 2 s", _invoke(handler, "revoke in 2 s", asked), 202))
        vonage.wait_for_callbacks(2, timeout_s=20.0, message_uuid=fires)  # rejected: the revocation took effect
        results.append(("... the timer fired, Vonage reports it rejected", _state(handler, fires), "revoked"))

        _banner("revoke unless delivered within 3 s: delivered after 1 s, so the timer is cancelled")
        vonage.add_message(cancelled, agent, phone, delivery_delay_s=1.0)
        vonage.wait_for_callbacks(1, message_uuid=cancelled)  # submitted
        asked = _revoke_event(cancelled, {"region": "ap", "after_seconds": 3})
        results.append(("revoke unless delivered within 3 s", _invoke(handler, "revoke in 3 s", asked), 202))
        vonage.wait_for_callbacks(2, timeout_s=20.0, message_uuid=cancelled)  # delivered
        _state(handler, cancelled, expected="delivered")
        # Its wake-up comes at the due time, finds it delivered, and records that it came.
        VonageSimulator.wait_until(
            lambda: _record(handler, cancelled)["timer"].get("woke_at"), timeout_s=20.0, poll_s=0.2
        )
        results.append(("... past its due time, Vonage was not called", vonage.patches_for(cancelled), 0))
    finally:
        timer_queue.stop()
    return Lifecycle(results, fires, cancelled)


def _revoke_event(message_uuid: str, body: object) -> dict[str, Any]:
    event = _load("api_revoke_by_region.json")
    event["path"] = f"/messages/{message_uuid}/revoke"
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["body"] = None if body is None else json.dumps(body)
    return event


def _record(handler: Any, message_uuid: str) -> dict[str, Any]:
    event = _load("api_get_revocation.json")
    event["path"] = f"/revocations/{message_uuid}"
    event["pathParameters"] = {"message_uuid": message_uuid}
    record: dict[str, Any] = json.loads(handler.lambda_handler(event, LocalLambdaContext())["body"])
    return record


def _state(handler: Any, message_uuid: str, *, expected: str = "revoked") -> str:
    event = _load("api_get_revocation.json")
    event["path"] = f"/revocations/{message_uuid}"
    event["pathParameters"] = {"message_uuid": message_uuid}
    # Vonage's callback travels through the local API's webhook: on a loaded machine that takes seconds. Asked
    # every 0.2 s: each question is a ledger read, and asking faster only slows the callback down.
    try:
        VonageSimulator.wait_until(
            lambda: json.loads(handler.lambda_handler(event, LocalLambdaContext())["body"]).get("state") == expected,
            timeout_s=20.0,
            poll_s=0.2,
        )
    except TimeoutError:
        record = handler.lambda_handler(event, LocalLambdaContext())["body"]
        print(f"the record never said {expected}: {record}", file=sys.stderr, flush=True)
        raise
    return str(json.loads(_invoke(handler, "the ledger", event, body=True))["state"])


def _invoke_event(handler: Any, title: str, event: dict[str, Any]) -> str:
    _banner(f"{title}: EventBridge {event['detail-type']!r} detail={json.dumps(event['detail'])}")
    print("-- function output (JSON logs and EMF metrics):", flush=True)
    result: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext(function_name="rcs-revoker-event"))
    sys.stdout.flush()
    print(f"-- result: {json.dumps(result)}")
    return str(result["outcome"])


def _load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def _invoke(handler: Any, title: str, event: dict[str, Any], *, body: bool = False) -> Any:
    _banner(f"{title}: {event['httpMethod']} {event['path']}  body={event['body']!r}")
    print("-- function output (JSON logs and EMF metrics):", flush=True)
    response: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext())
    sys.stdout.flush()
    print(f"-- answer: {response['statusCode']}")
    print(json.dumps(json.loads(response["body"]), indent=2))
    return response["body"] if body else int(response["statusCode"])


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
