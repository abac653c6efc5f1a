"""OutcomeRecorder: what each outcome writes to the ledger, which event that write publishes (through the
ledger's stream), and when it says that something was not recorded."""

from collections.abc import Callable
from datetime import timedelta

import pytest

from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    InvalidRequest,
    OutcomeNotRecorded,
    RevocationError,
    RevocationInProgress,
    UnknownAgent,
    VonageTimeout,
    VonageUnavailable,
)
from rcs_revoker.domain.ledger import LedgerWrite
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    FAILED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    SCHEMA_VERSION,
)
from rcs_revoker.domain.recording import RequestContext
from rcs_revoker.domain.regions import Region
from rcs_revoker.usecases.record_outcome import OutcomeRecorder
from tests.fakes.in_memory_ledger import InMemoryLedger
from tests.unit.usecases.conftest import NOW, UUID, Ports, invocation

ACCEPTED = RevocationAccepted(message_uuid=UUID, region=Region.AP, vonage_request_id="vonage-1")
CONTEXT = RequestContext("eventbridge", "correlation-1", NOW, client_ref="order-42", metadata={"shop": "fr"})


def test_an_acceptance_is_written_as_requested_and_its_event_published_once(ports: Ports) -> None:
    assert ports.outcomes().accepted(ACCEPTED, invocation("eventbridge"), CONTEXT, None) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.region, record.vonage_request_id) == ("requested", "ap", "vonage-1")
    assert (record.client_ref, record.metadata) == ("order-42", {"shop": "fr"})
    [detail] = ports.published().of_type(ACCEPTED_DETAIL_TYPE)
    assert detail == {
        "schema_version": SCHEMA_VERSION,
        "event_id": f"{UUID}:1:0",
        "message_uuid": UUID,
        "state": "requested",
        "fallback": None,
        "outcome": "accepted",
        "region": "ap",
        "host": "api-ap.nexmo.com",
        "vonage_request_id": "vonage-1",
        "client_ref": "order-42",
        "metadata": {"shop": "fr"},
        "entry_point": "eventbridge",
        "correlation_id": "correlation-1",
        "requested_at": NOW.isoformat(),
        "completed_at": NOW.isoformat(),
    }


def test_a_replayed_acceptance_writes_and_publishes_nothing_more(ports: Ports) -> None:
    ports.outcomes().write_ahead(UUID, CONTEXT, None)(Region.AP)
    ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, ports.ledger.get(UUID))
    replayed = RevocationAccepted(message_uuid=UUID, region=Region.AP, vonage_request_id="vonage-1", replayed=True)
    assert ports.outcomes().accepted(replayed, invocation(), CONTEXT, ports.ledger.get(UUID)) is True
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.attempts == 1  # one PATCH: a replay asks Vonage nothing


def test_the_write_ahead_records_each_patch_as_an_attempt_and_publishes_nothing(ports: Ports) -> None:
    for _ in range(2):
        ports.outcomes().write_ahead(UUID, CONTEXT, ports.ledger.get(UUID))(Region.AP)
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.region, record.attempts, record.client_ref) == ("revoking", "ap", 2, "order-42")
    assert record.redrive_at == NOW + timedelta(minutes=2)  # the reconciler's, if nothing moves it on
    assert ports.published().events == []


def test_a_write_ahead_the_ledger_cannot_take_stops_the_call(ports: Ports) -> None:
    ports.ledger.writes_fail = True
    with pytest.raises(DependencyUnavailable):
        ports.outcomes().write_ahead(UUID, CONTEXT, None)(Region.AP)


def test_without_a_ledger_nothing_is_written_nor_published_and_nothing_is_missing() -> None:
    recorder = OutcomeRecorder(None)
    assert recorder.read(UUID) is None
    assert recorder.accepted(ACCEPTED, invocation(), CONTEXT, None) is True
    assert recorder.rejected(UnknownAgent("no such agent", message_uuid=UUID), invocation(), CONTEXT) is True


def test_an_acceptance_the_ledger_cannot_take_is_reported_unrecorded_and_publishes_nothing(ports: Ports) -> None:
    ports.ledger.unavailable = True
    assert ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None) is False
    assert ports.ledger.stream == []


def test_a_record_that_keeps_moving_is_given_up_after_a_few_conflicts(ports: Ports) -> None:
    class AlwaysMovedOn(InMemoryLedger):
        def save(self, write: LedgerWrite) -> bool:
            self.saves += 1
            return False

    ports.ledger = AlwaysMovedOn()
    assert ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None) is False
    assert ports.ledger.saves == 5


def test_a_write_that_loses_a_race_is_decided_again_on_the_record_as_it_now_is(ports: Ports) -> None:
    stale = ports.ledger.get(UUID)  # None: nothing yet
    ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None)  # a twin wrote meanwhile
    assert ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, stale) is True
    assert len(ports.published().of_type(ACCEPTED_DETAIL_TYPE)) == 1


def test_a_permanent_refusal_is_written_rejected_and_published(ports: Ports) -> None:
    error = UnknownAgent("The agents table has no RCS agent 'x'.", message_uuid=UUID)
    assert ports.outcomes().rejected(error, invocation("sqs"), CONTEXT) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.last_error) == ("rejected", "unknown-agent: The agents table has no RCS agent 'x'.")
    [detail] = ports.published().of_type(REJECTED_DETAIL_TYPE)
    assert (detail["reason"], detail["message_uuid"], detail["fallback"], detail["client_ref"]) == (
        "unknown-agent",
        UUID,
        None,
        "order-42",
    )


def test_a_transient_failure_with_retries_left_is_counted_and_publishes_nothing(ports: Ports) -> None:
    error = VonageTimeout("Vonage did not answer in time.", message_uuid=UUID, region=Region.EU)
    assert ports.outcomes().rejected(error, invocation("sqs", final_attempt=False), CONTEXT) is True
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.last_error) == ("retrying", "vonage-timeout: Vonage did not answer in time.")
    assert ports.published().events == []


def test_a_transient_failure_on_the_last_attempt_ends_failed_and_is_published(ports: Ports) -> None:
    error = VonageTimeout("Vonage did not answer in time.", message_uuid=UUID, region=Region.EU)
    assert ports.outcomes().rejected(error, invocation("sqs", final_attempt=True), CONTEXT) is True
    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.region) == ("failed", "eu")
    [detail] = ports.published().of_type(FAILED_DETAIL_TYPE)
    assert (detail["reason"], detail["transient"]) == ("vonage-timeout", True)


def test_a_refusal_never_undoes_an_acceptance(ports: Ports) -> None:
    ports.outcomes().accepted(ACCEPTED, invocation(), CONTEXT, None)
    ports.outcomes().rejected(UnknownAgent("late", message_uuid=UUID), invocation(), CONTEXT)
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "requested"
    assert ports.published().of_type(REJECTED_DETAIL_TYPE) == []


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(InvalidRequest("no uuid"), id="no-uuid"),
        pytest.param(InvalidRequest("bad uuid", message_uuid="not-a-uuid"), id="not-a-uuid"),
        pytest.param(RevocationInProgress("busy", message_uuid=UUID), id="in-progress-twin-writes-its-own"),
        pytest.param(OutcomeNotRecorded("retry", message_uuid=UUID), id="outcome-not-recorded"),
    ],
)
def test_no_record_and_no_event_for_what_names_no_real_message_or_is_written_by_a_twin(
    ports: Ports, error: RevocationError
) -> None:
    assert ports.outcomes().rejected(error, invocation(), CONTEXT) is True
    assert ports.ledger.items == {}


def test_a_refusal_the_ledger_cannot_take_is_reported_unrecorded(ports: Ports) -> None:
    ports.ledger.unavailable = True
    assert ports.outcomes().rejected(UnknownAgent("x", message_uuid=UUID), invocation(), CONTEXT) is False


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
    ports.outcomes().rejected(error, invocation(entry_point), CONTEXT)  # type: ignore[arg-type]
    [line] = [line for line in log_records() if line.get("message") == "revocation not accepted"]
    assert line["level"] == level
    assert line["reason"] == error.reason


def test_an_api_failure_while_the_message_is_queued_leaves_it_queued_not_failed(ports: Ports) -> None:
    # The bulk queue still holds the message, with its receives: a transient 502 on the single route is not
    # the message's last chance.
    assert ports.ledger.save(LedgerWrite(UUID, None, {"state": "queued", "batch_id": "b-1"}))
    error = VonageUnavailable("Vonage answered 502, after retries.", message_uuid=UUID, region=Region.EU)
    api = RequestContext("api", "request-1", NOW)

    assert ports.outcomes().rejected(error, invocation("api"), api, ports.ledger.get(UUID), read=True) is True

    record = ports.ledger.get(UUID)
    assert record is not None
    assert (record.state, record.last_error) == ("queued", "vonage-unavailable: Vonage answered 502, after retries.")
    assert ports.published().of_type(FAILED_DETAIL_TYPE) == []


def test_an_api_failure_with_no_other_delivery_to_come_is_failed(ports: Ports) -> None:
    error = VonageUnavailable("Vonage answered 502, after retries.", message_uuid=UUID, region=Region.EU)
    ports.outcomes().rejected(error, invocation("api"), RequestContext("api", "request-1", NOW))
    record = ports.ledger.get(UUID)
    assert record is not None
    assert record.state == "failed"
    assert len(ports.published().of_type(FAILED_DETAIL_TYPE)) == 1
