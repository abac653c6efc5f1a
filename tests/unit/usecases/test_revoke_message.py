"""RevokeMessage: one revocation from any entry point, and when the invocation must fail to be retried."""

import pytest

from rcs_revoker.domain.errors import InvalidRequest, OutcomeNotRecorded, UnknownAgent
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, REJECTED_DETAIL_TYPE
from rcs_revoker.domain.regions import Region
from tests.unit.usecases.conftest import UUID, Ports, invocation


def by_region() -> RevocationRequest:
    return RevocationRequest(message_uuid=UUID, region=Region.US)


def test_an_accepted_revocation_is_patched_once_written_and_published(ports: Ports) -> None:
    result = ports.revoke()(by_region, invocation())

    assert (result.message_uuid, result.region, result.replayed) == (UUID, Region.US, False)
    assert len(ports.vonage.calls) == 1
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert len(ports.publisher.of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_a_malformed_request_is_refused_and_published_without_calling_vonage(ports: Ports) -> None:
    def malformed() -> RevocationRequest:
        raise InvalidRequest("The request body is not valid JSON.")

    with pytest.raises(InvalidRequest):
        ports.revoke()(malformed, invocation())
    assert ports.vonage.calls == []
    [detail] = ports.publisher.of_type(REJECTED_DETAIL_TYPE)
    assert detail["reason"] == "invalid-request"


def test_an_api_caller_gets_its_answer_even_when_the_outcome_is_not_recorded(ports: Ports) -> None:
    ports.publisher.refusals = 1
    assert ports.revoke()(by_region, invocation("api")).region is Region.US


@pytest.mark.parametrize("entry_point", ["eventbridge", "sqs"])
def test_an_event_whose_outcome_is_not_recorded_fails_and_its_retry_records_it_without_a_patch(
    ports: Ports, entry_point: str
) -> None:
    ports.publisher.refusals = 1
    with pytest.raises(OutcomeNotRecorded) as caught:
        ports.revoke()(by_region, invocation(entry_point))  # type: ignore[arg-type]
    assert caught.value.transient

    retried = ports.revoke()(by_region, invocation(entry_point))  # type: ignore[arg-type]
    assert retried.replayed is True
    assert len(ports.vonage.calls) == 1
    assert [d["replayed"] for d in ports.publisher.of_type(ACCEPTED_DETAIL_TYPE)] == [True]


def test_an_event_whose_refusal_is_not_recorded_fails_naming_the_message(ports: Ports) -> None:
    ports.ledger.unavailable = True

    def unknown_agent() -> RevocationRequest:
        return RevocationRequest(message_uuid=UUID, agent_id="ghost")

    with pytest.raises(OutcomeNotRecorded) as caught:
        ports.revoke()(unknown_agent, invocation("eventbridge"))
    assert caught.value.message_uuid == UUID
    assert isinstance(caught.value.__cause__, UnknownAgent)


def test_an_api_refusal_that_is_not_recorded_is_still_the_refusal(ports: Ports) -> None:
    ports.ledger.unavailable = True

    def unknown_agent() -> RevocationRequest:
        return RevocationRequest(message_uuid=UUID, agent_id="ghost")

    with pytest.raises(UnknownAgent):
        ports.revoke()(unknown_agent, invocation("api"))
