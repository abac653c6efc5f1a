"""ReconcileLedger: records left waiting past their time are re-driven through the queue, each time later,
and abandoned (failed, with a Failed outcome) when they never finish."""

import json
from datetime import datetime, timedelta
from functools import partial

import pytest

from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, FAILED_DETAIL_TYPE
from rcs_revoker.domain.regions import Region
from rcs_revoker.usecases.reconcile import MAX_REDRIVES, ReconcileLedger
from tests.fakes.in_memory_ledger import InMemoryLedger
from tests.unit.usecases.conftest import NOW, OTHER_UUID, UUID, Ports, invocation


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(ports: Ports) -> Clock:
    clock = Clock(NOW)
    ports.ledger = InMemoryLedger(clock=clock)
    return clock


def reconciler(ports: Ports, clock: Clock) -> ReconcileLedger:
    return ReconcileLedger(ledger=ports.ledger, queue=ports.queue, clock=clock)


def crashed_after_the_patch(ports: Ports) -> None:
    """An API request whose process died between Vonage's 202 and the outcome's write: `revoking` is left."""
    ports.ledger.writes_fail_after = 1
    ports.revoke()(lambda: RevocationRequest(UUID, Region.EU), invocation("api"))
    ports.ledger.writes_fail_after, ports.ledger.writes_fail = None, False


def test_nothing_is_due_before_its_time(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    clock.now += timedelta(minutes=1)
    assert reconciler(ports, clock)().due == 0
    assert ports.queue.messages == []


def test_a_record_left_revoking_is_re_driven_and_finished_without_a_second_patch(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    clock.now += timedelta(minutes=3)

    report = reconciler(ports, clock)()

    assert (report.due, report.redriven) == (1, 1)
    [message] = ports.queue.messages
    assert message.body == {"request": {"message_uuid": UUID, "region": "eu"}, "redriven": True}
    # The worker takes it: the idempotency record replays Vonage's 202, and the record is finished.
    result = ports.revoke_queued()(json.dumps(message.body), invocation=invocation("sqs"))
    assert result is not None
    assert len(ports.vonage.calls) == 1
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.redrive_at) == ("requested", None)
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_each_re_drive_waits_twice_as_long_then_the_record_is_abandoned_once(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    waits = []
    for _ in range(MAX_REDRIVES):
        record = ports.ledger.get(UUID)
        assert record is not None
        assert record.redrive_at is not None
        waits.append(record.redrive_at - clock.now)
        clock.now = record.redrive_at
        assert reconciler(ports, clock)().redriven == 1
    assert waits == [timedelta(minutes=2 * 2**n) for n in range(MAX_REDRIVES)]
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.redrive_at is not None
    clock.now = record.redrive_at

    report = reconciler(ports, clock)()

    assert (report.redriven, report.abandoned) == (0, 1)
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.redrive_at) == ("failed", None)
    assert "abandoned" in (record.last_error or "")
    [failed] = ports.published().of_type(FAILED_DETAIL_TYPE)
    assert (failed["reason"], failed["region"], failed["host"]) == ("abandoned", "eu", "api-eu.nexmo.com")
    assert reconciler(ports, clock)().due == 0  # abandoned once, published once


def test_past_vonage_s_window_a_waiting_record_is_abandoned_not_re_driven(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    clock.now += timedelta(hours=25)
    report = reconciler(ports, clock)()
    assert (report.redriven, report.abandoned) == (0, 1)
    assert ports.queue.messages == []
    assert "window closed" in (ports.ledger.items[UUID]["last_error"] or "")


def test_a_record_that_finished_meanwhile_is_left_alone(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    ports.revoke()(lambda: RevocationRequest(UUID, Region.EU), invocation("api"))
    clock.now += timedelta(hours=1)
    assert reconciler(ports, clock)().due == 0
    assert ports.queue.messages == []


def test_a_re_drive_the_queue_refuses_is_tried_again_later(ports: Ports, clock: Clock) -> None:
    crashed_after_the_patch(ports)
    clock.now += timedelta(minutes=3)
    ports.queue.unavailable = True
    assert reconciler(ports, clock)().skipped == 1
    ports.queue.unavailable = False
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.redrive_at is not None
    clock.now = record.redrive_at
    assert reconciler(ports, clock)().redriven == 1


def test_a_run_stops_taking_records_when_its_time_runs_out(ports: Ports, clock: Clock) -> None:
    for uuid in (UUID, OTHER_UUID):
        ports.ledger.writes_fail_after = 1
        ports.revoke()(partial(RevocationRequest, uuid, Region.EU), invocation("api"))
        ports.ledger.writes_fail_after, ports.ledger.writes_fail = None, False
    clock.now += timedelta(minutes=3)
    left = iter([30.0, 2.0])
    report = ReconcileLedger(ledger=ports.ledger, queue=ports.queue, clock=clock, time_left=lambda: next(left))()
    assert (report.due, report.redriven, report.skipped) == (2, 1, 1)


def test_without_a_ledger_or_a_queue_there_is_nothing_to_reconcile(ports: Ports, clock: Clock) -> None:
    assert ReconcileLedger(ledger=None, queue=ports.queue, clock=clock)().due == 0
