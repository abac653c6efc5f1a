"""ReadLedger: the status routes' answers."""

import pytest

from rcs_revoker.domain.errors import InvalidRequest, RecordNotFound, ServiceMisconfigured
from rcs_revoker.usecases.read_ledger import ReadLedger
from tests.unit.usecases.conftest import NOW, OTHER_UUID, UUID, Ports

BATCH_ID = "b0b0b0b0-1111-4222-8333-444444444444"


def test_a_message_s_record_is_given_as_the_ledger_has_it(ports: Ports) -> None:
    ports.ledger.mark_queued(UUID, BATCH_ID)
    ports.ledger.mark_requested(UUID, "eu", "vonage-1")
    assert ReadLedger(ports.ledger).revocation(UUID.upper()) == {
        "message_uuid": UUID,
        "state": "requested",
        "batch_id": BATCH_ID,
        "region": "eu",
        "attempts": 1,
        "last_error": None,
        "vonage_request_id": "vonage-1",
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
    }


def test_an_unknown_message_is_not_found_naming_it(ports: Ports) -> None:
    with pytest.raises(RecordNotFound) as caught:
        ReadLedger(ports.ledger).revocation(UUID)
    assert caught.value.message_uuid == UUID


def test_a_malformed_message_uuid_is_refused_before_the_ledger_is_read(ports: Ports) -> None:
    ports.ledger.unavailable = True
    with pytest.raises(InvalidRequest):
        ReadLedger(ports.ledger).revocation("nope")


def test_a_batch_summary_counts_states_and_lists_pending_and_failed(ports: Ports) -> None:
    ports.ledger.mark_queued(UUID, BATCH_ID)
    ports.ledger.mark_queued(OTHER_UUID, BATCH_ID)
    ports.ledger.mark_failed(OTHER_UUID, None, "vonage-timeout: slow", final=True)
    summary = ReadLedger(ports.ledger).batch(BATCH_ID.upper())
    assert summary == {
        "batch_id": BATCH_ID,
        "total": 2,
        "counts": {"queued": 1, "requested": 0, "rejected": 0, "failed": 1},
        "pending": [UUID],
        "failed": [{"message_uuid": OTHER_UUID, "last_error": "vonage-timeout: slow"}],
    }


def test_an_unknown_batch_is_not_found(ports: Ports) -> None:
    with pytest.raises(RecordNotFound):
        ReadLedger(ports.ledger).batch(BATCH_ID)


def test_a_malformed_batch_id_is_refused(ports: Ports) -> None:
    with pytest.raises(InvalidRequest, match="batch_id 'b-1' is not a canonical UUID"):
        ReadLedger(ports.ledger).batch("b-1")


def test_a_deployment_without_a_ledger_cannot_answer() -> None:
    with pytest.raises(ServiceMisconfigured):
        ReadLedger(None).revocation(UUID)
    with pytest.raises(ServiceMisconfigured):
        ReadLedger(None).batch(BATCH_ID)
