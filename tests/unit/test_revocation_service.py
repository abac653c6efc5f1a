"""Unit tests for RevocationService: the 24-hour window, region resolution and the call to Vonage."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rcs_revoker.domain.errors import (
    InvalidRequest,
    MessageNotFound,
    RevocationError,
    RevocationWindowExpired,
    SentAtInFuture,
    ServiceMisconfigured,
    UnknownAgent,
    VonageCredentialsRejected,
    VonageRateLimited,
    VonageTimeout,
    VonageUnavailable,
    VonageUnprocessable,
)
from rcs_revoker.domain.models import AgentRecord, RevocationAccepted, RevocationRequest
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService
from tests.fakes.fake_vonage import VONAGE_REQUEST_ID, FakeVonageMessages
from tests.fakes.in_memory_agents import InMemoryAgentDirectory

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
DEADLINE = 12_345.678


@dataclass
class Harness:
    service: RevocationService
    agents: InMemoryAgentDirectory
    vonage: FakeVonageMessages


def harness(
    *,
    agents: dict[str, AgentRecord] | None = None,
    vonage: FakeVonageMessages | None = None,
    default_region: Region | None = None,
    applications: frozenset[str] = frozenset(),
) -> Harness:
    fake_agents = InMemoryAgentDirectory(dict(agents or {}))
    fake_vonage = vonage or FakeVonageMessages()
    service = RevocationService(
        agents=fake_agents,
        vonage=fake_vonage,
        default_region=default_region,
        applications=applications,
        clock=lambda: NOW,
    )
    return Harness(service, fake_agents, fake_vonage)


def request(**fields: object) -> RevocationRequest:
    return RevocationRequest(message_uuid=UUID, **fields)  # type: ignore[arg-type]


def revoke(service: RevocationService, asked: RevocationRequest, *, deadline: float) -> RevocationAccepted:
    """As ExactlyOnceRevocation asks: where, then Vonage."""
    return service.ask(asked, service.destination(asked), deadline=deadline)


# --- the 24-hour window -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sent_at",
    [
        pytest.param(NOW - timedelta(hours=24), id="exactly-24h-ago"),
        pytest.param(NOW - timedelta(hours=23, minutes=59, seconds=59), id="just-inside"),
        pytest.param(NOW, id="now"),
        pytest.param(NOW + timedelta(minutes=5), id="exactly-5min-ahead"),
        pytest.param(datetime(2026, 11, 25, 17, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), id="24h-ist"),
        pytest.param(datetime(2026, 11, 25, 9, 0, tzinfo=timezone(timedelta(hours=-3))), id="24h-brt"),
    ],
)
def test_sent_at_inside_the_window_is_revoked(sent_at: datetime) -> None:
    # Given a message sent within the window (and no more than 5 minutes ahead of our clock)
    h = harness()
    # When it is revoked
    result = revoke(h.service, request(region=Region.EU, sent_at=sent_at), deadline=DEADLINE)
    # Then Vonage is asked once
    assert h.vonage.calls == [(UUID, Region.EU, DEADLINE)]
    assert result.message_uuid == UUID


def test_no_sent_at_skips_the_window_check() -> None:
    h = harness()
    revoke(h.service, request(region=Region.US), deadline=DEADLINE)
    assert len(h.vonage.calls) == 1


@pytest.mark.parametrize(
    "sent_at",
    [
        pytest.param(NOW - timedelta(hours=24, seconds=1), id="24h-and-1s-ago"),
        pytest.param(NOW - timedelta(hours=24, microseconds=1), id="24h-and-1us-ago"),
        pytest.param(NOW - timedelta(days=30), id="a-month-ago"),
        pytest.param(datetime(2026, 11, 25, 17, 29, 59, tzinfo=timezone(timedelta(hours=5, minutes=30))), id="ist"),
    ],
)
def test_sent_at_more_than_24_hours_ago_is_refused_without_calling_vonage(sent_at: datetime) -> None:
    h = harness()
    with pytest.raises(RevocationWindowExpired) as caught:
        revoke(h.service, request(region=Region.EU, sent_at=sent_at), deadline=DEADLINE)
    assert h.vonage.calls == []
    assert "more than 24 hours ago" in caught.value.detail
    assert sent_at.isoformat() in caught.value.detail


@pytest.mark.parametrize(
    "sent_at",
    [
        pytest.param(NOW + timedelta(minutes=5, seconds=1), id="5min-and-1s-ahead"),
        pytest.param(NOW + timedelta(days=1), id="tomorrow"),
    ],
)
def test_sent_at_more_than_5_minutes_ahead_is_refused_without_calling_vonage(sent_at: datetime) -> None:
    h = harness()
    with pytest.raises(SentAtInFuture) as caught:
        revoke(h.service, request(region=Region.EU, sent_at=sent_at), deadline=DEADLINE)
    assert h.vonage.calls == []
    assert "in the future (more than 5 minutes ahead" in caught.value.detail


def test_window_is_checked_before_the_agent_is_looked_up() -> None:
    # Given an expired message that names an agent the table does not know
    h = harness()
    # Then the expiry is reported, and the table is not read
    with pytest.raises(RevocationWindowExpired) as caught:
        revoke(h.service, request(agent_id="ghost", sent_at=NOW - timedelta(days=2)), deadline=DEADLINE)
    assert h.agents.lookups == []
    assert caught.value.message_uuid == UUID
    assert caught.value.region is None


def test_window_uses_the_injected_clock() -> None:
    # Given a clock two days ahead of NOW, a message sent an hour before NOW is expired
    h = harness()
    later = RevocationService(
        agents=h.agents, vonage=h.vonage, default_region=None, clock=lambda: NOW + timedelta(days=2)
    )
    with pytest.raises(RevocationWindowExpired):
        revoke(later, request(region=Region.EU, sent_at=NOW - timedelta(hours=1)), deadline=DEADLINE)


def test_default_clock_is_the_current_utc_time() -> None:
    service = RevocationService(agents=InMemoryAgentDirectory(), vonage=FakeVonageMessages(), default_region=Region.EU)
    now = datetime.now(UTC)
    revoke(service, request(sent_at=now - timedelta(hours=23)), deadline=DEADLINE)
    with pytest.raises(RevocationWindowExpired):
        revoke(service, request(sent_at=now - timedelta(hours=25)), deadline=DEADLINE)
    with pytest.raises(SentAtInFuture):
        revoke(service, request(sent_at=now + timedelta(hours=1)), deadline=DEADLINE)


# --- where the region comes from ----------------------------------------------------------------------
@pytest.mark.parametrize("region", list(Region))
def test_given_region_is_used_without_reading_the_agents_table(region: Region) -> None:
    h = harness(default_region=Region.EU)
    revoke(h.service, request(region=region), deadline=DEADLINE)
    assert h.vonage.calls == [(UUID, region, DEADLINE)]
    assert h.agents.lookups == []


@pytest.mark.parametrize(
    ("country", "region"),
    [("GB", Region.EU), ("DE", Region.EU), ("US", Region.US), ("BR", Region.US), ("SG", Region.AP), ("jp", Region.AP)],
)
def test_country_gives_its_region(country: str, region: Region) -> None:
    h = harness(default_region=Region.EU if region is not Region.EU else Region.US)
    revoke(h.service, request(country=country), deadline=DEADLINE)
    assert h.vonage.calls == [(UUID, region, DEADLINE)]
    assert h.agents.lookups == []


def test_unassigned_country_is_an_invalid_request() -> None:
    # Validation rejects it first; the service still refuses rather than guessing.
    h = harness(default_region=Region.EU)
    with pytest.raises(InvalidRequest, match="Unknown country 'XX'"):
        revoke(h.service, request(country="XX"), deadline=DEADLINE)
    assert h.vonage.calls == []


@pytest.mark.parametrize(
    ("record", "region"),
    [
        pytest.param(AgentRecord("agent-1", region="us"), Region.US, id="region"),
        pytest.param(AgentRecord("agent-1", region="AP"), Region.AP, id="region-upper-case"),
        pytest.param(AgentRecord("agent-1", country="GB"), Region.EU, id="country"),
        pytest.param(AgentRecord("agent-1", country="sg"), Region.AP, id="country-lower-case"),
        pytest.param(AgentRecord("agent-1", region="us", country="GB"), Region.US, id="region-before-country"),
        pytest.param(AgentRecord("agent-1", region="mars", country="SG"), Region.AP, id="bad-region-then-country"),
    ],
)
def test_agent_record_gives_the_region(record: AgentRecord, region: Region) -> None:
    # Given an agent known to the table, and a default region that must not win
    h = harness(agents={"agent-1": record}, default_region=Region.EU if region is not Region.EU else Region.US)
    # When revoked by agent_id
    result = revoke(h.service, request(agent_id="agent-1"), deadline=DEADLINE)
    # Then the agent's region is used
    assert h.agents.lookups == ["agent-1"]
    assert h.vonage.calls == [(UUID, region, DEADLINE)]
    assert result.region is region


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(AgentRecord("agent-1"), id="no-attributes"),
        pytest.param(AgentRecord("agent-1", region="mars"), id="unknown-region"),
        pytest.param(AgentRecord("agent-1", country="XX"), id="unassigned-country"),
        pytest.param(AgentRecord("agent-1", region="", country=""), id="empty-attributes"),
        pytest.param(AgentRecord("agent-1", region="eu-west-1", country="GBR"), id="both-invalid"),
    ],
)
def test_agent_record_without_a_valid_region_or_country_is_a_misconfiguration(record: AgentRecord) -> None:
    h = harness(agents={"agent-1": record}, default_region=Region.EU)
    with pytest.raises(ServiceMisconfigured) as caught:
        revoke(h.service, request(agent_id="agent-1"), deadline=DEADLINE)
    assert "'agent-1'" in caught.value.detail
    assert "no valid region or country" in caught.value.detail
    assert caught.value.message_uuid == UUID
    assert caught.value.region is None
    assert h.vonage.calls == []


def test_unknown_agent_is_refused_even_with_a_default_region() -> None:
    h = harness(default_region=Region.EU)
    with pytest.raises(UnknownAgent) as caught:
        revoke(h.service, request(agent_id="ghost"), deadline=DEADLINE)
    assert "'ghost'" in caught.value.detail
    assert caught.value.message_uuid == UUID
    assert h.agents.lookups == ["ghost"]
    assert h.vonage.calls == []


@pytest.mark.parametrize("default", list(Region))
def test_default_region_is_used_when_nothing_is_given(default: Region) -> None:
    h = harness(default_region=default)
    result = revoke(h.service, request(), deadline=DEADLINE)
    assert h.vonage.calls == [(UUID, default, DEADLINE)]
    assert result.region is default
    assert h.agents.lookups == []


def test_no_selector_and_no_default_region_is_an_invalid_request_naming_default_region() -> None:
    h = harness(default_region=None)
    with pytest.raises(InvalidRequest) as caught:
        revoke(h.service, request(), deadline=DEADLINE)
    assert "DEFAULT_REGION" in caught.value.detail
    assert "region, country or agent_id" in caught.value.detail
    assert caught.value.message_uuid == UUID
    assert h.vonage.calls == []


def test_resolve_region_prefers_region_then_country_then_agent() -> None:
    # RevocationRequest allows several selectors (validation forbids them): the order is still defined.
    h = harness(agents={"agent-1": AgentRecord("agent-1", region="us")}, default_region=Region.EU)
    assert h.service.resolve_region(request(region=Region.AP, country="US", agent_id="agent-1")) is Region.AP
    assert h.service.resolve_region(request(country="SG", agent_id="agent-1")) is Region.AP
    assert h.agents.lookups == []
    assert h.service.resolve_region(request(agent_id="agent-1")) is Region.US


# --- errors from Vonage -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        MessageNotFound("gone"),
        VonageUnprocessable("Invalid message state", "already read"),
        VonageRateLimited("slow down", retry_after_s=3),
        VonageCredentialsRejected("401"),
        VonageUnavailable("503"),
        VonageTimeout("timed out"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_vonage_error_is_raised_with_message_uuid_and_region_attached(error: RevocationError) -> None:
    # Given Vonage that answers with an error (which knows neither the message nor the region)
    assert error.message_uuid is None
    assert error.region is None
    h = harness(vonage=FakeVonageMessages(error=error))
    # When revoked in the AP region
    with pytest.raises(RevocationError) as caught:
        revoke(h.service, request(country="SG"), deadline=DEADLINE)
    # Then the same error propagates, now saying which message and where
    assert caught.value is error
    assert caught.value.message_uuid == UUID
    assert caught.value.region is Region.AP
    assert h.vonage.calls == [(UUID, Region.AP, DEADLINE)]


def test_vonage_rate_limit_keeps_its_retry_after() -> None:
    h = harness(vonage=FakeVonageMessages(error=VonageRateLimited("slow down", retry_after_s=7)))
    with pytest.raises(VonageRateLimited) as caught:
        revoke(h.service, request(region=Region.US), deadline=DEADLINE)
    assert caught.value.retry_after_s == 7
    assert caught.value.region is Region.US


def test_vonage_error_gets_the_agents_region() -> None:
    h = harness(
        agents={"agent-1": AgentRecord("agent-1", country="US")},
        vonage=FakeVonageMessages(error=MessageNotFound("gone")),
    )
    with pytest.raises(MessageNotFound) as caught:
        revoke(h.service, request(agent_id="agent-1"), deadline=DEADLINE)
    assert caught.value.region is Region.US


@pytest.mark.parametrize("deadline", [0.0, 1.5, DEADLINE, 9_999_999.25])
def test_deadline_is_passed_to_vonage_unchanged(deadline: float) -> None:
    h = harness()
    revoke(h.service, request(region=Region.EU), deadline=deadline)
    assert h.vonage.calls[0][2] == deadline


# --- the result ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "host"),
    [(Region.EU, "api-eu.nexmo.com"), (Region.US, "api-us.nexmo.com"), (Region.AP, "api-ap.nexmo.com")],
)
def test_result_as_dict_names_the_region_and_its_host(region: Region, host: str) -> None:
    h = harness()
    result = revoke(h.service, request(region=region), deadline=DEADLINE)
    assert result == RevocationAccepted(message_uuid=UUID, region=region, vonage_request_id=VONAGE_REQUEST_ID)
    assert result.host == host
    assert result.as_dict() == {
        "message_uuid": UUID,
        "status": "revocation_requested",
        "region": region.value,
        "host": host,
        "vonage_request_id": VONAGE_REQUEST_ID,
        "replayed": False,
        "fallback": None,
    }


def test_result_without_a_vonage_request_id_says_null() -> None:
    h = harness(vonage=FakeVonageMessages(request_id=None))
    result = revoke(h.service, request(region=Region.EU), deadline=DEADLINE)
    assert result.vonage_request_id is None
    assert result.as_dict()["vonage_request_id"] is None


# --- what the status callbacks taught --------------------------------------------------------------------
def test_a_request_naming_no_region_takes_the_agent_the_callbacks_named() -> None:
    from rcs_revoker.domain.lifecycle import MessageLife
    from rcs_revoker.domain.revocation import with_what_callbacks_taught

    h = harness(agents={"acme-sg": AgentRecord("acme-sg", country="SG")}, default_region=Region.EU)
    learned = with_what_callbacks_taught(request(), MessageLife(agent_id="acme-sg", submitted_at=NOW))
    revoke(h.service, learned, deadline=DEADLINE)
    assert h.vonage.calls == [(UUID, Region.AP, DEADLINE)]
    assert learned.sent_at == NOW


def test_explicit_fields_win_over_what_the_callbacks_taught() -> None:
    from rcs_revoker.domain.lifecycle import MessageLife
    from rcs_revoker.domain.revocation import with_what_callbacks_taught

    sent_at = NOW - timedelta(hours=1)
    given = request(country="US", sent_at=sent_at)
    learned = with_what_callbacks_taught(given, MessageLife(agent_id="acme-sg", submitted_at=NOW - timedelta(days=2)))
    assert learned == given


def test_a_window_counted_from_vonage_s_first_sight_refuses_an_old_message() -> None:
    from rcs_revoker.domain.lifecycle import MessageLife
    from rcs_revoker.domain.revocation import with_what_callbacks_taught

    h = harness(default_region=Region.EU)
    learned = with_what_callbacks_taught(request(), MessageLife(submitted_at=NOW - timedelta(hours=25)))
    with pytest.raises(RevocationWindowExpired):
        revoke(h.service, learned, deadline=DEADLINE)
    assert h.vonage.calls == []


# --- the Vonage application ------------------------------------------------------------------------------
def test_an_agent_of_a_served_application_is_revoked_with_that_applications_key() -> None:
    agents = {"brand-b-sg": AgentRecord("brand-b-sg", country="SG", application="brand-b")}
    h = harness(agents=agents, applications=frozenset({"brand-b"}))
    revoke(h.service, request(agent_id="brand-b-sg"), deadline=DEADLINE)
    revoke(h.service, request(region=Region.AP), deadline=DEADLINE)
    assert [call[1] for call in h.vonage.calls] == [Region.AP, Region.AP]
    assert h.vonage.applications == ["brand-b", None]  # a request by region alone is the default application's


def test_an_agent_of_an_application_the_stack_does_not_serve_is_a_misconfiguration_vonage_never_sees() -> None:
    agents = {"brand-c-us": AgentRecord("brand-c-us", region="us", application="brand-c")}
    h = harness(agents=agents, applications=frozenset({"brand-b"}))
    with pytest.raises(ServiceMisconfigured, match="'brand-c', which this stack does not serve"):
        revoke(h.service, request(agent_id="brand-c-us"), deadline=DEADLINE)
    assert h.vonage.calls == []
