"""RevokeMessage: one revocation from any entry point; what the status callbacks already said; and when the
invocation must fail to be retried."""

from datetime import timedelta

import pytest

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import (
    AlreadyDelivered,
    InvalidRequest,
    NoRegionSource,
    OutcomeNotRecorded,
    RevocationError,
    RevocationWindowExpired,
    UnknownAgent,
)
from rcs_revoker.domain.models import AgentRecord, RevocationAccepted, RevocationNotNeeded, RevocationRequest
from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    CONFIRMED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    TOO_LATE_DETAIL_TYPE,
)
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.status_callbacks import StatusCallback
from tests.unit.usecases.conftest import NOW, UUID, Ports, invocation


def by_region() -> RevocationRequest:
    return RevocationRequest(message_uuid=UUID, region=Region.US)


def uuid_only() -> RevocationRequest:
    return RevocationRequest(message_uuid=UUID)


def callback_arrives(ports: Ports, status: str, minutes: int = 0, agent_id: str | None = "acme-sg") -> None:
    """A verified status callback, written as the webhook writes it."""
    callback = StatusCallback(UUID, status, NOW + timedelta(minutes=minutes), channel="rcs", agent_id=agent_id)
    record = ports.ledger.get(UUID)
    write = recording.status(record, callback, {"status": status})
    assert write is not None
    assert ports.ledger.save(write)


def test_an_accepted_revocation_is_patched_once_and_its_outcome_recorded(ports: Ports) -> None:
    result = ports.revoke()(by_region, invocation())

    assert isinstance(result, RevocationAccepted)
    assert (result.message_uuid, result.region, result.replayed) == (UUID, Region.US, False)
    assert len(ports.vonage.calls) == 1
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_asking_again_replays_without_a_patch_and_publishes_no_second_outcome(ports: Ports) -> None:
    ports.revoke()(by_region, invocation())
    again = ports.revoke()(by_region, invocation())
    assert isinstance(again, RevocationAccepted)
    assert again.replayed is True
    assert len(ports.vonage.calls) == 1
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_a_malformed_request_naming_no_message_is_refused_without_record_or_event(ports: Ports) -> None:
    def malformed() -> RevocationRequest:
        raise InvalidRequest("The request body is not valid JSON.")

    with pytest.raises(InvalidRequest):
        ports.revoke()(malformed, invocation())
    assert ports.vonage.calls == []
    assert ports.ledger.items == {}


def test_a_refused_request_about_a_real_message_is_recorded_and_published(ports: Ports) -> None:
    def unknown_agent() -> RevocationRequest:
        return RevocationRequest(message_uuid=UUID, agent_id="ghost")

    with pytest.raises(UnknownAgent):
        ports.revoke()(unknown_agent, invocation())
    [detail] = ports.published().of_type(REJECTED_DETAIL_TYPE)
    assert detail["message_uuid"] == UUID


@pytest.mark.parametrize("entry_point", ["eventbridge", "sqs"])
def test_an_event_whose_outcome_is_not_recorded_fails_and_its_retry_records_it_without_a_patch(
    ports: Ports, entry_point: str
) -> None:
    ports.ledger.writes_fail_after = 1  # the attempt is recorded, then the ledger fails
    with pytest.raises(OutcomeNotRecorded) as caught:
        ports.revoke()(by_region, invocation(entry_point))  # type: ignore[arg-type]
    assert caught.value.transient
    assert ports.ledger.items[UUID]["state"] == "revoking"  # what the reconciler would finish
    ports.ledger.writes_fail_after, ports.ledger.writes_fail = None, False

    retried = ports.revoke()(by_region, invocation(entry_point))  # type: ignore[arg-type]
    assert isinstance(retried, RevocationAccepted)
    assert retried.replayed is True
    assert len(ports.vonage.calls) == 1
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_an_api_caller_gets_vonage_s_answer_even_when_the_ledger_cannot_take_it(ports: Ports) -> None:
    ports.ledger.writes_fail_after = 1
    result = ports.revoke()(by_region, invocation("api"))
    assert isinstance(result, RevocationAccepted)
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts) == ("revoking", 1)  # never a 404 for a message Vonage accepted


@pytest.mark.parametrize("entry_point", ["api", "eventbridge", "sqs"])
def test_vonage_is_not_asked_when_the_ledger_cannot_record_the_attempt(ports: Ports, entry_point: str) -> None:
    ports.ledger.writes_fail = True
    with pytest.raises(RevocationError) as caught:
        ports.revoke()(by_region, invocation(entry_point))  # type: ignore[arg-type]
    assert caught.value.transient
    assert ports.vonage.calls == []
    assert ports.store.records == {}  # nothing left "in progress" to block the retry


def test_the_attempt_is_recorded_before_vonage_is_asked(ports: Ports) -> None:
    seen: list[str | None] = []

    def ask(message_uuid: str, region: Region, *, deadline: float, application: str | None = None) -> str | None:
        record = ports.ledger.get(message_uuid)
        seen.append(record.state if record else None)
        return "vonage-1"

    ports.vonage.revoke = ask  # type: ignore[method-assign]
    ports.revoke()(by_region, invocation("api"))
    assert seen == ["revoking"]


def test_an_event_whose_refusal_is_not_recorded_fails_naming_the_message(ports: Ports) -> None:
    ports.ledger.writes_fail = True

    def unknown_agent() -> RevocationRequest:
        return RevocationRequest(message_uuid=UUID, agent_id="ghost")

    with pytest.raises(OutcomeNotRecorded) as caught:
        ports.revoke()(unknown_agent, invocation("eventbridge"))
    assert caught.value.message_uuid == UUID


# --- what the callbacks already said ----------------------------------------------------------------------
def test_a_delivered_message_is_refused_at_once_without_calling_vonage(ports: Ports) -> None:
    callback_arrives(ports, "delivered", minutes=2)
    with pytest.raises(AlreadyDelivered) as caught:
        ports.revoke()(by_region, invocation())
    assert (NOW + timedelta(minutes=2)).isoformat() in caught.value.detail
    assert ports.vonage.calls == []
    [too_late] = ports.published().of_type(TOO_LATE_DETAIL_TYPE)
    assert (too_late["fallback"], too_late["delivered_at"]) == (False, (NOW + timedelta(minutes=2)).isoformat())


def test_asking_again_for_a_delivered_message_publishes_too_late_once(ports: Ports) -> None:
    callback_arrives(ports, "delivered")
    for _ in range(3):
        with pytest.raises(AlreadyDelivered):
            ports.revoke()(by_region, invocation("eventbridge"))
    assert len(ports.published().of_type(TOO_LATE_DETAIL_TYPE)) == 1


def test_a_message_vonage_could_not_deliver_needs_no_revocation_and_the_fallback_goes_out(ports: Ports) -> None:
    callback_arrives(ports, "rejected")
    result = ports.revoke()(by_region, invocation())
    assert isinstance(result, RevocationNotNeeded)
    assert result.as_dict() == {
        "message_uuid": UUID,
        "status": "will_not_be_delivered",
        "delivery_status": "rejected",
        "fallback": True,
    }
    assert ports.vonage.calls == []
    [confirmed] = ports.published().of_type(CONFIRMED_DETAIL_TYPE)
    assert confirmed["fallback"] is True


def test_a_request_naming_no_region_is_sent_where_the_callbacks_agent_was_launched(ports: Ports) -> None:
    ports.agents.records["acme-sg"] = AgentRecord("acme-sg", country="SG")
    callback_arrives(ports, "submitted", agent_id="acme-sg")
    result = ports.revoke()(uuid_only, invocation())
    assert isinstance(result, RevocationAccepted)
    assert result.region is Region.AP


def test_without_region_default_or_learned_agent_the_refusal_says_so(ports: Ports) -> None:
    with pytest.raises(NoRegionSource) as caught:
        ports.revoke()(uuid_only, invocation())
    assert "no status callback has named this message's agent" in caught.value.detail


def test_the_window_is_counted_from_vonage_s_first_sight_when_no_sent_at_is_given(ports: Ports) -> None:
    callback = StatusCallback(UUID, "submitted", NOW - timedelta(hours=25), channel="rcs", agent_id="acme-sg")
    write = recording.status(None, callback, {})
    assert write is not None
    ports.ledger.save(write)
    with pytest.raises(RevocationWindowExpired):
        ports.revoke()(by_region, invocation())
    assert ports.vonage.calls == []


def test_a_delivered_callback_during_the_patch_ends_the_revocation_too_late(ports: Ports) -> None:
    real_revoke = ports.vonage.revoke

    def patch_while_delivered(
        message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str | None:
        callback_arrives(ports, "delivered")  # the webhook writes while the PATCH is in flight
        return real_revoke(message_uuid, region, deadline=deadline)

    ports.vonage.revoke = patch_while_delivered  # type: ignore[method-assign]
    ports.revoke()(by_region, invocation())

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.vonage_request_id) == ("delivered", ports.vonage.request_id)
    published = ports.published()
    assert published.of_type(ACCEPTED_DETAIL_TYPE) == []
    [too_late] = published.of_type(TOO_LATE_DETAIL_TYPE)
    assert too_late["fallback"] is False


def test_a_rejected_callback_after_the_acceptance_confirms_the_revocation(ports: Ports) -> None:
    ports.revoke()(by_region, invocation())
    callback_arrives(ports, "rejected", minutes=1)
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.fallback) == ("revoked", True)
    published = ports.published()
    assert [kind for kind, _ in published.events][:2] == [ACCEPTED_DETAIL_TYPE, CONFIRMED_DETAIL_TYPE]


def test_a_ledger_that_cannot_be_read_fails_the_event_for_a_retry_before_vonage_is_called(ports: Ports) -> None:
    ports.ledger.failing.add(UUID)
    with pytest.raises(OutcomeNotRecorded) as caught:
        ports.revoke()(by_region, invocation("eventbridge"))
    assert caught.value.message_uuid == UUID
    assert ports.vonage.calls == []


def test_a_rejection_reported_before_the_acceptance_is_written_still_ends_revoked(ports: Ports) -> None:
    real_revoke = ports.vonage.revoke

    def patch_and_vonage_reports_rejected_at_once(
        message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str | None:
        answer = real_revoke(message_uuid, region, deadline=deadline)
        callback_arrives(ports, "rejected")  # the revocation's own effect, reported before the 202 is written
        return answer

    ports.vonage.revoke = patch_and_vonage_reports_rejected_at_once  # type: ignore[method-assign]
    ports.revoke()(by_region, invocation())

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.fallback) == ("revoked", True)
    [confirmed] = ports.published().of_type(CONFIRMED_DETAIL_TYPE)
    assert confirmed["state"] == "revoked"
