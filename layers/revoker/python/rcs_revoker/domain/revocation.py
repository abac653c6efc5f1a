"""The revocation rules: the 24-hour window, where a message's region comes from, the call to Vonage."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final

from rcs_revoker.domain.errors import (
    InvalidRequest,
    NoRegionSource,
    RevocationError,
    RevocationWindowExpired,
    SentAtInFuture,
    ServiceMisconfigured,
    UnknownAgent,
)
from rcs_revoker.domain.lifecycle import MessageLife
from rcs_revoker.domain.models import REVOCATION_WINDOW, Destination, RevocationAccepted, RevocationRequest
from rcs_revoker.domain.ports import AgentDirectory, VonageMessages
from rcs_revoker.domain.regions import Region, parse_region, region_for_country

# A sender's clock may run ahead of ours; a sent_at this far in the future is still believed.
CLOCK_SKEW: Final = timedelta(minutes=5)


class RevocationService:
    def __init__(
        self,
        *,
        agents: AgentDirectory,
        vonage: VonageMessages,
        default_region: Region | None,
        applications: frozenset[str] = frozenset(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._agents = agents
        self._vonage = vonage
        self._default_region = default_region
        # The Vonage applications served besides the default one (VONAGE_APPLICATIONS).
        self._applications = applications
        self._clock = clock

    def destination(self, request: RevocationRequest) -> Destination:
        """Where to ask, once the window is checked: what is decided before Vonage is asked. Raises
        RevocationError (naming the message)."""
        try:
            check_window(request, self._clock())
            return self.resolve(request)
        except RevocationError as error:
            error.message_uuid, error.region = request.message_uuid, None
            raise

    def ask(self, request: RevocationRequest, destination: Destination, *, deadline: float) -> RevocationAccepted:
        """Asks Vonage to revoke the message at its destination; raises RevocationError (naming the message
        and region)."""
        try:
            request_id = self._vonage.revoke(
                request.message_uuid, destination.region, deadline=deadline, application=destination.application
            )
        except RevocationError as error:
            error.message_uuid, error.region = request.message_uuid, destination.region
            raise
        return RevocationAccepted(
            message_uuid=request.message_uuid, region=destination.region, vonage_request_id=request_id
        )

    def resolve_region(self, request: RevocationRequest) -> Region:
        return self.resolve(request).region

    def resolve(self, request: RevocationRequest) -> Destination:
        """The region as given, else the country's, else the agent's, else the default; the application is
        the agent's (a request that names no agent is the default application's)."""
        if request.region is not None:
            return Destination(request.region)
        if request.country is not None:
            return Destination(self._country_region(request.country))
        if request.agent_id is not None:
            return self._agent_destination(request.agent_id)
        if self._default_region is not None:
            return Destination(self._default_region)
        raise NoRegionSource

    def _country_region(self, country: str) -> Region:
        region = region_for_country(country)
        if region is None:
            raise InvalidRequest(f"Unknown country {country!r}; expected an ISO 3166-1 alpha-2 code.")
        return region

    def _agent_destination(self, agent_id: str) -> Destination:
        agent = self._agents.find(agent_id)
        if agent is None:
            raise UnknownAgent(f"The agents table has no RCS agent {agent_id!r}.")
        if agent.application is not None and agent.application not in self._applications:
            # Its messages were sent with another application's key: this stack's would get a 401 or a 404.
            raise ServiceMisconfigured(
                f"The RCS agent {agent_id!r} belongs to the Vonage application {agent.application!r}, which this "
                "stack does not serve (its VonageApplications parameter)."
            )
        if agent.region is not None and (region := parse_region(agent.region)) is not None:
            return Destination(region, agent.application)
        if agent.country is not None and (region := region_for_country(agent.country)) is not None:
            return Destination(region, agent.application)
        raise ServiceMisconfigured(
            f"The agents table's record for {agent_id!r} has no valid region or country attribute."
        )


def with_what_callbacks_taught(request: RevocationRequest, life: MessageLife | None) -> RevocationRequest:
    """The request, completed from the message's status callbacks: the agent they named when the request
    names no region, country or agent (explicit fields win), and when Vonage first saw the message when the
    request gives no sent_at."""
    if life is None:
        return request
    names_no_region = request.region is None and request.country is None and request.agent_id is None
    return replace(
        request,
        agent_id=life.agent_id if names_no_region and life.agent_id else request.agent_id,
        sent_at=request.sent_at or life.submitted_at,
    )


def check_region_source(request: RevocationRequest, default_region: Region | None) -> None:
    """A request names where its agent was launched (region, country or agent), or the deployment has a
    default region; else nothing can say which host to call."""
    if default_region is None and request.region is None and request.country is None and request.agent_id is None:
        raise NoRegionSource


def check_window(request: RevocationRequest, now: datetime) -> None:
    """Vonage only revokes within 24 hours of sending: past that, don't call it at all."""
    if request.sent_at is None:
        return
    age = now - request.sent_at
    if age > REVOCATION_WINDOW:
        raise RevocationWindowExpired(
            f"The message was sent at {request.sent_at.isoformat()}, more than 24 hours ago; "
            "Vonage can no longer revoke it."
        )
    if age < -CLOCK_SKEW:
        raise SentAtInFuture(
            f"sent_at {request.sent_at.isoformat()} is in the future (more than "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead of this service's clock)."
        )
