"""What the revocation ledger knows: one record per message UUID, the summary of a batch, and the write that
moves a record on.

States (see rcs_revoker.domain.lifecycle for the ones status callbacks bring): `scheduled` (a deferred
revocation waits for its due time: rcs_revoker.domain.timers), `cancelled` (the sender cancelled it),
`queued` (accepted into the bulk queue), `revoking` (Vonage is being asked: written before the PATCH, so
that a crash leaves a record to finish), `retrying` (a transient failure, with a retry to come: Lambda's for
an event), `requested` (Vonage accepted the revocation), `rejected` (a permanent refusal), `failed`
(transient failures until no retry was left), then `revoked`, `delivered`, `undelivered` once Vonage has
said what happened to the message, or `sent` for a message known only from its callbacks.

The ledger is the one source of truth: every outcome event is written into the record by the same write
that changes it (`LedgerWrite.events`, with a new `version`), and published from the table's stream, so that
no event is lost between the two and none is published for a write that did not happen.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from rcs_revoker.domain.lifecycle import MessageLife, fallback_for, is_settled
from rcs_revoker.domain.outcome_events import OutcomeEvent

# Concurrent writers of one message are a revocation and its callbacks: a handful at most. Past this many
# conflicts in a row something is wrong, and the write is reported not done (to be retried).
MAX_CONFLICTS: Final = 5

STATES: Final = (
    "scheduled",
    "cancelled",
    "queued",
    "revoking",
    "retrying",
    "requested",
    "rejected",
    "failed",
    "revoked",
    "delivered",
    "undelivered",
    "sent",
)
# The states that wait for something of ours (a queue message, a retry, Vonage's answer): a record left in
# one past its time is asked again by the reconciler (rcs_revoker.usecases.reconcile).
# How long each may last before that: past the longest a normal path takes (a queue message waits out its
# receives and rate limits, and each of those writes pushes the time on; an invocation asking Vonage ends
# within its 30 s timeout, and its idempotency record's "in progress" with it).
# A scheduled record's time is its due time plus this backstop (rcs_revoker.domain.timers.BACKSTOP): the
# reconciler fires a timer whose wake-up never came.
REDRIVE_AFTER: Final = {
    "scheduled": timedelta(minutes=2),
    "queued": timedelta(minutes=15),
    "retrying": timedelta(minutes=15),
    "revoking": timedelta(minutes=2),
}
PENDING_STATES: Final = frozenset(REDRIVE_AFTER)


def redrive_due(state: str, now: datetime) -> datetime | None:
    """When a record that has just entered `state` is to be asked again if nothing moved it on; None for a
    state that waits for nothing of ours."""
    after = REDRIVE_AFTER.get(state)
    return now + after if after is not None else None


# What GET /revocations/{message_uuid} shows of a record's history: the latest entries.
TIMELINE_LENGTH: Final = 20


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    message_uuid: str
    state: str
    batch_id: str | None
    region: str | None
    attempts: int
    last_error: str | None
    vonage_request_id: str | None
    created_at: str
    updated_at: str
    # From the status callbacks (all None until one arrives).
    life: MessageLife = field(default_factory=MessageLife)
    vonage_error: dict[str, str] | None = None
    # The sender's own reference, from the first request or callback that gave one.
    client_ref: str | None = None
    metadata: dict[str, Any] | None = None
    # (time, what happened, details) entries, oldest first, the last TIMELINE_LENGTH of them.
    timeline: tuple[dict[str, Any], ...] = ()
    # The callbacks already recorded (StatusCallback.callback_id): a repeat changes nothing.
    callbacks: frozenset[str] = frozenset()
    # The outcome already published for a revocation (an outcome event's `outcome`), so that asking again
    # publishes none twice.
    outcome: str | None = None
    # The request as last asked (RevocationRequest.as_fields()): what a re-drive asks again.
    request: dict[str, Any] | None = None
    # How many times the reconciler has re-driven the record (bounded: then it fails), and when it will next
    # if nothing moves the record on (None: it waits for nothing of ours).
    redrives: int = 0
    redrive_at: datetime | None = None
    # The deferred revocation, if one was asked (rcs_revoker.domain.timers.timer_fields): kept once it has
    # ended, with how (`ended`) and when.
    timer: dict[str, Any] | None = None
    version: int = 0

    @property
    def fallback(self) -> bool | None:
        return fallback_for(self.state)

    def as_dict(self) -> dict[str, Any]:
        life = self.life
        return {
            "message_uuid": self.message_uuid,
            "state": self.state,
            "fallback": self.fallback,
            "settled": is_settled(self.state),
            "batch_id": self.batch_id,
            "region": self.region,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "vonage_request_id": self.vonage_request_id,
            "agent_id": life.agent_id,
            "submitted_at": _iso(life.submitted_at),
            "delivery_status": life.delivery_status,
            "delivery_status_at": _iso(life.delivery_status_at),
            "delivered_at": _iso(life.delivered_at),
            "vonage_error": self.vonage_error,
            "client_ref": self.client_ref,
            "metadata": self.metadata,
            "timer": self.timer,
            "timeline": list(self.timeline[-TIMELINE_LENGTH:]),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class LedgerWrite:
    """One change of one record, made only if the record is still at `expected_version` (None: it must not
    exist yet), so that two writers never both act on what they read.

    `fields` are set (None removes the attribute); `timeline` entries are appended; `callback_id` is added
    to the record's callbacks; `events` are what this change publishes (the new version carries them).
    """

    message_uuid: str
    expected_version: int | None
    fields: dict[str, Any]
    timeline: tuple[dict[str, Any], ...] = ()
    callback_id: str | None = None
    events: tuple[OutcomeEvent, ...] = ()
    # Counted attempts (PATCHes, or failed tries) this change adds.
    attempts: int = 0

    def with_events(self, *events: OutcomeEvent) -> "LedgerWrite":
        return replace(self, events=self.events + events)


# LedgerWrite field names that are LedgerRecord attributes of the same name and type (the rest are the
# message's life, read from their ISO text).
_RECORD_FIELDS: Final = frozenset(
    {
        "state",
        "batch_id",
        "region",
        "last_error",
        "vonage_request_id",
        "vonage_error",
        "client_ref",
        "metadata",
        "outcome",
        "request",
        "redrives",
        "redrive_at",
        "timer",
    }
)
_LIFE_TIMES: Final = ("submitted_at", "delivery_status_at", "delivered_at")


def stored_fields(write: LedgerWrite, now: datetime) -> dict[str, Any]:
    """What a write sets: its fields, and the re-drive time its change of state brings (unless it gives one):
    the one rule every ledger applies when it stores a write."""
    fields = dict(write.fields)
    if "state" in fields and "redrive_at" not in fields:
        fields["redrive_at"] = redrive_due(fields["state"], now)
    return fields


def applied(record: LedgerRecord | None, write: LedgerWrite, now: datetime) -> LedgerRecord:
    """The record as it is once `write` is made (what the ledger would give back, without reading it): so that
    a use case that writes twice decides its second write on the first one's result."""
    stamp = now.isoformat()
    base = record or LedgerRecord(write.message_uuid, "sent", None, None, 0, None, None, stamp, stamp)
    fields = {name: value for name, value in stored_fields(write, now).items() if name in _RECORD_FIELDS}
    state = fields.get("state", base.state)
    life_fields: dict[str, Any] = {
        name: datetime.fromisoformat(value) if value and name in _LIFE_TIMES else value
        for name, value in write.fields.items()
        if name in (*_LIFE_TIMES, "agent_id", "delivery_status")
    }
    life = replace(base.life, state=state, **life_fields)
    return replace(
        base,
        **fields,
        life=life,
        attempts=base.attempts + write.attempts,
        timeline=base.timeline + write.timeline,
        callbacks=base.callbacks | ({write.callback_id} if write.callback_id else set()),
        updated_at=stamp,
        version=(write.expected_version or 0) + 1,
    )


@dataclass(frozen=True, slots=True)
class BatchSummary:
    batch_id: str
    counts: dict[str, int]
    pending: list[str]
    failed: list[dict[str, str | None]]
    rejected: list[dict[str, str | None]] = field(default_factory=list)

    @classmethod
    def of(cls, batch_id: str, members: list[str], records: dict[str, LedgerRecord]) -> "BatchSummary":
        """A batch's summary from its members' records. A member without a record yet is `queued`: a message
        is named in its batch once it is on the queue, and its record may be written after."""
        counts = dict.fromkeys(STATES, 0)
        pending: list[str] = []
        ended: dict[str, list[dict[str, str | None]]] = {"failed": [], "rejected": []}
        for uuid in sorted(set(members)):
            record = records.get(uuid)
            state = record.state if record else "queued"
            counts[state] = counts.get(state, 0) + 1
            if state in PENDING_STATES:
                pending.append(uuid)
            elif state in ended:
                ended[state].append({"message_uuid": uuid, "last_error": record.last_error if record else None})
        return cls(batch_id, counts, pending, ended["failed"], ended["rejected"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "total": sum(self.counts.values()),
            "counts": self.counts,
            "pending": self.pending,
            "failed": self.failed,
            "rejected": self.rejected,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
