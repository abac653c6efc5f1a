"""OutcomeRecorder: what each outcome writes to the ledger and publishes on the bus, and when it says that
something was not recorded."""

from collections.abc import Callable

import pytest

from rcs_revoker.domain.errors import (
    InvalidRequest,
    OutcomeNotRecorded,
    RevocationError,
    RevocationInProgress,
    UnknownAgent,
    VonageTimeout,
)
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import ACCEPTED_DETAIL_TYPE, REJECTED_DETAIL_TYPE
from rcs_revoker.domain.regions import Region
from rcs_revoker.usecases.record_outcome import OutcomeRecorder
from tests.unit.usecases.conftest import NOW, UUID, Ports, invocation

ACCEPTED = RevocationAccepted(message_uuid=UUID, region=Region.AP, vonage_request_id="vonage-1")


def test_an_acceptance_is_written_as_requested_and_published(ports: Ports) -> None:
    assert ports.outcomes().accepted(ACCEPTED, invocation("eventbridge")) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.region, record.vonage_request_id, record.attempts) == (
        "requested",
        "ap",
        "vonage-1",
        1,
    )
    [detail] = ports.publisher.of_type(ACCEPTED_DETAIL_TYPE)
    assert detail == {
        "outcome": "accepted",
        "message_uuid": UUID,
        "region": "ap",
        "host": "api-ap.nexmo.com",
        "vonage_request_id": "vonage-1",
        "replayed": False,
        "entry_point": "eventbridge",
        "correlation_id": "correlation-1",
        "requested_at": detail["requested_at"],
        "completed_at": NOW.isoformat(),
    }


def test_a_replayed_acceptance_is_published_again_marked_replayed(ports: Ports) -> None:
    replayed = RevocationAccepted(message_uuid=UUID, region=Region.AP, vonage_request_id="vonage-1", replayed=True)
    ports.outcomes().accepted(replayed, invocation())
    assert ports.publisher.of_type(ACCEPTED_DETAIL_TYPE)[0]["replayed"] is True


def test_without_ledger_or_bus_nothing_is_written_or_published_and_nothing_is_missing() -> None:
    recorder = OutcomeRecorder(None, None)
    assert recorder.accepted(ACCEPTED, invocation()) is True
    assert recorder.rejected(UnknownAgent("no such agent", message_uuid=UUID), invocation()) is True


def test_an_acceptance_the_ledger_cannot_take_is_still_published_and_reported_unrecorded(ports: Ports) -> None:
    ports.ledger.unavailable = True
    assert ports.outcomes().accepted(ACCEPTED, invocation()) is False
    assert len(ports.publisher.of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_an_acceptance_the_bus_refuses_is_written_and_reported_unrecorded(ports: Ports) -> None:
    ports.publisher.refusals = 1
    assert ports.outcomes().accepted(ACCEPTED, invocation()) is False
    assert ports.ledger.get(UUID) is not None


def test_a_permanent_refusal_is_written_rejected_and_published(ports: Ports) -> None:
    error = UnknownAgent("The agents table has no RCS agent 'x'.", message_uuid=UUID)
    assert ports.outcomes().rejected(error, invocation("sqs")) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.last_error) == ("rejected", "unknown-agent: The agents table has no RCS agent 'x'.")
    [detail] = ports.publisher.of_type(REJECTED_DETAIL_TYPE)
    assert (detail["reason"], detail["message_uuid"], detail["region"], detail["entry_point"]) == (
        "unknown-agent",
        UUID,
        None,
        "sqs",
    )


@pytest.mark.parametrize(("final", "state"), [(True, "failed"), (False, "queued")])
def test_a_transient_failure_is_written_and_not_published(ports: Ports, final: bool, state: str) -> None:
    error = VonageTimeout("Vonage did not answer in time.", message_uuid=UUID, region=Region.EU)
    assert ports.outcomes().rejected(error, invocation("sqs", final_attempt=final)) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.attempts, record.last_error) == (
        state,
        1,
        "vonage-timeout: Vonage did not answer in time.",
    )
    assert ports.publisher.events == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(InvalidRequest("no uuid"), id="no-uuid"),
        pytest.param(InvalidRequest("bad uuid", message_uuid="not-a-uuid"), id="not-a-uuid"),
        pytest.param(RevocationInProgress("busy", message_uuid=UUID), id="in-progress-twin-writes-its-own"),
        pytest.param(OutcomeNotRecorded("retry", message_uuid=UUID), id="outcome-not-recorded"),
    ],
)
def test_no_ledger_record_for_what_names_no_real_message_or_is_written_by_a_twin(
    ports: Ports, error: RevocationError
) -> None:
    ports.outcomes().rejected(error, invocation())
    assert ports.ledger.items == {}


def test_a_refusal_the_ledger_cannot_take_is_reported_unrecorded(ports: Ports) -> None:
    ports.ledger.unavailable = True
    assert ports.outcomes().rejected(UnknownAgent("x", message_uuid=UUID), invocation()) is False
    error = VonageTimeout("slow", message_uuid=UUID)
    assert ports.outcomes().rejected(error, invocation()) is False


def test_a_refusal_the_bus_refuses_is_reported_unrecorded(ports: Ports) -> None:
    ports.publisher.refusals = 1
    assert ports.outcomes().rejected(UnknownAgent("x", message_uuid=UUID), invocation()) is False


@pytest.mark.parametrize(
    ("error", "entry_point", "level"),
    [
        pytest.param(InvalidRequest("bad body"), "api", "WARNING", id="caller-error-on-the-api"),
        pytest.param(InvalidRequest("bad detail"), "eventbridge", "ERROR", id="malformed-event-needs-a-look"),
        pytest.param(VonageTimeout("slow", message_uuid=UUID), "api", "ERROR", id="transient"),
    ],
)
def test_a_refusal_is_logged_at_the_level_that_says_whether_someone_must_look(
    ports: Ports,
    log_records: Callable[[], list[dict[str, object]]],
    error: RevocationError,
    entry_point: str,
    level: str,
) -> None:
    ports.outcomes().rejected(error, invocation(entry_point))  # type: ignore[arg-type]
    [line] = [line for line in log_records() if line.get("message") == "revocation not accepted"]
    assert line["level"] == level
    assert line["reason"] == error.reason
