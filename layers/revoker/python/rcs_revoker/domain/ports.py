"""What the service needs from the outside world, as small interfaces the adapters implement.

Every port has an in-memory fake in tests/fakes/, and a contract test (tests/contract/) runs the same
assertions against the fake and against the real adapter on moto server.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rcs_revoker.domain.ledger import BatchSummary, LedgerRecord, LedgerWrite
from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.outcome_events import OutcomeEvent
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.timers import Timer, WakeUpPlan


class AgentDirectory(Protocol):
    def find(self, agent_id: str) -> AgentRecord | None:
        """The agent's record, or None when the agents table does not know it."""
        ...


class VonageMessages(Protocol):
    def revoke(
        self, message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str | None:
        """Asks Vonage to revoke the message, with the credentials of `application` (None: the default
        application); returns Vonage's X-Request-Id.

        `deadline` is a `time.monotonic()` value: no attempt or back-off may run past it.
        Raises a RevocationError for every answer other than 2xx.
        """
        ...


class Ledger(Protocol):
    """One record per message (rcs_revoker.domain.ledger). Every method raises DependencyUnavailable when
    the store does not answer."""

    def get(self, message_uuid: str) -> LedgerRecord | None: ...

    def save(self, write: LedgerWrite) -> bool:
        """Makes the change if the record is still at `write.expected_version` (None: there is no record);
        False, with nothing written, when it has moved on: read it again and decide again."""
        ...

    def save_all(self, writes: list[LedgerWrite]) -> set[str]:
        """Makes each write whose record is still at its expected version, as `save` does (many per call);
        the UUIDs of those not made because their record moved on. Raises DependencyUnavailable (then some
        may have been made)."""
        ...

    def get_many(self, message_uuids: list[str]) -> dict[str, LedgerRecord]:
        """The records there are of these messages (strongly consistent), by UUID."""
        ...

    def add_to_batch(self, batch_id: str, message_uuids: list[str]) -> None:
        """Records that the batch names these messages (a message keeps every batch that named it)."""
        ...

    def batch(self, batch_id: str) -> BatchSummary | None:
        """The states of a batch's messages, or None when no message names the batch."""
        ...

    def due(self, now: datetime, limit: int) -> list[str]:
        """Up to `limit` messages whose record waits in a pending state past its re-drive time."""
        ...


class RevocationQueue(Protocol):
    """The bulk queue between POST /revocations and the worker."""

    @property
    def batch_size(self) -> int:
        """The most messages one `send` takes."""
        ...

    def send(self, messages: dict[str, dict[str, Any]], *, delay_s: int = 0) -> dict[str, str]:
        """Sends `{entry id: message}` (at most `batch_size`), to be received no sooner than `delay_s` (at
        most 900) from now; returns the entry ids not queued, with why. Never raises for a failed send: what
        is not in the answer was queued."""
        ...


class TimerWakeUps(Protocol):
    """What wakes a deferred revocation's timer function when the timer is due."""

    def arm(self, timer: Timer, plan: WakeUpPlan, *, retries: int = 0) -> None:
        """Arms the wake-up as planned: a message on the timer queue after `plan.delay_s`, or a one-time
        schedule at `plan.schedule_at` that puts it there (`retries`: how many times a fired timer's
        revocation failed transiently, carried by the wake-up). Raises DependencyUnavailable when it could not
        be armed; arming the same timer twice wakes it twice, harmlessly (the ledger decides each wake-up)."""
        ...

    def forget(self, timer: Timer) -> None:
        """Deletes the timer's schedule, if it has one and it has not fired: a cancelled or replaced timer then
        costs nothing more. Best effort, never raises: a wake-up left behind finds the timer ended."""
        ...


class OutcomePublisher(Protocol):
    def publish(self, events: list[OutcomeEvent]) -> int:
        """Puts the events on the bus, in order; returns how many were taken, from the first (all of them, or
        the index of the first one refused). Raises OutcomeNotRecorded when the bus does not answer."""
        ...


class WebhookVerifier(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The claims of a callback Vonage signed; raises WebhookUnauthorized naming the check that failed."""
        ...


class RemainingTime(Protocol):
    """What the idempotency store needs of the Lambda context: how long this invocation has left."""

    def get_remaining_time_in_millis(self) -> int: ...


class ComputationInProgress(Exception):
    """IdempotencyStore: another call holds the key right now."""


class IdempotencyStoreUnavailable(Exception):
    """IdempotencyStore: the store could not be read or written; the computation may or may not have run.
    `table`: the table that did not answer, as the caller is told."""

    def __init__(self, detail: str, *, table: str = "idempotency table") -> None:
        super().__init__(detail)
        self.table = table


@dataclass(eq=False, slots=True)
class LedgerWritesAlongside:
    """The ledger writes that go with an idempotency record's: the write-ahead with its "in progress" record,
    the outcome with its result. A store that keeps its records on the ledger's items makes each in the same
    conditional write as its own (one DynamoDB call instead of two) and says so in `started` and `ended`; any
    other store leaves them False, and the caller writes them itself.

    `start` decides the write-ahead from the record as it is (called again when the record moved on); when
    it raises (TimerEnded: the record says Vonage must not be asked), nothing is written, the computation does
    not run, and run_once raises that same exception (`refusal` keeps it, for a store whose library wraps
    what it calls). `end` decides the outcome's write from the record as the write-ahead left it and the
    computation's result (None: nothing to carry). `record` is the record as last known: the caller's, then
    the store's."""

    record: LedgerRecord | None
    start: Callable[[LedgerRecord | None], LedgerWrite]
    end: Callable[[LedgerRecord | None, dict[str, Any]], LedgerWrite | None]
    started: bool = False
    ended: bool = False
    refusal: Exception | None = None

    def decide_start(self) -> LedgerWrite:
        """`start` of the record as last known, keeping what it raises in `refusal`."""
        try:
            return self.start(self.record)
        except Exception as refusal:
            self.refusal = refusal
            raise


class IdempotencyStore(Protocol):
    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        *,
        lambda_context: RemainingTime | None = None,
        alongside: LedgerWritesAlongside | None = None,
    ) -> dict[str, Any]:
        """The stored result for `key`, computing it first when there is none.

        `compute` runs at most once while the key's record lives: its result (a JSON object) is stored and
        returned, and every later call returns the stored one without running it. When `compute` raises,
        nothing is stored and the exception propagates. Raises ComputationInProgress while another call
        for the key is running (a call left unfinished blocks the key until its invocation's deadline,
        given by `lambda_context`), and IdempotencyStoreUnavailable when the store fails. `alongside`: the
        ledger writes it may carry (see LedgerWritesAlongside).
        """
        ...
