"""ReadLedger: the status routes' answers."""

import pytest

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import InvalidRequest, RecordNotFound, ServiceMisconfigured, UnknownAgent, VonageTimeout
from rcs_revoker.domain.ledger import STATES
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.usecases.read_ledger import ReadLedger
from tests.unit.usecases.conftest import NOW, OTHER_UUID, UUID, Ports, invocation

BATCH_ID = "b0b0b0b0-1111-4222-8333-444444444444"
CONTEXT = RequestContext("api", "correlation-1", NOW, client_ref="order-42")


def queue(ports: Ports, uuid: str) -> None:
    write = recording.queued(ports.ledger.get(uuid), uuid, BATCH_ID, CONTEXT)
    assert write is not None
    ports.ledger.add_to_batch(BATCH_ID, [uuid])
    assert ports.ledger.save(write)


def test_a_message_s_record_is_given_as_the_ledger_has_it(ports: Ports) -> None:
    queue(ports, UUID)
    accepted = RevocationAccepted(message_uuid=UUID, region=Region.EU, vonage_request_id="vonage-1")
    ports.outcomes().accepted(accepted, invocation(), CONTEXT, ports.ledger.get(UUID))
    record = ReadLedger(ports.ledger).revocation(UUID.upper())
    assert record == {
        "message_uuid": UUID,
        "state": "requested",
        "fallback": None,
        "settled": False,  # Vonage accepted: its status callback is still to come
        "batch_id": BATCH_ID,
        "region": "eu",
        "attempts": 0,  # counted when Vonage is asked, which this test leaves out
        "last_error": None,
        "vonage_request_id": "vonage-1",
        "agent_id": None,
        "submitted_at": None,
        "delivery_status": None,
        "delivery_status_at": None,
        "delivered_at": None,
        "vonage_error": None,
        "client_ref": "order-42",
        "metadata": None,
        "timer": None,
        "timeline": [
            {"at": NOW.isoformat(), "event": "queued", "batch_id": BATCH_ID},
            {"at": NOW.isoformat(), "event": "revocation-accepted", "vonage_request_id": "vonage-1"},
        ],
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
    third = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    for uuid in (UUID, OTHER_UUID, third):
        queue(ports, uuid)
    worker = RequestContext("sqs", "message-1", NOW)
    ports.outcomes().rejected(VonageTimeout("slow", message_uuid=OTHER_UUID), invocation("sqs"), worker)
    ports.outcomes().rejected(UnknownAgent("no agent x", message_uuid=third), invocation("sqs"), worker)
    summary = ReadLedger(ports.ledger).batch(BATCH_ID.upper())
    counts = dict.fromkeys(STATES, 0) | {"queued": 1, "failed": 1, "rejected": 1}
    assert summary == {
        "batch_id": BATCH_ID,
        "total": 3,
        "counts": counts,
        "pending": [UUID],
        "failed": [{"message_uuid": OTHER_UUID, "last_error": "vonage-timeout: slow"}],
        "rejected": [{"message_uuid": third, "last_error": "unknown-agent: no agent x"}],
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
