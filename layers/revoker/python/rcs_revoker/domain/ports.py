"""What the domain needs from the outside world, as small interfaces the adapters implement."""

from typing import Protocol

from rcs_revoker.domain.models import AgentRecord
from rcs_revoker.domain.regions import Region


class AgentDirectory(Protocol):
    def find(self, agent_id: str) -> AgentRecord | None:
        """The agent's record, or None when the agents table does not know it."""
        ...


class VonageMessages(Protocol):
    def revoke(self, message_uuid: str, region: Region, *, deadline: float) -> str | None:
        """Asks Vonage to revoke the message; returns Vonage's X-Request-Id.

        `deadline` is a `time.monotonic()` value: no attempt or back-off may run past it.
        Raises a RevocationError for every answer other than 2xx.
        """
        ...
