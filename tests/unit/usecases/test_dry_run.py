"""POST /dry-runs/revoke (usecases/dry_run.py): every step of a revocation proved against a made-up message UUID,
each reported, with nothing revoked and nothing recorded."""

import pytest

from rcs_revoker.domain.errors import (
    DependencyUnavailable,
    InvalidRequest,
    MessageNotFound,
    RevocationWindowExpired,
    ServiceMisconfigured,
    VonageCredentialsRejected,
)
from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService
from rcs_revoker.domain.validation import parse_revocation_fields
from rcs_revoker.usecases.dry_run import DryRunReport, DryRunRevocation
from tests.unit.usecases.conftest import NOW, Ports, invocation

PROBE = "3f0c5a52-98f4-4d0e-9e2a-7f1d2c3b4a59"


def dry_run(ports: Ports, body: object) -> DryRunReport:
    regions = RevocationService(agents=ports.agents, vonage=ports.vonage, default_region=None, clock=lambda: NOW)
    use_case = DryRunRevocation(regions=regions, vonage=ports.vonage, clock=lambda: NOW, new_probe_uuid=lambda: PROBE)
    return use_case(lambda probe: parse_revocation_fields(probe, body), invocation())


def steps(report: DryRunReport) -> list[tuple[str, bool, str | None]]:
    return [(step.step, step.ok, step.reason) for step in report.steps]


def test_vonage_s_404_for_the_made_up_message_proves_every_step(ports: Ports) -> None:
    ports.vonage.error = MessageNotFound("Vonage does not know the message.")

    report = dry_run(ports, {"country": "FR"})

    assert report.ok
    assert steps(report) == [
        ("validated", True, None),
        ("region", True, None),
        ("credentials", True, None),
        ("vonage", True, None),
    ]
    assert "from country FR" in report.steps[1].detail
    assert "answered 404" in report.steps[3].detail
    # Vonage was asked about the made-up UUID only, at the region's host; nothing else was touched
    assert [(uuid, region) for uuid, region, _ in ports.vonage.calls] == [(PROBE, Region.EU)]
    assert ports.ledger.stream == []
    assert report.as_dict()["host"] == "api-eu.nexmo.com"


def test_a_202_is_a_pass_too(ports: Ports) -> None:
    report = dry_run(ports, {"region": "us"})

    assert report.ok
    assert "answered 202" in report.steps[3].detail


def test_an_unknown_agent_stops_at_the_region_and_vonage_is_not_asked(ports: Ports) -> None:
    report = dry_run(ports, {"agent_id": "no-such-agent"})

    assert not report.ok
    assert steps(report) == [("validated", True, None), ("region", False, "unknown-agent")]
    assert ports.vonage.calls == []


def test_an_agent_of_the_table_is_resolved(ports: Ports) -> None:
    ports.agents.records["acme-sg-promotions"] = AgentRecord("acme-sg-promotions", region=None, country="SG")
    ports.vonage.error = MessageNotFound("unknown")

    report = dry_run(ports, {"agent_id": "acme-sg-promotions"})

    assert report.ok
    assert report.region is Region.AP
    assert "from agent acme-sg-promotions" in report.steps[1].detail


@pytest.mark.parametrize(
    "error",
    [
        ServiceMisconfigured("The Vonage credentials secret does not exist."),
        DependencyUnavailable("Secrets Manager did not return the Vonage credentials (ThrottlingException)."),
    ],
)
def test_a_secret_that_cannot_be_read_fails_the_credentials_step(ports: Ports, error: Exception) -> None:
    ports.vonage.error = error  # type: ignore[assignment]

    report = dry_run(ports, {"region": "eu"})

    assert not report.ok
    assert steps(report)[-1] == ("credentials", False, error.reason)  # type: ignore[attr-defined]
    assert report.steps[-1].detail == str(error)


def test_vonage_refusing_the_key_fails_the_vonage_step(ports: Ports) -> None:
    ports.vonage.error = VonageCredentialsRejected("Vonage answered 401 again after the secret was re-read.")

    report = dry_run(ports, {"region": "eu"})

    assert not report.ok
    assert steps(report)[-2:] == [("credentials", True, None), ("vonage", False, "vonage-credentials-rejected")]
    assert report.as_dict()["ok"] is False


def test_an_invalid_body_is_refused_naming_no_message(ports: Ports) -> None:
    with pytest.raises(InvalidRequest) as refused:
        dry_run(ports, {"region": "mars"})
    assert refused.value.message_uuid is None
    assert ports.vonage.calls == []


def test_a_sent_at_past_the_window_is_refused_as_the_revoke_route_refuses_it(ports: Ports) -> None:
    with pytest.raises(RevocationWindowExpired):
        dry_run(ports, {"region": "eu", "sent_at": "2026-01-15T08:00:00Z"})
    assert ports.vonage.calls == []
