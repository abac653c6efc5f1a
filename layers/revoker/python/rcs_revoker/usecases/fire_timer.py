"""A timer's wake-up (a message of the timer queue): sent round again while the timer is not due, then the
ledger decides. A record still `scheduled` with this timer fires: the timer-fired write (a versioned write,
so that a `delivered` callback landing at the same moment either wins before it, cancelling the timer, or
finds the revocation asked), then the usual exactly-once revocation. Anything else is a no-op, recorded once.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, RevocationError
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import Ledger, TimerWakeUps
from rcs_revoker.domain.timers import MAX_HOLD_S, QUEUE_MAX_DELAY_S, Timer, WakeUpPlan, plan_wake_up
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record
from rcs_revoker.usecases.revoke_queued import RevokeQueuedMessage

# A revocation that fails transiently after its timer fired is woken again this much later, doubling: the
# timer queue's own retry (its visibility timeout) would wait minutes.
RETRY_DELAY_S: Final = 2
MAX_RETRY_DELAY_S: Final = 300
# After this many, the wake-up fails back to the queue, whose redrive policy ends in the dead-letter queue.
MAX_FIRE_RETRIES: Final = 8

WakeUpResult = Literal["slept", "fired", "finished", "ignored", "unreadable"]


@dataclass(frozen=True, slots=True)
class _Decision:
    action: Literal["fire", "finish", "ignore"]
    record: LedgerRecord | None


class FireTimer:
    def __init__(
        self,
        *,
        ledger: Ledger | None,
        wake_ups: TimerWakeUps | None,
        revoke: RevokeQueuedMessage,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hold: Callable[[float], None] = time.sleep,
        queue_max_delay_s: int = QUEUE_MAX_DELAY_S,
    ) -> None:
        self._ledger = ledger
        self._wake_ups = wake_ups
        self._revoke = revoke
        self._clock = clock
        self._hold = hold
        self._queue_max_delay_s = queue_max_delay_s

    def __call__(self, body: str, *, invocation: Invocation) -> WakeUpResult:
        """What the wake-up did. Raises RevocationError when it must come back (a transient failure that could
        not be re-armed): the queue delivers it again, then dead-letters it."""
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        timer = Timer.from_wake_up(message)
        if timer is None or self._ledger is None or self._wake_ups is None:
            count("TimerWakeUpsUnreadable")
            logger.error("not a timer wake-up (or no ledger): dropped", extra={"body": body[:200]})
            return "unreadable"
        retries = int(message.get("retries") or 0) if isinstance(message, dict) else 0
        now = self._clock()
        remaining = (timer.due_at - now).total_seconds()
        if remaining > MAX_HOLD_S:
            self._rearm(timer, plan_wake_up(timer.due_at, now, queue_max_delay_s=self._queue_max_delay_s))
            count("TimerHops")
            return "slept"
        if remaining > 0:
            self._hold(remaining)  # SQS woke it early by less than a second: not worth another round
        logger.append_keys(message_uuid=timer.message_uuid)
        decision = self._decide(self._ledger, timer)
        if decision.action == "ignore":
            count("TimerWakeUpsIgnored")
            found = decision.record.state if decision.record else None
            logger.info("timer wake-up: nothing to do", extra={"state": found})
            return "ignored"
        record = decision.record
        assert record is not None  # noqa: S101 - _decide fires only records
        assert record.request is not None  # noqa: S101 - ... that keep their request
        if decision.action == "fire":
            count("TimersFired")
            lateness = (self._clock() - timer.due_at).total_seconds()
            logger.info("timer fired", extra={"late_ms": round(lateness * 1000), "timer_id": timer.timer_id})
        try:
            self._revoke.event(record.request, invocation=invocation)
        except RevocationError as error:
            if error.transient:  # a final refusal is an outcome, already recorded
                self._retry_later(timer, retries, error)
        return "fired" if decision.action == "fire" else "finished"

    def _decide(self, ledger: Ledger, timer: Timer) -> _Decision:
        chosen: list[_Decision] = []
        now = self._clock()

        def decide(record: LedgerRecord | None) -> LedgerWrite | None:
            chosen[:] = [_Decision("ignore", record)]
            if record is None or record.timer is None or record.timer.get("timer_id") != timer.timer_id:
                return None  # a wake-up of a timer this record never had, or has replaced
            fired = recording.timer_fired(record, timer, now)
            if fired is not None:
                chosen[:] = [_Decision("fire", record)]
                return fired
            if record.timer.get("ended") == "fired" and record.state in ("revoking", "retrying") and record.request:
                chosen[:] = [_Decision("finish", record)]  # fired, then failed transiently: finish it
                return None
            return recording.timer_woke_after_its_end(record, timer, now)

        if not write_record(ledger, timer.message_uuid, decide):
            raise DependencyUnavailable("The ledger did not take the timer's wake-up; it comes back.")
        return chosen[0]

    def _retry_later(self, timer: Timer, retries: int, error: RevocationError) -> None:
        if retries >= MAX_FIRE_RETRIES:
            raise error  # back to the queue: its receives, then its dead-letter queue (with an alarm)
        delay = min(RETRY_DELAY_S * 2**retries, MAX_RETRY_DELAY_S)
        self._rearm(timer, WakeUpPlan(delay_s=delay), retries=retries + 1)
        count("TimerRetries")
        logger.warning("fired timer failed transiently; woken again", extra={"delay_s": delay, "reason": error.reason})

    def _rearm(self, timer: Timer, plan: WakeUpPlan, *, retries: int = 0) -> None:
        assert self._wake_ups is not None  # noqa: S101 - checked by the caller
        self._wake_ups.arm(timer, plan, retries=retries)
