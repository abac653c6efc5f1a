"""Deferred revocations, on in-memory fakes: scheduled once, fired once on the exactly-once path, cancelled by
a delivery or by the sender, and a wake-up that finds the timer ended does nothing."""

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    LedgerUnavailable,
    NoScheduledRevocation,
    RevocationUnderWay,
    ServiceMisconfigured,
    TimerAlreadyFired,
    TimerPastWindow,
    VonageUnavailable,
    VonageUnprocessable,
)
from rcs_revoker.domain.models import AgentRecord, RevocationScheduled
from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    CANCELLED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    SCHEDULED_DETAIL_TYPE,
    TOO_LATE_DETAIL_TYPE,
)
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.domain.timers import BACKSTOP, Timer
from rcs_revoker.domain.validation import parse_revocation_fields
from rcs_revoker.usecases.cancel_revocation import CancelScheduledRevocation
from rcs_revoker.usecases.fire_timer import FireTimer
from rcs_revoker.usecases.receive_status import ReceiveStatusCallback
from rcs_revoker.usecases.reconcile import ReconcileLedger
from rcs_revoker.usecases.revoke import RevokeMessage
from rcs_revoker.usecases.revoke_queued import RateLimitGate, RevokeQueuedMessage
from rcs_revoker.usecases.schedule_revocation import ScheduleRevocation
from tests.fakes.in_memory_wake_ups import InMemoryTimerWakeUps
from tests.unit.usecases.conftest import NOW, UUID, Ports, invocation
from tests.unit.usecases.test_receive_status import Verifier, body


class Timers:
    """The timer use cases over the fakes of `ports`, with a clock the test moves."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.wake_ups = InMemoryTimerWakeUps()
        self.now = NOW
        self.held: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def revoke(self) -> RevokeMessage:
        regions = RevocationService(
            agents=self.ports.agents,
            vonage=self.ports.vonage,
            default_region=None,
            applications=self.ports.applications,
        )
        schedule = ScheduleRevocation(
            ledger=self.ports.ledger, wake_ups=self.wake_ups, regions=regions, clock=self.clock
        )
        return RevokeMessage(exactly_once=self.ports.exactly_once(), outcomes=self.ports.outcomes(), schedule=schedule)

    def ask(self, **fields: Any) -> Any:
        asked = replace(invocation(), requested_at=self.now)
        return self.revoke()(lambda: parse_revocation_fields(UUID, {"region": "eu", **fields}), asked)

    def fire(self, wake_up: str | None = None, *, gate: RateLimitGate | None = None) -> str:
        """The latest wake-up armed (or `wake_up`), delivered to the timer function now."""
        queued = RevokeQueuedMessage(revoke=self.revoke(), queue=self.ports.queue, gate=gate)
        fire = FireTimer(
            ledger=self.ports.ledger, wake_ups=self.wake_ups, revoke=queued, clock=self.clock, hold=self.held.append
        )
        return fire(wake_up or self.wake_ups.bodies()[-1], invocation=invocation("timer", final_attempt=False))

    def cancel(self) -> dict[str, Any]:
        return CancelScheduledRevocation(ledger=self.ports.ledger, wake_ups=self.wake_ups, clock=self.clock)(
            UUID, invocation()
        )

    def callback(self, status: str, minutes: int = 0) -> None:
        receive = ReceiveStatusCallback(verifier=Verifier(), ledger=self.ports.ledger, wake_ups=self.wake_ups)
        receive({}, body(status, minutes))

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return self.ports.published().events


@pytest.fixture
def timers(ports: Ports) -> Timers:
    return Timers(ports)


def test_a_deferred_request_is_recorded_scheduled_and_armed_not_revoked(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    assert isinstance(result, RevocationScheduled)
    assert result.as_dict()["status"] == "revocation_scheduled"
    assert result.due_at == NOW + timedelta(seconds=30)
    assert timers.ports.vonage.calls == []
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.fallback, record.redrive_at) == ("scheduled", None, result.due_at + BACKSTOP)
    [(timer, plan, _)] = timers.wake_ups.armed
    assert (timer.timer_id, plan.delay_s) == (result.timer_id, 30)
    [(kind, detail)] = timers.events()
    assert kind == SCHEDULED_DETAIL_TYPE
    assert (detail["due_at"], detail["fallback"], detail["region"]) == (result.due_at.isoformat(), None, "eu")


def test_the_same_due_time_again_is_a_replay_and_a_later_one_replaces_it(timers: Timers) -> None:
    at = (NOW + timedelta(minutes=5)).isoformat()
    first = timers.ask(at=at)
    again = timers.ask(at=at)
    assert (again.replayed, again.timer_id) == (True, first.timer_id)
    later = timers.ask(after_seconds=600)
    assert later.replaced_due_at == first.due_at
    assert later.timer_id != first.timer_id
    scheduled = [detail for kind, detail in timers.events() if kind == SCHEDULED_DETAIL_TYPE]
    assert [detail["replaced_due_at"] for detail in scheduled] == [None, first.due_at.isoformat()]
    timers.now = first.due_at
    assert timers.fire(json.dumps(Timer(UUID, first.timer_id, first.due_at).wake_up())) == "ignored"
    assert timers.ports.vonage.calls == []


def test_a_replaced_long_timer_s_schedule_is_deleted(timers: Timers) -> None:
    first = timers.ask(after_seconds=7200)
    assert timers.wake_ups.armed[0][1].kind == "schedule"
    timers.ask(after_seconds=3600)
    assert [timer.timer_id for timer in timers.wake_ups.forgotten] == [first.timer_id]


def test_a_due_time_past_the_window_is_refused_with_the_last_possible_time(timers: Timers) -> None:
    sent_at = NOW - timedelta(hours=23)
    with pytest.raises(TimerPastWindow) as caught:
        timers.ask(after_seconds=7200, sent_at=sent_at.isoformat())
    assert caught.value.last_possible_at == sent_at + timedelta(hours=24)
    assert timers.wake_ups.armed == []


def test_a_revocation_under_way_is_not_deferred(timers: Timers) -> None:
    timers.ask()  # now: accepted
    with pytest.raises(RevocationUnderWay):
        timers.ask(after_seconds=30)
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert timers.wake_ups.armed == []


def test_a_timer_the_ledger_did_not_take_is_not_armed(timers: Timers) -> None:
    timers.ports.ledger.writes_fail = True
    with pytest.raises(LedgerUnavailable):
        timers.ask(after_seconds=30)
    assert timers.wake_ups.armed == []


def test_a_timer_recorded_but_not_armed_still_stands_for_the_backstop(timers: Timers) -> None:
    timers.wake_ups.unavailable = True
    result = timers.ask(after_seconds=30)
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "scheduled"
    timers.wake_ups.unavailable = False
    timers.now = result.due_at + BACKSTOP
    report = ReconcileLedger(
        ledger=timers.ports.ledger, queue=timers.ports.queue, wake_ups=timers.wake_ups, clock=timers.clock
    )()
    assert report.redriven == 1
    [(timer, plan, _)] = timers.wake_ups.armed
    assert (timer.timer_id, plan.delay_s) == (result.timer_id, 0)
    assert timers.ports.queue.messages == []  # woken on the timer queue, not revoked blindly from the bulk one
    assert timers.fire() == "fired"
    assert len(timers.ports.vonage.calls) == 1


def test_a_wake_up_before_its_time_goes_round_again(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    timers.now = NOW + timedelta(seconds=10)
    assert timers.fire() == "slept"
    assert timers.wake_ups.armed[-1][1].delay_s == 20
    timers.now = result.due_at - timedelta(seconds=0.4)
    assert timers.fire() == "fired"
    assert timers.held == [pytest.approx(0.4)]  # held in the function, not another round of the queue


def test_a_due_timer_fires_once_whatever_the_duplicates(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    wake_up = timers.wake_ups.bodies()[-1]
    timers.now = result.due_at + timedelta(milliseconds=300)
    assert timers.fire(wake_up) == "fired"
    assert timers.fire(wake_up) == "ignored"
    assert len(timers.ports.vonage.calls) == 1
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert record.timer is not None
    assert (record.timer["ended"], record.timer["late_ms"]) == ("fired", 300)
    kinds = [kind for kind, _ in timers.events()]
    assert kinds == [SCHEDULED_DETAIL_TYPE, ACCEPTED_DETAIL_TYPE]


def test_a_delivered_callback_before_the_due_time_cancels_it_with_no_fallback(timers: Timers) -> None:
    result = timers.ask(after_seconds=7200)
    timers.callback("delivered", minutes=1)
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.fallback) == ("delivered", False)
    [cancelled] = [detail for kind, detail in timers.events() if kind == CANCELLED_DETAIL_TYPE]
    assert (cancelled["reason"], cancelled["fallback"], cancelled["timer_id"]) == ("delivered", False, result.timer_id)
    assert [timer.timer_id for timer in timers.wake_ups.forgotten] == [result.timer_id]  # its schedule deleted
    timers.now = result.due_at
    assert timers.fire() == "ignored"
    assert timers.ports.vonage.calls == []
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.timeline[-1]["event"] == "timer-woke"
    assert timers.fire() == "ignored"  # recorded once
    assert [entry["event"] for entry in record.timeline].count("timer-woke") == 1
    assert not [kind for kind, _ in timers.events() if kind == TOO_LATE_DETAIL_TYPE]


def test_an_undeliverable_report_before_the_due_time_ends_it_with_the_fallback(timers: Timers) -> None:
    timers.ask(after_seconds=30)
    timers.callback("rejected")
    [cancelled] = [detail for kind, detail in timers.events() if kind == CANCELLED_DETAIL_TYPE]
    assert (cancelled["reason"], cancelled["fallback"], cancelled["state"]) == ("undelivered", True, "undelivered")


def test_the_sender_cancels_a_scheduled_revocation_once(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    record = timers.cancel()
    assert (record["state"], record["timer"]["ended"]) == ("cancelled", "cancelled")
    [cancelled] = [detail for kind, detail in timers.events() if kind == CANCELLED_DETAIL_TYPE]
    assert (cancelled["reason"], cancelled["fallback"]) == ("cancelled", None)
    with pytest.raises(NoScheduledRevocation, match="it ended \\(cancelled\\)"):
        timers.cancel()
    timers.now = result.due_at
    assert timers.fire() == "ignored"
    assert timers.ports.vonage.calls == []


def test_cancelling_a_fired_timer_is_a_conflict_and_none_is_not_found(timers: Timers) -> None:
    with pytest.raises(NoScheduledRevocation, match="has no scheduled revocation"):
        timers.cancel()
    result = timers.ask(after_seconds=30)
    timers.now = result.due_at
    timers.fire()
    with pytest.raises(TimerAlreadyFired):
        timers.cancel()


def test_an_immediate_revocation_of_a_scheduled_message_revokes_now_and_ends_the_timer(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    timers.ask()
    assert len(timers.ports.vonage.calls) == 1
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.timer is not None
    assert record.timer["ended"] == "revoked-now"
    timers.now = result.due_at
    assert timers.fire() == "ignored"
    assert len(timers.ports.vonage.calls) == 1


def test_a_fired_timer_that_fails_transiently_is_woken_again_and_finished_once(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    timers.ports.vonage.errors = [VonageUnavailable("Vonage answered 503."), None]
    timers.now = result.due_at
    assert timers.fire() == "fired"
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "retrying"
    timer, plan, retries = timers.wake_ups.armed[-1]
    assert (timer.timer_id, plan.delay_s, retries) == (result.timer_id, 2, 1)
    assert timers.fire() == "finished"
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert len(timers.ports.vonage.calls) == 2
    assert [kind for kind, _ in timers.events()].count(ACCEPTED_DETAIL_TYPE) == 1


def test_a_delivery_between_the_wake_up_s_read_and_its_write_ahead_wins_and_vonage_is_not_asked(
    timers: Timers,
) -> None:
    result = timers.ask(after_seconds=30)
    ledger = timers.ports.ledger
    read = ledger.get
    reads: list[str] = []

    def read_then_delivered(message_uuid: str) -> Any:
        record = read(message_uuid)
        if not reads:  # the wake-up's own read: the callback lands right after it
            reads.append(message_uuid)
            timers.callback("delivered")
        return record

    ledger.get = read_then_delivered  # type: ignore[method-assign]
    timers.now = result.due_at

    assert timers.fire() == "ignored"

    assert timers.ports.vonage.calls == []
    record = read(UUID)
    assert record is not None
    assert (record.state, record.fallback, record.timer and record.timer["ended"]) == ("delivered", False, "delivered")
    events = [entry["event"] for entry in record.timeline]
    assert "timer-fired" not in events
    assert "vonage-asked" not in events
    assert events[-1] == "timer-woke"
    kinds = [kind for kind, _ in timers.events()]
    assert (kinds.count(CANCELLED_DETAIL_TYPE), ACCEPTED_DETAIL_TYPE in kinds) == (1, False)


def test_a_timer_refused_before_vonage_is_asked_ends_fired_and_rejected(timers: Timers) -> None:
    # The agent named when it was scheduled is gone from the agents table when it fires.
    timers.ports.agents.records["acme-us"] = AgentRecord("acme-us", region="us")
    asked = replace(invocation(), requested_at=NOW)
    result = timers.revoke()(lambda: parse_revocation_fields(UUID, {"agent_id": "acme-us", "after_seconds": 30}), asked)
    assert isinstance(result, RevocationScheduled)
    del timers.ports.agents.records["acme-us"]
    timers.now = result.due_at

    assert timers.fire() == "fired"

    assert timers.ports.vonage.calls == []
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.timer and record.timer["ended"]) == ("rejected", "fired")
    assert [entry["event"] for entry in record.timeline][-2:] == ["timer-fired", "revocation-refused"]
    [rejected] = [detail for kind, detail in timers.events() if kind == REJECTED_DETAIL_TYPE]
    assert rejected["reason"] == "unknown-agent"


def test_a_timer_whose_revocation_vonage_already_refused_replays_it_and_ends_fired(timers: Timers) -> None:
    timers.ports.vonage.errors = [VonageUnprocessable("Vonage could not process the revocation", "too late")]
    with pytest.raises(VonageUnprocessable):
        timers.ask()  # refused by Vonage, and that answer stored for the message
    result = timers.ask(after_seconds=30)  # a rejected revocation may be deferred again
    timers.now = result.due_at

    assert timers.fire() == "fired"

    assert len(timers.ports.vonage.calls) == 1  # the stored refusal replayed, not asked again
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.timer and record.timer["ended"]) == ("rejected", "fired")
    assert "timer-fired" in [entry["event"] for entry in record.timeline]
    assert timers.fire() == "ignored"


def test_a_timer_that_fires_while_vonage_rate_limits_waits_on_the_queue_ended_fired(timers: Timers) -> None:
    result = timers.ask(after_seconds=30)
    gate = RateLimitGate()
    gate.close(60)
    timers.now = result.due_at

    assert timers.fire(gate=gate) == "fired"

    assert timers.ports.vonage.calls == []
    [waiting] = timers.ports.queue.messages
    assert (waiting.body["request"]["message_uuid"], waiting.invisible_for_s >= 60) == (UUID, True)
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.timer and record.timer["ended"]) == ("revoking", "fired")


def test_a_wake_up_that_is_not_one_is_dropped(timers: Timers) -> None:
    assert timers.fire("not json") == "unreadable"
    assert timers.fire(json.dumps({"request": {"message_uuid": UUID}})) == "unreadable"


def test_a_timer_s_region_comes_from_the_agents_table_when_asked(timers: Timers) -> None:
    timers.ports.agents.records["acme-us"] = AgentRecord("acme-us", region="us")
    asked = replace(invocation(), requested_at=NOW)
    result = timers.revoke()(lambda: parse_revocation_fields(UUID, {"agent_id": "acme-us", "after_seconds": 30}), asked)
    assert isinstance(result, RevocationScheduled)
    assert result.region == Region.US


@pytest.mark.parametrize(
    ("fields", "application"),
    [
        pytest.param({"agent_id": "brand-b-us"}, "brand-b", id="agent-of-a-second-application"),
        pytest.param({"agent_id": "acme-us"}, None, id="agent"),
        pytest.param({"country": "US"}, None, id="country"),
    ],
)
def test_a_timer_asked_by_agent_or_country_fires_to_its_region_and_application(
    timers: Timers, fields: dict[str, str], application: str | None
) -> None:
    # Once refused when it fired: the ledger kept the resolved region beside the agent (or country), which made
    # the stored request invalid ("exactly one of region, country or agent_id").
    timers.ports.applications = frozenset({"brand-b"})
    timers.ports.agents.records["acme-us"] = AgentRecord("acme-us", region="us")
    timers.ports.agents.records["brand-b-us"] = AgentRecord("brand-b-us", region="us", application="brand-b")
    asked = replace(invocation(), requested_at=NOW)
    result = timers.revoke()(lambda: parse_revocation_fields(UUID, {**fields, "after_seconds": 30}), asked)
    assert isinstance(result, RevocationScheduled)

    timers.now = result.due_at
    assert timers.fire() == "fired"

    [(message_uuid, region, _)] = timers.ports.vonage.calls
    assert (message_uuid, region, timers.ports.vonage.applications) == (UUID, Region.US, [application])


def test_a_submitted_callback_leaves_a_long_timer_s_backstop_where_it_was(timers: Timers) -> None:
    result = timers.ask(after_seconds=7200)
    timers.callback("submitted")
    record = timers.ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.redrive_at) == ("scheduled", result.due_at + BACKSTOP)
    assert timers.ports.ledger.due(NOW + timedelta(minutes=30), 10) == []  # the reconciler leaves it be


def test_without_a_ledger_nothing_is_scheduled_nor_cancelled(timers: Timers) -> None:
    regions = RevocationService(agents=timers.ports.agents, vonage=timers.ports.vonage, default_region=None)
    schedule = ScheduleRevocation(ledger=None, wake_ups=timers.wake_ups, regions=regions)
    request = parse_revocation_fields(UUID, {"region": "eu", "after_seconds": 30})
    with pytest.raises(ServiceMisconfigured, match="cannot defer a revocation"):
        schedule(request, RequestContext("api", "correlation-1", NOW), None)
    with pytest.raises(NoScheduledRevocation, match="no ledger"):
        CancelScheduledRevocation(ledger=None, wake_ups=None)(UUID, invocation())


def test_a_cancel_the_ledger_did_not_answer_is_a_dependency_failure(timers: Timers) -> None:
    timers.ask(after_seconds=30)
    timers.ports.ledger.unavailable = True
    with pytest.raises(DependencyUnavailable, match="ask again"):
        timers.cancel()
