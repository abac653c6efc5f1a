"""ReceiveStatusCallback: a verified callback is recorded once and forwarded once, out of order or repeated;
a forged one is refused with nothing kept; an unreadable verified one is acknowledged."""

import json
from datetime import timedelta
from typing import Any

import pytest

from rcs_revoker.domain.errors import DependencyUnavailable, WebhookUnauthorized
from rcs_revoker.domain.ledger import LedgerWrite
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.outcome_events import CONFIRMED_DETAIL_TYPE, STATUS_DETAIL_TYPE, TOO_LATE_DETAIL_TYPE
from rcs_revoker.usecases.receive_status import ReceiveStatusCallback
from tests.unit.usecases.conftest import NOW, UUID, Ports, invocation


class Verifier:
    """Accepts what it is told to; refuses the rest as the real verifier would."""

    def __init__(self, *, valid: bool = True) -> None:
        self.valid = valid
        self.seen: list[bytes] = []

    def verify(self, headers: Any, body: bytes) -> dict[str, Any]:
        self.seen.append(body)
        if not self.valid:
            raise WebhookUnauthorized("The token's signature does not verify with the signature secret.")
        return {"iss": "Vonage"}


def body(status: str, minutes: int = 0, **extra: Any) -> bytes:
    callback = {
        "message_uuid": UUID,
        "to": "447700900000",
        "from": "acme-sg",
        "timestamp": (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "status": status,
        "channel": "rcs",
        **extra,
    }
    return json.dumps(callback).encode()


def receive(ports: Ports, payload: bytes, verifier: Verifier | None = None) -> object:
    use_case = ReceiveStatusCallback(verifier=verifier or Verifier(), ledger=ports.ledger)
    return use_case({"Authorization": "Bearer x"}, payload)


def test_a_callback_for_an_unknown_message_makes_it_known_and_is_forwarded(ports: Ports) -> None:
    receive(ports, body("submitted"))
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.life.agent_id, record.life.submitted_at) == ("sent", "acme-sg", NOW)
    [status] = ports.published().of_type(STATUS_DETAIL_TYPE)
    assert status["callback"]["status"] == "submitted"
    assert (status["state"], status["fallback"], status["changed"]) == ("sent", None, True)


def test_a_repeated_callback_changes_nothing_and_is_forwarded_once(ports: Ports) -> None:
    for _ in range(3):
        receive(ports, body("delivered"))
    assert len(ports.published().of_type(STATUS_DETAIL_TYPE)) == 1


def test_callbacks_out_of_order_never_move_the_status_back(ports: Ports) -> None:
    receive(ports, body("delivered", minutes=2))
    receive(ports, body("submitted", minutes=0))
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.life.delivery_status, record.life.submitted_at) == ("delivered", "delivered", NOW)
    statuses = ports.published().of_type(STATUS_DETAIL_TYPE)
    assert [(s["callback"]["status"], s["changed"]) for s in statuses] == [("delivered", True), ("submitted", False)]


def test_a_rejection_after_an_accepted_revocation_confirms_it_with_vonage_s_error(ports: Ports) -> None:
    ports.revoke()(lambda: RevocationRequest(UUID, country="GB"), invocation())
    error = {"type": "https://developer.vonage.com/api-errors/messages#1340", "title": "Message revoked"}
    receive(ports, body("rejected", minutes=1, error=error))
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.vonage_error) == ("revoked", error)
    [confirmed] = ports.published().of_type(CONFIRMED_DETAIL_TYPE)
    assert (confirmed["fallback"], confirmed["vonage_error"]) == (True, error)


def test_delivery_after_an_accepted_revocation_is_too_late(ports: Ports) -> None:
    ports.revoke()(lambda: RevocationRequest(UUID, country="GB"), invocation())
    receive(ports, body("delivered", minutes=1))
    [too_late] = ports.published().of_type(TOO_LATE_DETAIL_TYPE)
    assert (too_late["fallback"], too_late["delivered_at"]) == (False, (NOW + timedelta(minutes=1)).isoformat())


def test_a_forged_callback_is_refused_and_nothing_is_kept(ports: Ports) -> None:
    with pytest.raises(WebhookUnauthorized):
        receive(ports, body("delivered"), Verifier(valid=False))
    assert ports.ledger.items == {}


@pytest.mark.parametrize("payload", [b"not json", b"[1]", json.dumps({"status": "delivered"}).encode(), b"[" * 100_000])
def test_a_verified_body_that_cannot_be_read_is_acknowledged_and_nothing_is_kept(ports: Ports, payload: bytes) -> None:
    assert receive(ports, payload) is None
    assert ports.ledger.items == {}


def test_a_callback_the_ledger_cannot_take_is_not_acknowledged_so_vonage_sends_it_again(ports: Ports) -> None:
    ports.ledger.writes_fail = True
    with pytest.raises(DependencyUnavailable) as caught:
        receive(ports, body("delivered"))
    assert caught.value.message_uuid == UUID


def test_without_a_ledger_a_verified_callback_is_acknowledged() -> None:
    use_case = ReceiveStatusCallback(verifier=Verifier(), ledger=None)
    callback = use_case({}, body("delivered"))
    assert callback is not None


def test_the_sender_s_reference_from_the_callback_is_kept_when_none_was_given(ports: Ports) -> None:
    receive(ports, body("submitted", client_ref="order-42"))
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.client_ref == "order-42"


def test_a_callback_before_a_scheduled_timer_is_due_keeps_the_timers_backstop(ports: Ports) -> None:
    # A three-hour timer: the reconciler is to look at it only two minutes past its due time.
    backstop = NOW + timedelta(hours=3, minutes=2)
    timer = {"timer_id": "t1", "due_at": (NOW + timedelta(hours=3)).isoformat(), "wake_up": "schedule"}
    scheduled = {"state": "scheduled", "timer": timer, "redrive_at": backstop, "request": {"message_uuid": UUID}}
    assert ports.ledger.save(LedgerWrite(UUID, None, scheduled))

    receive(ports, body("submitted"))

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.redrive_at) == ("scheduled", backstop)
    assert ports.ledger.due(NOW + timedelta(hours=2), 10) == []
