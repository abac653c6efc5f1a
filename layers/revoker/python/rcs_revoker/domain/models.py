"""What a revocation request is, and what an accepted revocation returns."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rcs_revoker.domain.regions import Region

# Vonage revokes a message only within 24 hours of sending it.
REVOCATION_WINDOW: Final = timedelta(hours=24)
# The longest deferral: the message was sent before the request, so no later time can be in the window.
MAX_AFTER_SECONDS: Final = int(REVOCATION_WINDOW.total_seconds())


@dataclass(frozen=True, slots=True)
class TimerRequest:
    """When the sender asked for the revocation to happen: `after_seconds` from the request, or `at`."""

    after_seconds: int | None = None
    at: datetime | None = None

    def due_at(self, requested_at: datetime) -> datetime:
        if self.at is not None:
            return self.at
        return requested_at + timedelta(seconds=self.after_seconds or 0)

    def as_fields(self, requested_at: datetime) -> dict[str, Any]:
        """The timer as a queued item carries it: the due time fixed when the sender asked."""
        return {"at": self.due_at(requested_at).isoformat()}


@dataclass(frozen=True, slots=True)
class RevocationRequest:
    """A validated request: at most one of region, country and agent_id is set."""

    message_uuid: str
    region: Region | None = None
    country: str | None = None
    agent_id: str | None = None
    sent_at: datetime | None = None
    # The sender's own reference (as Vonage's client_ref) and a small JSON object, copied into every outcome
    # event of the message.
    client_ref: str | None = None
    metadata: dict[str, Any] | None = None
    # "Revoke unless delivered first": when the revocation is due (None: now).
    timer: TimerRequest | None = None

    def as_fields(self) -> dict[str, Any]:
        """The request as an event's detail names it, without the sender's reference (which the ledger
        record keeps) nor its timer: what the ledger stores to ask again after a crash, or when it is due."""
        fields: dict[str, Any] = {"message_uuid": self.message_uuid}
        if self.region is not None:
            fields["region"] = self.region.value
        elif self.country is not None:
            fields["country"] = self.country
        elif self.agent_id is not None:
            fields["agent_id"] = self.agent_id
        if self.sent_at is not None:
            fields["sent_at"] = self.sent_at.isoformat()
        return fields


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An RCS agent as stored in the agents table: where it was launched, and the Vonage application it
    belongs to (None: the stack's default application)."""

    agent_id: str
    region: str | None = None
    country: str | None = None
    application: str | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a revocation's PATCH goes: the region's host, signed with the key of a Vonage application (None:
    the stack's default one, whose secret is VONAGE_SECRET_ID)."""

    region: Region
    application: str | None = None


@dataclass(frozen=True, slots=True)
class RevocationAccepted:
    """Vonage accepted the revocation (2xx). Not a guarantee: a delivered message stays delivered."""

    message_uuid: str
    region: Region
    vonage_request_id: str | None
    # True when this answer repeats the stored outcome of an earlier request for the same message.
    replayed: bool = False

    @property
    def host(self) -> str:
        return self.region.host

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_uuid": self.message_uuid,
            "status": "revocation_requested",
            "region": self.region.value,
            "host": self.host,
            "vonage_request_id": self.vonage_request_id,
            "replayed": self.replayed,
            "fallback": None,  # not known until Vonage reports the message rejected or delivered
        }


@dataclass(frozen=True, slots=True)
class RevocationNotNeeded:
    """Vonage has already reported that the message will not reach the phone (rejected or undeliverable):
    nothing to revoke, so Vonage is not asked; the SMS must go out."""

    message_uuid: str
    delivery_status: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_uuid": self.message_uuid,
            "status": "will_not_be_delivered",
            "delivery_status": self.delivery_status,
            "fallback": True,
        }


@dataclass(frozen=True, slots=True)
class RevocationScheduled:
    """A deferred revocation recorded, its wake-up armed: Vonage will be asked at `due_at` unless a callback
    says first that the message was delivered (or will not be)."""

    message_uuid: str
    region: Region
    due_at: datetime
    timer_id: str
    # The due time this request replaced (the latest request wins), or None.
    replaced_due_at: datetime | None = None
    # True when the same timer was already scheduled (a repeat of the request): nothing changed.
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_uuid": self.message_uuid,
            "status": "revocation_scheduled",
            "due_at": self.due_at.isoformat(),
            "region": self.region.value,
            "host": self.region.host,
            "timer_id": self.timer_id,
            "replaced_due_at": self.replaced_due_at.isoformat() if self.replaced_due_at else None,
            "replayed": self.replayed,
            "fallback": None,  # not known until the timer fires or a callback says how the message ended
        }
