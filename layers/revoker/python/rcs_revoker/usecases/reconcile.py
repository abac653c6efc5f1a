"""The reconciler: every minute, the ledger records left waiting past their time are asked again.

A record waits in a pending state (`queued`, `revoking`, `retrying`: rcs_revoker.domain.ledger) only until
something of ours moves it on: the worker's receive, the answer to a PATCH, Lambda's retry. A process killed
at the wrong moment, a retry that gave up, a message dead-lettered while its record still said `queued`: each
leaves a record nobody will move. The reconciler puts its request back on the bulk queue, where the usual
exactly-once path finishes it (the idempotency record replays what Vonage already answered; otherwise Vonage
is asked again, harmlessly: it is the same revocation). Bounded: each re-drive waits twice as long as the one
before, and after MAX_REDRIVES (or once Vonage's 24-hour window has closed) the record fails with a Failed
outcome, for a person to look at (the RevocationsAbandoned metric has an alarm).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, RevocationError
from rcs_revoker.domain.ledger import PENDING_STATES, LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import Ledger, RevocationQueue, TimerWakeUps
from rcs_revoker.domain.timers import Timer, WakeUpPlan, is_pending
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record

MAX_REDRIVES: Final = 5
# Records looked at per run (a run every minute): a backlog larger than this is worked off over several runs.
RECORDS_PER_RUN: Final = 500
# A run stops taking records with less time left than this (its own Lambda timeout is 60 s).
RUN_RESERVE_S: Final = 10.0


@dataclass(slots=True)
class ReconcileReport:
    due: int = 0
    redriven: int = 0
    abandoned: int = 0
    skipped: int = 0  # moved on since the index said it was due, or could not be handled this run

    def as_dict(self) -> dict[str, int]:
        return {"due": self.due, "redriven": self.redriven, "abandoned": self.abandoned, "skipped": self.skipped}


class ReconcileLedger:
    def __init__(
        self,
        *,
        ledger: Ledger | None,
        queue: RevocationQueue | None,
        wake_ups: TimerWakeUps | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        time_left: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._wake_ups = wake_ups
        self._clock = clock
        self._time_left = time_left

    def __call__(self) -> ReconcileReport:
        """One run. Raises DependencyUnavailable when the ledger's index cannot be read."""
        report = ReconcileReport()
        ledger, queue = self._ledger, self._queue
        if ledger is None or queue is None:
            return report
        due = ledger.due(self._clock(), RECORDS_PER_RUN)
        report.due = len(due)
        for taken, message_uuid in enumerate(due):
            left = self._time_left()
            if left is not None and left < RUN_RESERVE_S:
                report.skipped += report.due - taken  # the next run takes them
                break
            try:
                self._reconcile(ledger, queue, message_uuid, report)
            except RevocationError as error:
                report.skipped += 1
                logger.error("record not reconciled", extra={"message_uuid": message_uuid, "detail": error.detail})
        count("RecordsRedriven", report.redriven)
        count("RevocationsAbandoned", report.abandoned)
        logger.info("ledger reconciled", extra=report.as_dict())
        return report

    def _reconcile(self, ledger: Ledger, queue: RevocationQueue, message_uuid: str, report: ReconcileReport) -> None:
        """The record first (a versioned write: two runs never both re-drive it), then the queue: a send
        that fails is tried again at the record's next re-drive time, later but not lost."""
        now = self._clock()
        chosen: list[tuple[str, dict[str, Any] | None, Timer | None]] = []

        def decide(record: LedgerRecord | None) -> LedgerWrite | None:
            chosen.clear()
            if record is None or record.state not in PENDING_STATES:
                return None
            if record.redrive_at is not None and record.redrive_at > now:
                return None  # moved on since the index was read
            write, request = recording.redriven(record, now, max_redrives=MAX_REDRIVES)
            chosen.append((record.state, request, _pending_timer(record)))
            return write

        if not write_record(ledger, message_uuid, decide) or not chosen:
            report.skipped += 1
            return
        state, request, timer = chosen[0]
        if request is None:
            report.abandoned += 1
            logger.warning("revocation abandoned", extra={"message_uuid": message_uuid, "state": state})
            return
        if not self._send_again(queue, request, timer):
            report.skipped += 1
            return
        report.redriven += 1
        logger.info("record re-driven", extra={"message_uuid": message_uuid, "state": state})

    def _send_again(self, queue: RevocationQueue, request: dict[str, Any], timer: Timer | None) -> bool:
        """A scheduled record's wake-up never came: woken now, on the timer queue (where the ledger decides,
        as for any wake-up: a revocation request on the bulk queue would revoke a message delivered since).
        Any other record's request goes back to the bulk queue."""
        if timer is not None:
            if self._wake_ups is None:
                return False
            try:
                self._wake_ups.arm(timer, WakeUpPlan(delay_s=0))
            except DependencyUnavailable:
                return False
            return True
        return not queue.send({"m0": {"request": request, "redriven": True}})


def _pending_timer(record: LedgerRecord) -> Timer | None:
    timer = record.timer
    if record.state != "scheduled" or timer is None or not is_pending(timer):
        return None
    return Timer.kept(record.message_uuid, timer)
