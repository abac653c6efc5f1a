"""`make run`: the service end to end on this machine, with no AWS account and no Vonage account.

Starts moto server (AWS) and the Vonage simulator, stores a Vonage secret and RCS agents the way a deployed
stack holds them, then sends every events/api_*.json sample through the API function and prints the
answers, the function's JSON logs and its EMF metrics.
"""

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from offline.aws_seed import create_tables, put_agent, store_vonage_secret
from offline.keys import generate_key_pair
from offline.lambda_context import LocalLambdaContext
from offline.moto_server import MotoServer
from offline.vonage_simulator import Outcome, VonageSimulator

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
APPLICATION_ID = "5c0b2d8e-7a41-4f6b-9e3d-2a1c0b9f8e7d"
SECRET_NAME = "rcs-revoker/vonage"  # noqa: S105 - a name, not a secret
AGENTS_TABLE = "rcs-revoker-agents"
# What each sample should get; events without an entry are expected to be accepted.
EXPECTED_STATUS = {"api_revoke_window_expired.json": 422}


def main() -> int:
    keys = generate_key_pair()
    with MotoServer() as moto, VonageSimulator(APPLICATION_ID, keys.public_pem) as vonage:
        _banner(f"moto server on {moto.endpoint_url}, Vonage simulator on {vonage.base_url}")
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": moto.endpoint_url,
                "AWS_REGION": "eu-west-1",
                "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "offline",
                "AWS_SECRET_ACCESS_KEY": "offline",
                "VONAGE_SECRET_ID": SECRET_NAME,
                "AGENTS_TABLE_NAME": AGENTS_TABLE,
                "DEFAULT_REGION": "eu",
                "VONAGE_API_BASE_URL": vonage.base_url,
                "POWERTOOLS_SERVICE_NAME": "rcs-revoker",
                "POWERTOOLS_METRICS_NAMESPACE": "RcsRevoker",
            }
        )
        create_tables(moto.endpoint_url, {"AgentsTable": AGENTS_TABLE})
        store_vonage_secret(moto.endpoint_url, SECRET_NAME, APPLICATION_ID, keys.private_pem)
        put_agent(moto.endpoint_url, AGENTS_TABLE, "acme-sg-promotions", country="SG")
        put_agent(moto.endpoint_url, AGENTS_TABLE, "acme-br-fallback", region="us")
        print(f"stored secret {SECRET_NAME!r} and 2 agents in table {AGENTS_TABLE!r}; DEFAULT_REGION=eu\n")

        handler = importlib.import_module("functions.revoke_api.handler")
        results: list[tuple[str, int, int]] = []
        for path in sorted(EVENTS_DIR.glob("api_*.json")):
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

        _banner("summary")
        for name, status, expected in results:
            print(f"  {'ok ' if status == expected else 'BAD'} {status}  {name}")
        print(f"\n  PATCH requests the Vonage simulator received: {len(vonage.requests)}")
        return 0 if all(status == expected for _, status, expected in results) else 1


def _invoke(handler: Any, title: str, event: dict[str, Any]) -> int:
    _banner(f"{title}: {event['httpMethod']} {event['path']}  body={event['body']!r}")
    print("-- function output (JSON logs and EMF metrics):", flush=True)
    response: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext())
    sys.stdout.flush()
    print(f"-- answer: {response['statusCode']}")
    print(json.dumps(json.loads(response["body"]), indent=2))
    return int(response["statusCode"])


def _banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
