"""The events each entry point is invoked with, shaped after the samples in events/, and the file the probe reads.

Every request is for a new message (a new UUID): a repeated one would be answered from the exactly-once
record, which is not the work being measured.
"""

import copy
import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.paths import REPO

EVENTS = REPO / "events"
REVOKE_BODY = {"region": "eu"}

Invocation = tuple[str, dict[str, Any]]  # (request id, event)


def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def api_revoke(message_uuid: str | None = None, body: dict[str, Any] | None = None) -> Invocation:
    """POST /messages/{message_uuid}/revoke (events/api_revoke_by_region.json)."""
    message_uuid = message_uuid or str(uuid.uuid4())
    request_id = str(uuid.uuid4())
    event = _sample("api_revoke_by_region.json")
    event["path"] = f"/messages/{message_uuid}/revoke"
    event["pathParameters"] = {"message_uuid": message_uuid}
    event["requestContext"]["path"] = "/v1" + event["path"]
    event["requestContext"]["requestId"] = request_id
    event["body"] = json.dumps(body or REVOKE_BODY)
    event["isBase64Encoded"] = False
    return request_id, event


def api_submit(items: int) -> Invocation:
    """POST /revocations of `items` messages (events/api_submit_batch.json)."""
    request_id = str(uuid.uuid4())
    event = _sample("api_submit_batch.json")
    event["requestContext"]["requestId"] = request_id
    messages = [{"message_uuid": str(uuid.uuid4())} for _ in range(items)]
    event["body"] = json.dumps({**REVOKE_BODY, "messages": messages})
    event["isBase64Encoded"] = False
    return request_id, event


def eventbridge_revoke() -> Invocation:
    """An "RCS Revocation Requested" event (events/eventbridge_revoke_by_country.json)."""
    event = _sample("eventbridge_revoke_by_country.json")
    event["id"] = str(uuid.uuid4())
    event["detail"] = {"message_uuid": str(uuid.uuid4()), **REVOKE_BODY}
    return str(uuid.uuid4()), event


def sqs_batch(bodies: Iterable[str]) -> Invocation:
    """An SQS event of one record per body (events/sqs_revocation_batch.json's first record, re-identified)."""
    template = _sample("sqs_revocation_batch.json")
    record_template = template["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(record_template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        records.append(record)
    return str(uuid.uuid4()), {"Records": records}


def worker_batch(size: int = 10) -> Invocation:
    """A batch of the bulk queue, as POST /revocations puts its messages there (`{"batch_id", "request"}`)."""
    batch_id = str(uuid.uuid4())
    return sqs_batch(
        json.dumps({"batch_id": batch_id, "request": {"message_uuid": str(uuid.uuid4()), **REVOKE_BODY}})
        for _ in range(size)
    )


def write_invocations(path: Path, invocations: Iterable[Invocation]) -> Path:
    """The probe's input: one JSON line per invocation, the first of them the cold one."""
    with path.open("w", encoding="utf-8") as stream:
        for invocation in invocations:
            stream.write(json.dumps(invocation) + "\n")
    return path
