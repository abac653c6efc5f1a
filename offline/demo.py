"""`make run`: the service end to end on this machine, with no AWS account and no Vonage account.

Starts moto server (AWS) and the Vonage simulator, creates the tables (from template.yaml), the event bus,
a Vonage secret and RCS agents the way a deployed stack holds them (offline.local_stack), then sends every
events/ sample through its function (API Gateway, EventBridge, the bulk queue's worker) and prints the
answers, the functions' JSON logs and EMF metrics, and the outcome events a subscriber of the bus receives.

`python -m offline.demo` works without make too: it sets up its import paths itself (offline.repo_paths).
"""

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from offline.aws_seed import drain_queue
from offline.keys import generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.local_stack import APPLICATION_ID, seed_offline_stack
from offline.moto_server import MotoServer
from offline.repo_paths import use_repo_import_paths
from offline.sqs_event_source import SqsEventSource
from offline.vonage_simulator import Outcome, VonageSimulator

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
# What each sample should get; events without an entry are expected to be accepted.
EXPECTED_STATUS = {"api_revoke_window_expired.json": 422}
EXPECTED_OUTCOME = {"eventbridge_revoke_malformed.json": "rejected"}


def main() -> int:
    use_repo_import_paths()
    keys = generate_key_pair()
    with MotoServer() as moto, VonageSimulator(APPLICATION_ID, keys.public_pem) as vonage:
        _banner(f"moto server on {moto.endpoint_url}, Vonage simulator on {vonage.base_url}")
        stack = seed_offline_stack(moto.endpoint_url, vonage.base_url, keys)
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

        _banner("outcome events received by a subscriber of the bus")
        for outcome_event in drain_queue(moto.endpoint_url, stack.outcomes_queue_url):
            print(json.dumps({"detail-type": outcome_event["detail-type"], "detail": outcome_event["detail"]}))

        _banner("summary")
        for name, status, expected in results:
            print(f"  {'ok ' if status == expected else 'BAD'} {status}  {name}")
        print(f"\n  PATCH requests the Vonage simulator received: {len(vonage.requests)} (one per message)")
        return 0 if all(status == expected for _, status, expected in results) else 1


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
