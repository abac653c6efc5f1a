"""POST /revocations: every item validated before anything is queued; the valid ones queued for the worker
in the queue's batches, then named in the batch and recorded `queued`, all within the function's time.

The queue comes first: a record never says `queued` without a message on the queue (a crash between the two
leaves a queued message whose worker writes the record). What the time left cannot take is refused, item by
item, as retryable: the receipt is the truth about what was queued.

AWS calls for n valid items: ceil(n/100) BatchGetItem (what the ledger knows), then in slices of up to 100
(as many as there are threads, QUEUEING_CONCURRENCY at a time) a SendMessageBatch per ten, BatchWriteItem of
the slice's members (25 a call) and one TransactWriteItems of its records (each `queued` on the version read;
those that moved on are decided again, one by one). A thousand items in 15 slices of 70: 10 + 100 + 45 + 15
calls, about (10 x 10 ms + 7 x 20 ms + 3 x 15 ms + 30 ms) = 0.3 s on each of the 15 threads at DynamoDB's and
SQS's usual latencies. A conditional UpdateItem per record cost about 1.5 ms of CPU each (1.5 s of the 15 s
timeout for 1,000 at full core; five times that at 256 MB); the transaction costs two write units a record.
"""

import contextvars
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
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
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.ports import Ledger, RevocationQueue
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import check_region_source, check_window
from rcs_revoker.domain.timers import check_due_time
from rcs_revoker.domain.validation import TIMER_FIELDS, parse_batch, parse_batch_item
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record

# Ledger writes and queue sends for a thousand messages run this many at a time (within the AWS clients'
# 20 pooled connections): one after another they would take several seconds.
QUEUEING_CONCURRENCY: Final = 16
# A queue batch (one SendMessageBatch) is not sent with less time left than this: two slow AWS attempts, the
# slice's records and the answer.
CHUNK_RESERVE_S: Final = 4.0
# The most items queued, then recorded together (one Ledger.save_all: one DynamoDB transaction), per thread.
MAX_SLICE: Final = 100

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
        time_left: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._default_region = default_region
        self._clock = clock
        self._new_batch_id = new_batch_id
        self._time_left = time_left

    def __call__(self, payload: object) -> BatchReceipt:
        """The receipt of a batch (the request body's JSON). Raises InvalidRequest for a malformed batch,
        InvalidBatch when no item is valid, DependencyUnavailable when none could be queued."""
        receipt = BatchReceipt(batch_id=self._new_batch_id())
        now = self._clock()
        valid = self._validated(payload, receipt, now)
        ledger, queue = self._ledger, self._queue
        if queue is None or ledger is None:
            raise ServiceMisconfigured(
                "REVOCATION_QUEUE_URL and LEDGER_TABLE_NAME must be set: this function cannot queue revocations."
            )
        _Submission(ledger, queue, receipt, now, self._time_left).queue(valid)
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

    def _validated(self, payload: object, receipt: BatchReceipt, now: datetime) -> dict[str, _Item]:
        """The valid items by message UUID (a UUID named twice counts once: the first mention wins); the
        invalid ones go to the receipt's rejections."""
        messages, default_selector = parse_batch(payload)
        valid: dict[str, _Item] = {}
        for index, item in enumerate(messages):
            try:
                request, fields = parse_batch_item(item, default_selector)
                check_window(request, now)
                check_region_source(request, self._default_region)
                if request.timer is not None:
                    fields = _with_due_time(request, fields, now)
            except RevocationError as error:
                receipt.rejected.append(_rejection(index, item, error))
                continue
            message = {"batch_id": receipt.batch_id, "request": fields, "requested_at": now.isoformat()}
            valid.setdefault(request.message_uuid, (index, message))
        if not valid:
            raise InvalidBatch("No item of the batch is valid; nothing was queued.", receipt.in_order())
        return valid


def _rejection(index: int, item: object, error: RevocationError) -> ItemRejection:
    raw = item.get("message_uuid") if isinstance(item, Mapping) else None
    return ItemRejection(index, raw[:64] if isinstance(raw, str) else None, error)


class _Submission:
    """The valid items of one batch on their way to the queue and the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        queue: RevocationQueue,
        receipt: BatchReceipt,
        now: datetime,
        time_left: Callable[[], float | None],
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._receipt = receipt
        self._now = now
        self._time_left = time_left
        self._known: dict[str, LedgerRecord] = {}
        self._writes: dict[str, LedgerWrite] = {}
        self._contexts: dict[str, RequestContext] = {}
        self._lock = threading.Lock()

    def queue(self, valid: dict[str, _Item]) -> None:
        batch_id = self._receipt.batch_id
        self._known = self._ledger.get_many(list(valid))  # DependencyUnavailable: nothing was queued
        already: list[str] = []
        deferred: list[str] = []
        for message_uuid, (_, message) in valid.items():
            if "at" in message["request"]:
                # A deferred revocation is scheduled by the worker (which writes its record): a `queued` record
                # now would say that a revocation is under way.
                deferred.append(message_uuid)
                continue
            context = self._contexts[message_uuid] = _context(message, self._now)
            write = recording.queued(self._known.get(message_uuid), message_uuid, batch_id, context)
            if write is None:
                already.append(message_uuid)  # revoked before, or its end known: not queued again
            else:
                self._writes[message_uuid] = write
        if already:
            self._ledger.add_to_batch(batch_id, already)
            self._receipt.already_requested = len(already)
        items = [(message_uuid, valid[message_uuid]) for message_uuid in [*self._writes, *deferred]]
        slices = _slices(items, self._queue.batch_size)
        # Each slice in a copy of this thread's context (made here, not in the pool's thread): the invocation's
        # deadline bounds its AWS calls too.
        contexts = [contextvars.copy_context() for _ in slices]
        with ThreadPoolExecutor(max_workers=QUEUEING_CONCURRENCY) as pool:
            list(pool.map(lambda context, part: context.run(self._slice, part), contexts, slices))

    def _slice(self, items: list[tuple[str, _Item]]) -> None:
        """Queues the slice's items a queue batch at a time, then records the ones queued."""
        size = self._queue.batch_size
        sent: list[str] = []
        for start in range(0, len(items), size):
            sent += self._send(items[start : start + size])
        with self._lock:
            self._receipt.accepted += len(sent)
        self._record(sent)

    def _send(self, chunk: list[tuple[str, _Item]]) -> list[str]:
        """One queue batch: the UUIDs queued (the others are refused in the receipt)."""
        left = self._time_left()
        if left is not None and left < CHUNK_RESERVE_S:
            refusal = NotQueued("Not queued: the request ran out of time before this item's turn. Submit it again.")
            self._reject([(index, message, refusal) for _, (index, message) in chunk])
            return []
        entry_ids = {f"m{position}": message_uuid for position, (message_uuid, _) in enumerate(chunk)}
        items = dict(chunk)
        failures = self._queue.send({entry: items[uuid_][1] for entry, uuid_ in entry_ids.items()})
        refused: list[tuple[int, dict[str, Any], RevocationError]] = []
        for entry, why in failures.items():
            message_uuid = entry_ids[entry]
            index, message = items[message_uuid]
            refused.append((index, message, NotQueued(why)))
            if message_uuid not in self._known:
                _record_not_queued(self._ledger, message_uuid, why, _context(message, self._now), self._now)
        self._reject(refused)
        return [message_uuid for entry, message_uuid in entry_ids.items() if entry not in failures]

    def _record(self, sent: list[str]) -> None:
        """Queued, so accepted even if the ledger now fails: the worker records what it revokes."""
        if not sent:
            return
        batch_id = self._receipt.batch_id
        try:
            self._ledger.add_to_batch(batch_id, sent)
            # Deferred items have no write: the worker writes their record.
            moved_on = self._ledger.save_all([self._writes[uuid_] for uuid_ in sent if uuid_ in self._writes])
            for message_uuid in moved_on:
                # The record moved on since it was read (the worker, or a callback, got there first): decided
                # again on what it now is.
                context = self._contexts[message_uuid]
                write_record(self._ledger, message_uuid, partial(_queued, message_uuid, batch_id, context))
        except RevocationError as error:
            count("BatchRecordsNotWritten")
            logger.error(
                "queued messages not recorded in the ledger",
                extra={"batch_id": self._receipt.batch_id, "detail": error.detail},
            )

    def _reject(self, items: list[tuple[int, dict[str, Any], RevocationError]]) -> None:
        with self._lock:
            self._receipt.rejected += [_rejection(index, message["request"], error) for index, message, error in items]


def _slices(items: list[tuple[str, _Item]], batch_size: int) -> list[list[tuple[str, _Item]]]:
    """The items in as many slices as there are threads (fewer, bigger ledger writes: the bulk route's CPU is
    per call), each a whole number of queue batches and at most MAX_SLICE items."""
    per_thread = -(-len(items) // QUEUEING_CONCURRENCY)
    size = max(batch_size, min(MAX_SLICE, -(-per_thread // batch_size) * batch_size))
    return [items[start : start + size] for start in range(0, len(items), size)]


def _with_due_time(request: RevocationRequest, fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A deferred item's fields with its due time fixed now (after_seconds counts from the submission, not
    from the worker's turn), checked now as the single route checks it."""
    assert request.timer is not None  # noqa: S101 - the caller checks
    due_at = request.timer.due_at(now)
    check_due_time(due_at, now, request.sent_at)
    without = {name: value for name, value in fields.items() if name not in TIMER_FIELDS}
    return {**without, "at": due_at.isoformat()}


def _queued(
    message_uuid: str, batch_id: str, context: RequestContext, record: LedgerRecord | None
) -> LedgerWrite | None:
    return recording.queued(record, message_uuid, batch_id, context)


def _context(message: dict[str, Any], now: datetime) -> RequestContext:
    request = message["request"]
    fields = {name: value for name, value in request.items() if name not in ("client_ref", "metadata")}
    return RequestContext(
        "api", message["batch_id"], now, request.get("client_ref"), request.get("metadata"), request=fields
    )


def _record_not_queued(ledger: Ledger, message_uuid: str, why: str, context: RequestContext, now: datetime) -> None:
    """The queue refused the message after its retries: `failed`, so that the batch says so."""
    refusal = NotQueued(why, message_uuid=message_uuid)
    write_record(
        ledger, message_uuid, lambda record: recording.refused(record, message_uuid, refusal, context, now, final=True)
    )
