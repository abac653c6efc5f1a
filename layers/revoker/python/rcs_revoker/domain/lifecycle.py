"""A message's life as the ledger knows it, and what a status callback changes in it.

The ledger's `state` says where the revocation stands (`queued`, `requested`, `rejected`, `failed`, from
the request path) and, once Vonage has said what happened to the message, where the message stands:

- `revoked`: Vonage accepted the revocation, then reported `rejected` or `undeliverable`: the message will
  not reach the phone (fallback: send the SMS);
- `delivered`: Vonage reported `delivered` or `read`: it reached the phone (no fallback);
- `undelivered`: Vonage reported `rejected` or `undeliverable` with no revocation accepted: it will not
  reach the phone either (fallback);
- `sent`: known from callbacks only (`submitted`), nothing asked of this service yet.

A status only ever moves forward (rcs_revoker.domain.status_callbacks.STATUS_RANK), so a repeated or late
callback changes nothing. When a change ends a revocation that was asked for (any of the request path's
states), it carries the outcome a fallback acts on: `confirmed` (will not reach the phone) or `too_late`
(it did).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from rcs_revoker.domain.status_callbacks import STATUS_RANK, StatusCallback

REQUEST_STATES: Final = frozenset({"queued", "retrying", "requested", "rejected", "failed"})
FINAL_STATES: Final = frozenset({"revoked", "delivered", "undelivered"})
# Where a revocation asked of this service stops by itself: the message's fate is known (FINAL_STATES), or the
# revocation ended without Vonage accepting it (refused for good, out of retries, cancelled by the sender). A
# client waiting on the ledger stops there; the other states wait for this service (a queue, a retry, a
# timer) or for Vonage's next status callback (`requested`, `sent`).
SETTLED_STATES: Final = FINAL_STATES | {"rejected", "failed", "cancelled"}

Outcome = Literal["confirmed", "too_late"]


@dataclass(frozen=True, slots=True)
class MessageLife:
    """What the ledger holds of a message besides the revocation's own bookkeeping."""

    state: str | None = None
    delivery_status: str | None = None
    delivery_status_at: datetime | None = None
    submitted_at: datetime | None = None
    delivered_at: datetime | None = None
    agent_id: str | None = None

    @property
    def delivery_rank(self) -> int:
        return STATUS_RANK.get(self.delivery_status or "", 0)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The message's life after a callback, and the outcome that change publishes (None: no outcome)."""

    life: MessageLife
    outcome: Outcome | None


def apply_status(life: MessageLife, callback: StatusCallback) -> StatusChange | None:
    """The change a callback makes, or None when it says nothing new (a lower or equal rank, or a status
    this service does not use). What it teaches is kept even then: the agent and the first `submitted`."""
    learned = MessageLife(
        state=life.state,
        delivery_status=life.delivery_status,
        delivery_status_at=life.delivery_status_at,
        submitted_at=life.submitted_at or (callback.timestamp if callback.status == "submitted" else None),
        delivered_at=life.delivered_at,
        agent_id=life.agent_id or callback.agent_id,
    )
    if callback.rank <= life.delivery_rank:
        return StatusChange(learned, None) if learned != life else None
    state = _state_after(life.state, callback)
    moved = MessageLife(
        state=state,
        delivery_status=callback.status,
        delivery_status_at=callback.timestamp,
        submitted_at=learned.submitted_at,
        delivered_at=learned.delivered_at or (callback.timestamp if callback.delivered else None),
        agent_id=learned.agent_id,
    )
    return StatusChange(moved, _outcome(life.state, state))


def fallback_for(state: str | None) -> bool | None:
    """Must the SMS go out? True: the message will not reach the phone by RCS; False: it did; None: not
    known yet (a revocation accepted or pending, no final status since)."""
    if state == "delivered":
        return False
    if state in ("revoked", "undelivered"):
        return True
    return None


def is_settled(state: str | None) -> bool:
    """Has the revocation stopped (SETTLED_STATES): will its record move on only if something new is asked,
    or if Vonage reports a status of the message after a revocation that did not happen?"""
    return state in SETTLED_STATES


def _state_after(state: str | None, callback: StatusCallback) -> str | None:
    if callback.delivered:
        return "delivered"
    if callback.not_delivered:
        return "revoked" if state in ("requested", "revoked") else "undelivered"
    return state or "sent"


def _outcome(before: str | None, after: str | None) -> Outcome | None:
    if before not in REQUEST_STATES or after == before:
        return None
    if after in ("revoked", "undelivered"):
        return "confirmed"
    if after == "delivered":
        return "too_late"
    return None
