"""apply_status: what each callback changes in a message's life, in any order, and which outcome it ends in."""

from datetime import UTC, datetime, timedelta

import pytest

from rcs_revoker.domain.ledger import STATES
from rcs_revoker.domain.lifecycle import MessageLife, apply_status, fallback_for, is_settled
from rcs_revoker.domain.status_callbacks import StatusCallback

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
T0 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def callback(status: str, minutes: int = 0, agent_id: str | None = "acme-agent") -> StatusCallback:
    return StatusCallback(UUID, status, T0 + timedelta(minutes=minutes), channel="rcs", agent_id=agent_id)


def test_submitted_makes_a_message_known_with_its_agent_and_first_sight() -> None:
    change = apply_status(MessageLife(), callback("submitted"))
    assert change is not None
    assert change.life == MessageLife(
        state="sent", delivery_status="submitted", delivery_status_at=T0, submitted_at=T0, agent_id="acme-agent"
    )
    assert change.outcome is None


@pytest.mark.parametrize(
    ("before", "status", "after", "outcome"),
    [
        pytest.param("requested", "rejected", "revoked", "confirmed", id="revoked-before-delivery"),
        pytest.param("requested", "undeliverable", "revoked", "confirmed", id="revoked-undeliverable"),
        pytest.param("requested", "delivered", "delivered", "too_late", id="delivered-despite-revocation"),
        pytest.param("requested", "read", "delivered", "too_late", id="read-despite-revocation"),
        pytest.param("queued", "delivered", "delivered", "too_late", id="delivered-while-queued"),
        pytest.param("queued", "rejected", "undelivered", "confirmed", id="failed-by-itself-while-queued"),
        pytest.param("rejected", "delivered", "delivered", "too_late", id="delivered-after-a-refusal"),
        pytest.param("failed", "undeliverable", "undelivered", "confirmed", id="undeliverable-after-failures"),
        pytest.param(None, "delivered", "delivered", None, id="delivered-nothing-asked"),
        pytest.param("sent", "rejected", "undelivered", None, id="rejected-nothing-asked"),
        pytest.param("requested", "submitted", "requested", None, id="submitted-after-the-request"),
    ],
)
def test_each_status_moves_the_state_and_ends_an_asked_revocation_in_its_outcome(
    before: str | None, status: str, after: str, outcome: str | None
) -> None:
    change = apply_status(MessageLife(state=before), callback(status))
    assert change is not None
    assert (change.life.state, change.outcome) == (after, outcome)
    assert change.life.delivery_status == status


def test_delivery_records_when_it_happened() -> None:
    change = apply_status(MessageLife(state="requested"), callback("delivered", minutes=3))
    assert change is not None
    assert change.life.delivered_at == T0 + timedelta(minutes=3)


def test_a_status_never_regresses_and_a_repeat_changes_nothing() -> None:
    submitted = apply_status(MessageLife(state="requested"), callback("submitted", 0))
    assert submitted is not None
    delivered = apply_status(submitted.life, callback("delivered", 2))
    assert delivered is not None
    assert apply_status(delivered.life, callback("submitted", 0)) is None
    assert apply_status(delivered.life, callback("delivered", 2)) is None
    assert apply_status(delivered.life, callback("rejected", 5)) is None


def test_read_after_delivered_moves_the_status_but_publishes_no_second_outcome() -> None:
    delivered = apply_status(MessageLife(state="requested"), callback("delivered", 2))
    assert delivered is not None
    read = apply_status(delivered.life, callback("read", 4))
    assert read is not None
    assert (read.life.state, read.life.delivery_status, read.outcome) == ("delivered", "read", None)
    assert read.life.delivered_at == T0 + timedelta(minutes=2)


def test_a_late_submitted_still_teaches_when_vonage_first_saw_the_message() -> None:
    delivered = apply_status(MessageLife(), callback("delivered", 2, agent_id=None))
    assert delivered is not None
    late = apply_status(delivered.life, callback("submitted", 0))
    assert late is not None
    assert (late.life.submitted_at, late.life.agent_id, late.outcome) == (T0, "acme-agent", None)
    assert late.life.delivery_status == "delivered"


def test_a_status_this_service_does_not_use_changes_nothing() -> None:
    assert apply_status(MessageLife(state="sent", agent_id="acme-agent"), callback("accepted")) is None


@pytest.mark.parametrize(
    ("state", "fallback"),
    [("delivered", False), ("revoked", True), ("undelivered", True), ("requested", None), (None, None)],
)
def test_fallback_says_whether_the_sms_must_go_out(state: str | None, fallback: bool | None) -> None:
    assert fallback_for(state) is fallback


@pytest.mark.parametrize("state", STATES)
def test_a_revocation_is_settled_once_its_fate_is_known_or_it_ended_without_vonage_accepting_it(state: str) -> None:
    # What a client waiting on GET /revocations/{uuid} stops on: everything else waits for the service or Vonage.
    settled = {"revoked", "delivered", "undelivered", "rejected", "failed", "cancelled"}
    assert is_settled(state) is (state in settled)
    assert is_settled(None) is False
