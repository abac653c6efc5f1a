"""A timer's wake-up (a message of the timer queue): sent round again while the timer is not due, then the
ledger decides (recording.timer_action). A record still `scheduled` with this timer fires: the usual
exactly-once revocation, whose write-ahead ends the timer `fired` (a versioned write, so that a `delivered`
callback landing at the same moment either wins before it, cancelling the timer, or finds the revocation
asked). Anything else is a no-op, recorded once.
"""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Literal

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, RevocationError
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import Ledger, TimerWakeUps
from rcs_revoker.domain.timers import (
    MAX_HOLD_S,
    QUEUE_MAX_DELAY_S,
    Timer,
    TimerEnded,
    TimerFiring,
    WakeUpPlan,
    plan_wake_up,
)
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
        ledger = self._ledger
        record = ledger.get(timer.message_uuid)  # raises DependencyUnavailable: the wake-up comes back
        action = recording.timer_action(record, timer)
        if action == "ignore":
            return self._ignored(ledger, timer, record, read=True)
        assert record is not None  # noqa: S101 - timer_action fires only records
        firing = TimerFiring(timer, record, fired_at=self._clock())
        return self._fire(ledger, firing, action == "fire", retries, invocation)

    def _fire(
        self, ledger: Ledger, firing: TimerFiring, fires: bool, retries: int, invocation: Invocation
    ) -> WakeUpResult:
        """The timer's revocation: fired now (`fires`), or finished after a transient failure."""
        timer, record = firing.timer, firing.record
        assert record.request is not None  # noqa: S101 - timer_action fires only records that keep their request
        failed: RevocationError | None = None
        try:
            # The revocation starts from the record as read here, and its write-ahead ends the timer `fired`:
            # no write of the timer's own (three AWS calls a fire: this read, the write-ahead, the outcome).
            result = self._revoke.event(record.request, invocation=invocation, firing=firing)
        except TimerEnded:
            # A delivery or a DELETE landed between this read and the write-ahead: it won, nothing was asked.
            return self._ignored(ledger, timer, None, read=False)
        except RevocationError as error:
            result, failed = None, error
        if fires:
            count("TimersFired")
            logger.info("timer fired", extra={"late_ms": firing.late_ms, "timer_id": timer.timer_id})
        if failed is not None:
            if failed.transient:  # a final refusal is an outcome, already recorded
                self._retry_later(timer, retries, failed)
        elif result is None and fires:
            # Gone to the bulk queue to wait out a rate limit, before anything was written: the timer fires on a
            # write of its own now (the worker asks Vonage later; a failure here leaves the timer pending, which
            # the revocation's own write-ahead then ends).
            now = self._clock()
            write_record(ledger, timer.message_uuid, lambda current: _fired(current, firing, now))
        return "fired" if fires else "finished"

    def _ignored(self, ledger: Ledger, timer: Timer, record: LedgerRecord | None, *, read: bool) -> WakeUpResult:
        """A wake-up that finds its timer ended: recorded once (timer-woke), nothing asked."""
        now = self._clock()
        found: list[str | None] = [record.state if record else None]

        def woke(current: LedgerRecord | None) -> LedgerWrite | None:
            found[:] = [current.state if current else None]
            return recording.timer_woke_after_its_end(current, timer, now) if current is not None else None

        if not write_record(ledger, timer.message_uuid, woke, known=record, read=read):
            raise DependencyUnavailable("The ledger did not take the timer's wake-up; it comes back.")
        count("TimerWakeUpsIgnored")
        logger.info("timer wake-up: nothing to do", extra={"state": found[0]})
        return "ignored"

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


def _fired(record: LedgerRecord | None, firing: TimerFiring, now: datetime) -> LedgerWrite | None:
    return recording.timer_fired(record, firing, now) if record is not None else None
