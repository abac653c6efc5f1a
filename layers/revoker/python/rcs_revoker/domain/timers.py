"""Deferred revocations ("revoke unless delivered within N seconds"): when a timer is due, how its wake-up is
armed, and what the ledger keeps of it.

A timer is a wake-up, not a decision: whatever fires it (an SQS message delayed up to 15 minutes, an
EventBridge Scheduler schedule for longer ones, the reconciler's backstop), the ledger record it finds decides.
Only a record still `scheduled` with the same timer id is revoked; a delivered message, a cancelled or
replaced timer, a revocation already under way make the wake-up a no-op. So a wake-up delivered twice, late or
after a cancellation is harmless, and a `delivered` callback racing the wake-up is settled by whichever
versioned ledger write lands first.
"""

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from rcs_revoker.domain.errors import InvalidRequest, TimerPastWindow
from rcs_revoker.domain.ledger import REDRIVE_AFTER, LedgerRecord
from rcs_revoker.domain.models import REVOCATION_WINDOW

# SQS's longest DelaySeconds: a timer due within this is one delayed message (second precision, nothing else
# pending). A later one is an EventBridge Scheduler schedule (no charge while it waits) that fires
# SCHEDULE_LEAD before the due time into the same queue, whose last hop then lands on the second. Scheduler
# fires `at()` schedules within about a minute; the lead absorbs that and more.
QUEUE_MAX_DELAY_S: Final = 900
SCHEDULE_LEAD: Final = timedelta(minutes=10)
# A wake-up this close to its due time is held in the function rather than sent round the queue once more
# (DelaySeconds counts whole seconds): at most a second of a Lambda's time, and only when SQS was early.
MAX_HOLD_S: Final = 1.0
# A scheduled record whose wake-up has not come this long after its due time is fired by the reconciler
# (it runs every minute): a lost wake-up makes the timer late, never lost.
BACKSTOP: Final = REDRIVE_AFTER["scheduled"]

TimerEnd = Literal["fired", "cancelled", "delivered", "undelivered", "replaced", "revoked-now"]


@dataclass(frozen=True, slots=True)
class Timer:
    """One armed timer: the wake-up message names it, the ledger record keeps it."""

    message_uuid: str
    timer_id: str
    due_at: datetime

    @classmethod
    def new(cls, message_uuid: str, due_at: datetime) -> "Timer":
        return cls(message_uuid, secrets.token_hex(4), due_at)

    def wake_up(self, *, retries: int = 0) -> dict[str, Any]:
        """The message that wakes the timer function (on the timer queue, or as a schedule's input)."""
        timer = {"message_uuid": self.message_uuid, "timer_id": self.timer_id, "due_at": self.due_at.isoformat()}
        return {"timer": timer, "retries": retries} if retries else {"timer": timer}

    @classmethod
    def from_wake_up(cls, message: object) -> "Timer | None":
        """The timer a wake-up names, or None when it is not one."""
        timer = message.get("timer") if isinstance(message, dict) else None
        if not isinstance(timer, dict):
            return None
        try:
            return cls(str(timer["message_uuid"]), str(timer["timer_id"]), datetime.fromisoformat(timer["due_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def kept(cls, message_uuid: str, fields: dict[str, Any]) -> "Timer":
        """The timer a ledger record keeps (timer_fields)."""
        return cls(message_uuid, str(fields["timer_id"]), datetime.fromisoformat(fields["due_at"]))

    @property
    def schedule_name(self) -> str:
        """The EventBridge Scheduler name of its schedule (at most 64 of [0-9a-zA-Z-_.])."""
        return f"revoke-{self.message_uuid}-{self.timer_id}"


@dataclass(frozen=True, slots=True)
class TimerFiring:
    """A wake-up asking its timer's revocation: the timer, the ledger record as the wake-up read it (the
    revocation starts from it instead of reading it again), and when it fired (its lateness is from this)."""

    timer: Timer
    record: LedgerRecord
    fired_at: datetime

    @property
    def late_ms(self) -> int:
        return round((self.fired_at - self.timer.due_at).total_seconds() * 1000)


class TimerEnded(Exception):
    """The timer whose wake-up was about to ask its revocation ended first (a delivery, a cancellation, a
    replacement landed between the wake-up's read and its write-ahead): Vonage is not asked. Not a
    RevocationError: no revocation was refused, and nothing is published for it."""

    def __init__(self, message_uuid: str, found: str) -> None:
        super().__init__(f"the timer of {message_uuid} ended before it fired (the record is {found})")
        self.message_uuid = message_uuid
        self.found = found


@dataclass(frozen=True, slots=True)
class WakeUpPlan:
    """How to arm a timer now: an SQS delay of `delay_s`, or a schedule at `schedule_at` (then a last hop)."""

    delay_s: int | None = None
    schedule_at: datetime | None = None

    @property
    def kind(self) -> str:
        """What the ledger and the logs call it."""
        return "queue" if self.delay_s is not None else "schedule"


def plan_wake_up(due_at: datetime, now: datetime, *, queue_max_delay_s: int = QUEUE_MAX_DELAY_S) -> WakeUpPlan:
    """Rounded up: a timer never fires before its due time."""
    remaining = (due_at - now).total_seconds()
    if remaining <= queue_max_delay_s:
        return WakeUpPlan(delay_s=max(0, math.ceil(remaining)))
    # Two thirds of the queue's longest delay (SCHEDULE_LEAD at 900 s): the last hop fits in one delayed
    # message even when Scheduler fires a third of it late.
    lead = min(SCHEDULE_LEAD, timedelta(seconds=queue_max_delay_s * 2 / 3))
    return WakeUpPlan(schedule_at=(due_at - lead).astimezone(UTC).replace(microsecond=0))


def check_due_time(due_at: datetime, requested_at: datetime, sent_at: datetime | None) -> None:
    """A due time after the request, and within Vonage's 24-hour window: from when the message was sent
    (sent_at, or the `submitted` callback) when that is known, else from the request (it was sent before)."""
    if due_at <= requested_at:
        raise InvalidRequest(
            f"at {due_at.isoformat()} is not after the time of the request ({requested_at.isoformat()}); "
            "to revoke now, leave at and after_seconds out."
        )
    start = sent_at if sent_at is not None else requested_at
    last = start + REVOCATION_WINDOW
    if due_at > last:
        since = "the message was sent" if sent_at is not None else "this request"
        raise TimerPastWindow(
            f"The revocation is due at {due_at.isoformat()}, past Vonage's 24-hour window: the last possible time "
            f"is {last.isoformat()} (24 hours after {since}).",
            last_possible_at=last,
        )


def timer_fields(timer: Timer, plan: WakeUpPlan, now: datetime) -> dict[str, Any]:
    """What the ledger record keeps of a timer while it is pending."""
    return {
        "timer_id": timer.timer_id,
        "due_at": timer.due_at.isoformat(),
        "armed_at": now.isoformat(),
        "wake_up": plan.kind,
    }


def ended(timer: dict[str, Any] | None, how: TimerEnd, now: datetime) -> dict[str, Any] | None:
    """The record's timer once it has ended (None when there is none, or it has already ended)."""
    if timer is None or timer.get("ended"):
        return None
    return {**timer, "ended": how, "ended_at": now.isoformat()}


def is_pending(timer: dict[str, Any] | None) -> bool:
    return timer is not None and not timer.get("ended")
