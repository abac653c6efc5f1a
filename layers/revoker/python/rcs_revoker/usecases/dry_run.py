"""POST /dry-runs/revoke: everything a revocation needs, proved step by step, without revoking anything.

The smoke test after a deploy (`rcs-revoker smoke`, `make smoke STACK=...`): the request is validated as a
revocation would be, its region resolved (an agent looked up in the agents table), the Vonage credentials read
from Secrets Manager and an RS256 JWT signed, and Vonage asked, at the region's host, to revoke a message UUID
made up for the purpose: Vonage answers 404 for it (the JWT was accepted; a 401 or 403 would say the secret is
wrong). No real message is touched (a random version-4 UUID names no message), and nothing is recorded: no
idempotency record, no ledger entry, so no outcome event reaches a subscriber.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcs_revoker.domain.errors import DependencyUnavailable, MessageNotFound, RevocationError, ServiceMisconfigured
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.ports import VonageMessages
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.revocation import RevocationService, check_window
from rcs_revoker.invocation import Invocation
from rcs_revoker.observability import count, logger


@dataclass(frozen=True, slots=True)
class DryRunStep:
    step: str  # validated | region | credentials | vonage
    ok: bool
    detail: str
    reason: str | None = None  # the problem's reason when the step failed

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "ok": self.ok, "detail": self.detail, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DryRunReport:
    probe_message_uuid: str
    steps: list[DryRunStep] = field(default_factory=list)
    region: Region | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "ok": self.ok,
            "probe_message_uuid": self.probe_message_uuid,
            "region": self.region.value if self.region else None,
            "host": self.region.host if self.region else None,
            "steps": [step.as_dict() for step in self.steps],
        }


def _credentials_read(application: str | None) -> DryRunStep:
    """Vonage answered at all: the secret was read and the JWT signed before the request went out."""
    whose = "the default Vonage application" if application is None else f"the Vonage application {application!r}"
    return DryRunStep("credentials", True, f"The credentials of {whose} were read and a JWT signed.")


class DryRunRevocation:
    def __init__(
        self,
        *,
        regions: RevocationService,
        vonage: VonageMessages,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_probe_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._regions = regions
        self._vonage = vonage
        self._clock = clock
        self._new_probe_uuid = new_probe_uuid

    def __call__(self, read_request: Callable[[str], RevocationRequest], invocation: Invocation) -> DryRunReport:
        """`read_request(probe_uuid)` parses the body as a revocation of the probe UUID; an invalid request
        raises InvalidRequest (a 400, as the real route answers). Every later step is reported, not raised."""
        count("DryRuns")
        probe = self._new_probe_uuid()
        try:
            request = read_request(probe)
            check_window(request, self._clock())
        except RevocationError as error:
            error.message_uuid = None  # the made-up UUID is not the caller's: a 400 or 422 names no message
            raise
        steps = [DryRunStep("validated", True, "The request is valid as a revocation request.")]
        try:
            destination = self._regions.resolve(request)
        except RevocationError as error:
            return self._report(probe, [*steps, _failed("region", error)], None)
        region = destination.region
        steps.append(DryRunStep("region", True, f"Vonage region {region.value}: {region.host}{_source(request)}."))
        try:
            vonage_request_id = self._vonage.revoke(
                probe, region, deadline=invocation.vonage_deadline, application=destination.application
            )
        except MessageNotFound:
            vonage_request_id = None
        except (ServiceMisconfigured, DependencyUnavailable) as error:
            # Raised before anything is sent: the secret could not be read, or does not hold a usable key.
            return self._report(probe, [*steps, _failed("credentials", error)], region)
        except RevocationError as error:
            return self._report(
                probe, [*steps, _credentials_read(destination.application), _failed("vonage", error)], region
            )
        answered = "404 for it" if vonage_request_id is None else f"202 (request {vonage_request_id})"
        steps += [
            _credentials_read(destination.application),
            DryRunStep(
                "vonage",
                True,
                f"{region.host} accepted this stack's JWT: asked to revoke the made-up message {probe}, it "
                f"answered {answered}.",
            ),
        ]
        return self._report(probe, steps, region)

    @staticmethod
    def _report(probe: str, steps: list[DryRunStep], region: Region | None) -> DryRunReport:
        report = DryRunReport(probe, steps, region)
        log = logger.info if report.ok else logger.warning
        log("dry run", extra={"dry_run_ok": report.ok, "steps": [step.as_dict() for step in steps]})
        return report


def _failed(step: str, error: RevocationError) -> DryRunStep:
    return DryRunStep(step, False, error.detail, error.reason)


def _source(request: RevocationRequest) -> str:
    if request.region is not None:
        return ", as asked"
    if request.country is not None:
        return f", from country {request.country}"
    if request.agent_id is not None:
        return f", from agent {request.agent_id} in the agents table"
    return ", the deployment's DEFAULT_REGION"
