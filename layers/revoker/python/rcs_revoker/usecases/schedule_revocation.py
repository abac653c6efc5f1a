"""A deferred revocation ("revoke in N seconds unless it is delivered first"): validated now, as an immediate
one would be (window, region, agent), recorded in the ledger (`scheduled`, with its Scheduled event), then its
wake-up armed (rcs_revoker.domain.timers). Asking again replaces the due time: the latest request wins.

The ledger is written before the wake-up is armed: a crash or an AWS failure between the two leaves a record
the reconciler fires BACKSTOP after its due time (late, never lost); the reverse order could arm a wake-up
for a timer the caller was told had failed.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, LedgerUnavailable, RevocationUnderWay, ServiceMisconfigured
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.models import RevocationRequest, RevocationScheduled
from rcs_revoker.domain.ports import Ledger, TimerWakeUps
from rcs_revoker.domain.recording import UNDER_WAY_STATES, RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService, check_window
from rcs_revoker.domain.timers import QUEUE_MAX_DELAY_S, Timer, WakeUpPlan, check_due_time, is_pending, plan_wake_up
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record


class ScheduleRevocation:
    """`ledger` or `wake_ups` None: the deployment cannot keep timers, and a deferred request is refused."""

    def __init__(
        self,
        *,
        ledger: Ledger | None,
        wake_ups: TimerWakeUps | None,
        regions: RevocationService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        queue_max_delay_s: int = QUEUE_MAX_DELAY_S,
    ) -> None:
        self._ledger = ledger
        self._wake_ups = wake_ups
        self._regions = regions
        self._clock = clock
        self._queue_max_delay_s = queue_max_delay_s

    def __call__(
        self, request: RevocationRequest, context: RequestContext, known: LedgerRecord | None
    ) -> RevocationScheduled:
        """Raises RevocationError: the request's own faults, RevocationUnderWay, DependencyUnavailable when the
        ledger did not take the timer (nothing was scheduled)."""
        assert request.timer is not None  # noqa: S101 - the caller routes only deferred requests here
        ledger, wake_ups = self._ledger, self._wake_ups
        if ledger is None or wake_ups is None:
            raise ServiceMisconfigured("This function has no ledger or timer queue: it cannot defer a revocation.")
        now = self._clock()
        due_at = request.timer.due_at(context.requested_at)
        check_window(request, now)
        check_due_time(due_at, context.requested_at, request.sent_at)
        region = self._regions.resolve_region(request)
        if known is not None and (same := _same_timer(known, due_at, region)) is not None:
            return same  # a repeat of the request: the timer already stands as asked
        timer = Timer.new(request.message_uuid, due_at)
        plan = plan_wake_up(due_at, now, queue_max_delay_s=self._queue_max_delay_s)
        replaced: list[LedgerRecord | None] = []

        def decide(record: LedgerRecord | None) -> LedgerWrite:
            if record is not None and record.state in UNDER_WAY_STATES:
                raise RevocationUnderWay(
                    f"A revocation of message {request.message_uuid} is already {record.state}: it is not deferred. "
                    "Read its outcome with GET /revocations/{message_uuid}.",
                    message_uuid=request.message_uuid,
                )
            replaced[:] = [record]
            return recording.scheduled(record, timer, plan, region, context=context, now=now)

        if not write_record(ledger, request.message_uuid, decide, known=known, read=True):
            raise LedgerUnavailable(
                "The ledger table could not record the timer, so nothing was scheduled; ask again.",
                message_uuid=request.message_uuid,
                region=region,
            )
        self._arm(wake_ups, timer, plan)
        before = replaced[0] if replaced else None
        previous = before.timer if before is not None and is_pending(before.timer) else None
        if previous is not None and previous.get("wake_up") == "schedule":
            wake_ups.forget(Timer.kept(timer.message_uuid, previous))
        count("RevocationsScheduled")
        logger.info(
            "revocation scheduled",
            extra={"due_at": due_at.isoformat(), "timer_id": timer.timer_id, "wake_up": plan.kind},
        )
        return RevocationScheduled(
            request.message_uuid,
            region,
            due_at,
            timer.timer_id,
            replaced_due_at=datetime.fromisoformat(previous["due_at"]) if previous is not None else None,
        )

    def _arm(self, wake_ups: TimerWakeUps, timer: Timer, plan: WakeUpPlan) -> None:
        try:
            wake_ups.arm(timer, plan)
        except DependencyUnavailable as error:
            # Recorded, not armed: the reconciler fires it BACKSTOP after its due time. Minutes late is worse
            # than on time, and better than failing a request the ledger has taken; the alarm asks a person.
            count("TimersNotArmed")
            logger.error("timer recorded but not armed", extra={"timer_id": timer.timer_id, "detail": error.detail})


def _same_timer(record: LedgerRecord, due_at: datetime, region: Region) -> RevocationScheduled | None:
    timer = record.timer
    if record.state != "scheduled" or timer is None or not is_pending(timer) or record.region != region.value:
        return None
    if datetime.fromisoformat(timer["due_at"]) != due_at:
        return None
    return RevocationScheduled(record.message_uuid, region, due_at, str(timer["timer_id"]), replayed=True)
