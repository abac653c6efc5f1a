"""Bulk revocation: validate a batch, queue it for the worker, and answer what the ledger knows."""

import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.sqs_revocation_queue import SQS_BATCH_SIZE, SqsRevocationQueue
from rcs_revoker.bootstrap import service
from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    InvalidBatch,
    InvalidRequest,
    RecordNotFound,
    RevocationError,
    ServiceMisconfigured,
)
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.revocation import check_window
from rcs_revoker.domain.validation import (
    REGION_SELECTORS,
    decode_json_body,
    is_canonical_uuid,
    parse_message_uuid,
    parse_revocation_fields,
    shorten,
)
from rcs_revoker.observability import count, logger

MAX_BATCH_ITEMS: Final = 1000
MAX_BATCH_BODY_BYTES: Final = 256 * 1024
BATCH_FIELDS: Final = ("messages", *REGION_SELECTORS)
# Ledger writes and SendMessageBatch calls for a thousand messages run this many at a time: an API Gateway
# request has 29 seconds, one after another they would take several.
QUEUEING_CONCURRENCY: Final = 8


@dataclass(slots=True)
class BatchReceipt:
    batch_id: str
    accepted: int = 0
    already_requested: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "accepted": self.accepted,
            "already_requested": self.already_requested,
            "rejected": sorted(self.rejected, key=lambda item: item["index"]),
        }


def submit_batch(body: str | None, *, is_base64: bool) -> BatchReceipt:
    """POST /revocations: every item validated before anything is queued; valid ones queued, in tens."""
    count("BatchesSubmitted")
    payload = decode_json_body(body, is_base64=is_base64, max_bytes=MAX_BATCH_BODY_BYTES)
    messages, default_selector = _batch_fields(payload)
    receipt = BatchReceipt(batch_id=str(uuid.uuid4()))
    valid: dict[str, tuple[int, dict[str, Any]]] = {}  # message_uuid -> (index, queue message)
    now = datetime.now(UTC)
    has_default_region = service().settings.default_region is not None
    for index, item in enumerate(messages):
        try:
            request, fields = _item(item, default_selector)
            check_window(request, now)
            if not (has_default_region or request.region or request.country or request.agent_id):
                raise InvalidRequest(
                    "Give one of region, country or agent_id (for the item or the batch): "
                    "this deployment has no DEFAULT_REGION to fall back on."
                )
        except RevocationError as error:
            receipt.rejected.append(_rejection(index, item, "Invalid revocation request", error.detail))
            continue
        # A UUID named twice counts once: the first mention wins.
        valid.setdefault(request.message_uuid, (index, {"batch_id": receipt.batch_id, "request": fields}))
    if not valid:
        raise InvalidBatch("No item of the batch is valid; nothing was queued.", receipt.as_dict()["rejected"])
    components = service()
    ledger, queue = components.ledger, components.queue
    if queue is None or ledger is None:
        raise ServiceMisconfigured(
            "REVOCATION_QUEUE_URL and LEDGER_TABLE_NAME must be set: this function cannot queue revocations."
        )
    chunks = [list(valid.items())[i : i + SQS_BATCH_SIZE] for i in range(0, len(valid), SQS_BATCH_SIZE)]
    with ThreadPoolExecutor(max_workers=QUEUEING_CONCURRENCY) as pool:
        for outcome in pool.map(lambda chunk: _queue(ledger, queue, receipt.batch_id, chunk), chunks):
            receipt.accepted += outcome.accepted
            receipt.already_requested += outcome.already_requested
            receipt.rejected.extend(outcome.rejected)
    if receipt.accepted == 0 and receipt.already_requested == 0:
        # Every valid item failed to be queued (SQS or DynamoDB down): a service failure, not a batch answer.
        raise DependencyUnavailable("None of the valid items could be queued; nothing was queued. Try again.")
    count("BatchItemsQueued", receipt.accepted)
    logger.info(
        "batch queued",
        extra={
            "batch_id": receipt.batch_id,
            "accepted": receipt.accepted,
            "already_requested": receipt.already_requested,
            "rejected": len(receipt.rejected),
        },
    )
    return receipt


def revocation_record(message_uuid: str) -> dict[str, Any]:
    """GET /revocations/{message_uuid}."""
    count("RecordLookups")
    uuid_ = parse_message_uuid(message_uuid)
    record = _ledger().get(uuid_)
    if record is None:
        raise RecordNotFound(f"The ledger has no revocation of message {uuid_}.", message_uuid=uuid_)
    return record.as_dict()


def batch_status(batch_id: str) -> dict[str, Any]:
    """GET /batches/{batch_id}."""
    count("BatchLookups")
    if not is_canonical_uuid(batch_id):
        raise InvalidRequest(f"batch_id {shorten(batch_id)} is not a canonical UUID (8-4-4-4-12 hexadecimal digits).")
    summary = _ledger().batch(batch_id.lower())
    if summary is None:
        raise RecordNotFound(f"The ledger has no batch {batch_id.lower()}.")
    return summary.as_dict()


def _ledger() -> DynamoDbLedger:
    ledger = service().ledger
    if ledger is None:
        raise ServiceMisconfigured("LEDGER_TABLE_NAME is not set: this function has no ledger to read.")
    return ledger


def _batch_fields(payload: object) -> tuple[list[Any], dict[str, Any]]:
    if not isinstance(payload, Mapping):
        raise InvalidRequest("The request body must be a JSON object with a messages array.")
    unknown = sorted(str(name) for name in payload if name not in BATCH_FIELDS)
    if unknown:
        names = ", ".join(shorten(name, 40) for name in unknown[:5])
        raise InvalidRequest(f"Unknown field(s): {names}. Allowed fields: {', '.join(BATCH_FIELDS)}.")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_BATCH_ITEMS:
        raise InvalidRequest(f"messages must be an array of 1 to {MAX_BATCH_ITEMS} items.")
    default = {name: payload[name] for name in REGION_SELECTORS if payload.get(name) is not None}
    if len(default) > 1:
        raise InvalidRequest(f"Give at most one default of region, country or agent_id; got {' and '.join(default)}.")
    return messages, default


def _item(item: object, default_selector: dict[str, Any]) -> tuple[RevocationRequest, dict[str, Any]]:
    if not isinstance(item, Mapping):
        raise InvalidRequest("Each item must be a JSON object with a message_uuid.")
    fields = {name: value for name, value in item.items() if name != "message_uuid"}
    if not any(fields.get(name) is not None for name in REGION_SELECTORS):
        fields.update(default_selector)
    request = parse_revocation_fields(item.get("message_uuid"), fields)
    queued = {name: value for name, value in fields.items() if value is not None}
    return request, {"message_uuid": request.message_uuid, **queued}


def _rejection(index: int, item: object, title: str, detail: str) -> dict[str, Any]:
    raw = item.get("message_uuid") if isinstance(item, Mapping) else None
    return {
        "index": index,
        "message_uuid": raw[:64] if isinstance(raw, str) else None,
        "title": title,
        "detail": detail,
    }


def _queue(
    ledger: DynamoDbLedger,
    queue: SqsRevocationQueue,
    batch_id: str,
    chunk: list[tuple[str, tuple[int, dict[str, Any]]]],
) -> BatchReceipt:
    """Ledger first, then the queue: a message is never queued without a record. What the queue refuses
    after retries is recorded `failed` and reported rejected: nothing is lost between the API and SQS."""
    outcome = BatchReceipt(batch_id=batch_id)
    to_send: dict[str, tuple[int, dict[str, Any]]] = {}
    for message_uuid, (index, message) in chunk:
        try:
            if ledger.mark_queued(message_uuid, batch_id):
                to_send[message_uuid] = (index, message)
            else:
                outcome.already_requested += 1  # revoked before: not queued again
        except RevocationError as error:
            outcome.rejected.append(_rejection(index, message["request"], "Not queued", error.detail))
    if not to_send:
        return outcome
    entry_ids = {f"m{position}": message_uuid for position, message_uuid in enumerate(to_send)}
    failures = queue.send({entry: to_send[uuid_][1] for entry, uuid_ in entry_ids.items()})
    for entry, why in failures.items():
        message_uuid = entry_ids[entry]
        index, message = to_send[message_uuid]
        outcome.rejected.append(_rejection(index, message["request"], "Not queued", why))
        try:
            ledger.mark_failed(message_uuid, None, f"not-queued: {why}", final=True)
        except RevocationError:
            logger.error("ledger not written for a message SQS refused", extra={"message_uuid": message_uuid})
    outcome.accepted = len(to_send) - len(failures)
    return outcome
