"""DELETE /messages/{message_uuid}/revocation: the sender cancels a scheduled revocation before it fires. The
ledger decides, by a versioned write: a wake-up firing at the same moment either finds the timer cancelled,
or has fired it first (then the answer is 409)."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, NoScheduledRevocation, TimerAlreadyFired
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite, applied
from rcs_revoker.domain.ports import Ledger, TimerWakeUps
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.timers import Timer
from rcs_revoker.domain.validation import parse_message_uuid
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record


class CancelScheduledRevocation:
    def __init__(
        self,
        *,
        ledger: Ledger | None,
        wake_ups: TimerWakeUps | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._wake_ups = wake_ups
        self._clock = clock

    def __call__(self, message_uuid: str, invocation: Invocation) -> dict[str, Any]:
        """The record once cancelled. Raises InvalidRequest, NoScheduledRevocation (none, or it has ended
        without firing), TimerAlreadyFired, DependencyUnavailable."""
        uuid = parse_message_uuid(message_uuid)
        if self._ledger is None:
            raise NoScheduledRevocation("This deployment has no ledger, so no scheduled revocation.", message_uuid=uuid)
        now = self._clock()
        context = RequestContext(invocation.entry_point, invocation.correlation_id, invocation.requested_at)
        seen: list[LedgerRecord | None] = []
        written: list[LedgerRecord] = []

        def decide(record: LedgerRecord | None) -> LedgerWrite | None:
            seen[:] = [record]
            write = recording.cancelled(record, context, now) if record is not None else None
            written[:] = [applied(record, write, now)] if write is not None else []
            return write

        if not write_record(self._ledger, uuid, decide):
            raise DependencyUnavailable("The ledger table did not answer; ask again.", message_uuid=uuid)
        if not written:
            raise _why_not(uuid, seen[0] if seen else None)
        timer = seen[0].timer if seen and seen[0] is not None else None
        if timer is not None and timer.get("wake_up") == "schedule" and self._wake_ups is not None:
            self._wake_ups.forget(Timer.kept(uuid, timer))
        count("RevocationsCancelled")
        logger.info("scheduled revocation cancelled", extra={"message_uuid": uuid})
        return written[0].as_dict()


def _why_not(uuid: str, record: LedgerRecord | None) -> Exception:
    timer = record.timer if record is not None else None
    if record is None or timer is None:
        return NoScheduledRevocation(f"Message {uuid} has no scheduled revocation.", message_uuid=uuid)
    how, when = timer.get("ended"), timer.get("ended_at")
    if how in ("fired", "revoked-now"):
        return TimerAlreadyFired(
            f"The scheduled revocation of message {uuid} has already fired (at {when}): Vonage has been asked. "
            "Its outcome follows from GET /revocations/{message_uuid}.",
            message_uuid=uuid,
        )
    return NoScheduledRevocation(
        f"Message {uuid} has no scheduled revocation any more: it ended ({how}) at {when}.", message_uuid=uuid
    )
