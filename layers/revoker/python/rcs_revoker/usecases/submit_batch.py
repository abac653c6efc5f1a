"""POST /revocations: every item validated before anything is queued; the valid ones recorded in the ledger,
then queued for the worker, in the queue's batches."""

import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    InvalidBatch,
    ItemRejection,
    NotQueued,
    RevocationError,
    ServiceMisconfigured,
)
from rcs_revoker.domain.ports import Ledger, RevocationQueue
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import check_region_source, check_window
from rcs_revoker.domain.validation import parse_batch, parse_batch_item
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record

# Ledger writes and queue sends for a thousand messages run this many at a time: an API Gateway request
# has 29 seconds, one after another they would take several.
QUEUEING_CONCURRENCY: Final = 8

_Item = tuple[int, dict[str, Any]]  # (index in the batch, the message to queue)


@dataclass(slots=True)
class BatchReceipt:
    batch_id: str
    accepted: int = 0
    already_requested: int = 0
    rejected: list[ItemRejection] = field(default_factory=list)

    def in_order(self) -> list[ItemRejection]:
        return sorted(self.rejected, key=lambda item: item.index)

    def as_dict(self, render: Callable[[ItemRejection], dict[str, Any]]) -> dict[str, Any]:
        """The receipt, each rejection as `render` (the API's problem document of its error) gives it."""
        return {
            "batch_id": self.batch_id,
            "accepted": self.accepted,
            "already_requested": self.already_requested,
            "rejected": [render(item) for item in self.in_order()],
        }


class SubmitBatch:
    """`ledger` and `queue` None: the deployment cannot queue (the route answers 500, after validation)."""

    def __init__(
        self,
        *,
        ledger: Ledger | None,
        queue: RevocationQueue | None,
        default_region: Region | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_batch_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._default_region = default_region
        self._clock = clock
        self._new_batch_id = new_batch_id

    def __call__(self, payload: object) -> BatchReceipt:
        """The receipt of a batch (the request body's JSON). Raises InvalidRequest for a malformed batch,
        InvalidBatch when no item is valid, DependencyUnavailable when none could be queued."""
        messages, default_selector = parse_batch(payload)
        receipt = BatchReceipt(batch_id=self._new_batch_id())
        valid: dict[str, _Item] = {}  # message_uuid -> (index, queue message)
        now = self._clock()
        for index, item in enumerate(messages):
            try:
                request, fields = parse_batch_item(item, default_selector)
                check_window(request, now)
                check_region_source(request, self._default_region)
            except RevocationError as error:
                receipt.rejected.append(_rejection(index, item, error))
                continue
            # A UUID named twice counts once: the first mention wins.
            valid.setdefault(request.message_uuid, (index, {"batch_id": receipt.batch_id, "request": fields}))
        if not valid:
            raise InvalidBatch("No item of the batch is valid; nothing was queued.", receipt.in_order())
        ledger, queue = self._ledger, self._queue
        if queue is None or ledger is None:
            raise ServiceMisconfigured(
                "REVOCATION_QUEUE_URL and LEDGER_TABLE_NAME must be set: this function cannot queue revocations."
            )
        items = list(valid.items())
        chunks = [items[i : i + queue.batch_size] for i in range(0, len(items), queue.batch_size)]
        with ThreadPoolExecutor(max_workers=QUEUEING_CONCURRENCY) as pool:
            for outcome in pool.map(lambda chunk: _queue(ledger, queue, receipt.batch_id, chunk, now), chunks):
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


def _rejection(index: int, item: object, error: RevocationError) -> ItemRejection:
    raw = item.get("message_uuid") if isinstance(item, Mapping) else None
    return ItemRejection(index, raw[:64] if isinstance(raw, str) else None, error)


def _queue(
    ledger: Ledger, queue: RevocationQueue, batch_id: str, chunk: list[tuple[str, _Item]], now: datetime
) -> BatchReceipt:
    """Ledger first, then the queue: a message is never queued without a record. What the queue refuses
    after retries is recorded `failed` and reported rejected: nothing is lost between the API and SQS."""
    outcome = BatchReceipt(batch_id=batch_id)
    to_send: dict[str, _Item] = {}
    for message_uuid, (index, message) in chunk:
        try:
            event = recording.queued(message_uuid, batch_id, _context(batch_id, message, now))
            if ledger.mark_queued(message_uuid, batch_id, event):
                to_send[message_uuid] = (index, message)
            else:
                outcome.already_requested += 1  # revoked before: not queued again
        except RevocationError as error:
            outcome.rejected.append(_rejection(index, message["request"], NotQueued(error.detail)))
    if not to_send:
        return outcome
    entry_ids = {f"m{position}": message_uuid for position, message_uuid in enumerate(to_send)}
    failures = queue.send({entry: to_send[uuid_][1] for entry, uuid_ in entry_ids.items()})
    for entry, why in failures.items():
        message_uuid = entry_ids[entry]
        index, message = to_send[message_uuid]
        outcome.rejected.append(_rejection(index, message["request"], NotQueued(why)))
        _record_not_queued(ledger, message_uuid, why, _context(batch_id, message, now), now)
    outcome.accepted = len(to_send) - len(failures)
    return outcome


def _context(batch_id: str, message: dict[str, Any], now: datetime) -> RequestContext:
    request = message["request"]
    return RequestContext("api", batch_id, now, request.get("client_ref"), request.get("metadata"))


def _record_not_queued(ledger: Ledger, message_uuid: str, why: str, context: RequestContext, now: datetime) -> None:
    """The queue refused the message after its retries: `failed`, so that the batch says so."""
    refusal = NotQueued(why, message_uuid=message_uuid)
    write_record(
        ledger, message_uuid, lambda record: recording.refused(record, message_uuid, refusal, context, now, final=True)
    )
