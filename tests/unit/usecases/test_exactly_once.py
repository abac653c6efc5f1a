"""ExactlyOnceRevocation: one PATCH per message however often asked; what is stored, what is asked again."""

from datetime import timedelta

import pytest

from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    MessageNotFound,
    RevocationError,
    RevocationInProgress,
    RevocationWindowExpired,
    VonageUnavailable,
    VonageUnprocessable,
)
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.regions import Region
from tests.fakes.fake_vonage import VONAGE_REQUEST_ID
from tests.unit.usecases.conftest import NOW, UUID, Ports

REQUEST = RevocationRequest(message_uuid=UUID, region=Region.EU)


def revoke(ports: Ports, request: RevocationRequest = REQUEST) -> object:
    return ports.exactly_once().revoke(request, deadline=1e9, correlation_id="c-1")


def test_the_first_request_patches_and_a_repeat_replays_without_a_second_patch(ports: Ports) -> None:
    first = ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="c-1")
    again = ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="c-1")
    assert len(ports.vonage.calls) == 1
    assert (first.replayed, again.replayed) == (False, True)
    assert again.region is Region.EU
    assert again.vonage_request_id == VONAGE_REQUEST_ID


def test_a_repeat_naming_another_region_still_gets_the_first_outcome(ports: Ports) -> None:
    ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="c-1")
    other = RevocationRequest(message_uuid=UUID, region=Region.US)
    again = ports.exactly_once().revoke(other, deadline=1e9, correlation_id="c-2")
    assert again.region is Region.EU
    assert len(ports.vonage.calls) == 1


def test_vonage_422_is_stored_and_replayed_as_the_same_refusal(ports: Ports) -> None:
    ports.vonage.error = VonageUnprocessable("Message already read", "It was read at 10:00.")
    with pytest.raises(VonageUnprocessable) as first:
        revoke(ports)
    with pytest.raises(VonageUnprocessable) as again:
        revoke(ports)
    assert len(ports.vonage.calls) == 1
    assert (first.value.replayed, again.value.replayed) == (False, True)
    assert again.value.title == "Message already read"
    assert again.value.detail == "It was read at 10:00."
    assert again.value.region is Region.EU
    assert again.value.message_uuid == UUID


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(MessageNotFound("not in this region"), id="vonage-404-may-mean-another-region"),
        pytest.param(VonageUnavailable("502"), id="vonage-unavailable"),
    ],
)
def test_vonage_errors_other_than_422_are_not_stored_so_a_repeat_asks_again(
    ports: Ports, error: RevocationError
) -> None:
    ports.vonage.errors = [error, None]
    with pytest.raises(type(error)):
        revoke(ports)
    assert revoke(ports).replayed is False  # type: ignore[attr-defined]
    assert len(ports.vonage.calls) == 2


def test_a_refusal_decided_before_vonage_is_not_stored(ports: Ports) -> None:
    expired = RevocationRequest(message_uuid=UUID, region=Region.EU, sent_at=NOW - timedelta(days=2))
    with pytest.raises(RevocationWindowExpired):
        revoke(ports, expired)
    revoke(ports)  # the same message, now within its window (a corrected sent_at): revoked
    assert len(ports.vonage.calls) == 1


def test_a_request_while_another_is_in_progress_is_told_to_ask_again(ports: Ports) -> None:
    def meanwhile_ask_again(
        message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str:
        with pytest.raises(RevocationInProgress) as caught:
            revoke(ports)
        assert caught.value.message_uuid == UUID
        return "request-1"

    ports.vonage.revoke = meanwhile_ask_again  # type: ignore[method-assign]
    assert revoke(ports).vonage_request_id == "request-1"  # type: ignore[attr-defined]


def test_a_store_that_does_not_answer_is_a_dependency_failure_and_vonage_is_not_called(ports: Ports) -> None:
    ports.store.unavailable = True
    with pytest.raises(DependencyUnavailable) as caught:
        revoke(ports)
    assert caught.value.message_uuid == UUID
    assert ports.vonage.calls == []


def test_an_acceptance_the_store_cannot_keep_is_still_given_as_accepted(ports: Ports) -> None:
    ports.store.fail_to_save = True
    result = ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="c-1")
    assert result.replayed is False
    assert result.vonage_request_id == VONAGE_REQUEST_ID


def test_a_refusal_the_store_cannot_keep_is_still_given_as_vonage_said_it(ports: Ports) -> None:
    ports.store.fail_to_save = True
    ports.vonage.error = VonageUnprocessable("Cannot revoke", "Delivered.")
    with pytest.raises(VonageUnprocessable) as caught:
        revoke(ports)
    assert caught.value.replayed is False
    assert caught.value.title == "Cannot revoke"


def test_a_failure_whose_record_cannot_be_removed_is_given_as_the_failure(ports: Ports) -> None:
    ports.store.fail_to_save = True
    ports.vonage.error = VonageUnavailable("Vonage answered 503, after retries.")
    with pytest.raises(VonageUnavailable):
        revoke(ports)


def test_an_outcome_stored_by_an_earlier_call_with_the_same_correlation_id_is_replayed(ports: Ports) -> None:
    # EventBridge may deliver one event twice with the same id: each call is still told apart.
    ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="event-1")
    assert ports.exactly_once().revoke(REQUEST, deadline=1e9, correlation_id="event-1").replayed is True


def test_the_deadline_reaches_vonage_unchanged(ports: Ports) -> None:
    ports.exactly_once().revoke(REQUEST, deadline=4321.5, correlation_id="c-1")
    assert ports.vonage.calls == [(UUID, Region.EU, 4321.5)]
