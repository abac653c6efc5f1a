"""Vonage Messages, in memory (VonageMessages): answers with a request id, or raises the errors it is given."""

from dataclasses import dataclass, field

from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.regions import Region

VONAGE_REQUEST_ID = "5b2c9a70-0000-4000-8000-00000000beef"


@dataclass
class FakeVonageMessages:
    """Each call takes the next of `errors` (None: accepted) and is recorded in `calls`."""

    request_id: str | None = VONAGE_REQUEST_ID
    error: RevocationError | None = None
    errors: list[RevocationError | None] = field(default_factory=list)
    calls: list[tuple[str, Region, float]] = field(default_factory=list)
    # The Vonage application of each call, in the order of `calls` (None: the default application).
    applications: list[str | None] = field(default_factory=list)

    def revoke(
        self, message_uuid: str, region: Region, *, deadline: float, application: str | None = None
    ) -> str | None:
        self.calls.append((message_uuid, region, deadline))
        self.applications.append(application)
        error = self.errors.pop(0) if self.errors else self.error
        if error is not None:
            raise error
        return self.request_id
