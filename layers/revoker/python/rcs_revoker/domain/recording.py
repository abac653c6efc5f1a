"""What each thing that happens to a message writes to its ledger record, and which events that write
publishes: pure decisions, given the record as read (None: no record yet). A decision of None means the
record already says it (a replay, a repeated callback): nothing is written, nothing published twice.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.lifecycle import FINAL_STATES, MessageLife, apply_status, fallback_for
from rcs_revoker.domain.models import RevocationAccepted
from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    CONFIRMED_DETAIL_TYPE,
    FAILED_DETAIL_TYPE,
    QUEUED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    STATUS_DETAIL_TYPE,
    TOO_LATE_DETAIL_TYPE,
    OutcomeEvent,
)
from rcs_revoker.domain.status_callbacks import StatusCallback


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked, for the events of a request: the entry point, its correlation id, when it was asked, and
    the sender's own reference."""

    entry_point: str
    correlation_id: str
    requested_at: datetime
    client_ref: str | None = None
    metadata: dict[str, Any] | None = None


def queued(message_uuid: str, batch_id: str, context: RequestContext) -> OutcomeEvent:
    """The event of a message accepted into the bulk queue (the write itself is the ledger's mark_queued)."""
    return OutcomeEvent(
        QUEUED_DETAIL_TYPE,
        {
            "message_uuid": message_uuid,
            "state": "queued",
            "fallback": None,
            "batch_id": batch_id,
            **_sender(context.client_ref, context.metadata),
            **_request(context, None),
        },
    )


def accepted(
    record: LedgerRecord | None, result: RevocationAccepted, context: RequestContext, now: datetime
) -> LedgerWrite | None:
    """Vonage accepted the revocation (202)."""
    state = record.state if record else None
    if state == "requested":
        return None  # a replay of the accepted revocation: the record says it already
    entry = {"at": now.isoformat(), "event": "revocation-accepted", "vonage_request_id": result.vonage_request_id}
    fields: dict[str, Any] = {"region": result.region.value, "vonage_request_id": result.vonage_request_id}
    if record is not None and record.state == "undelivered":
        # Vonage reports the rejection a revocation causes as soon as it takes effect, which may be before
        # its 202 is written here: with the revocation accepted, the message was revoked.
        fields["state"] = "revoked"
    if record is not None and record.state in FINAL_STATES:
        # Vonage accepted, but its callbacks had already said how the message ended: that stays the state.
        return _ended_already(record, context, now, fields, entry, attempts=1)
    fields.update(state="requested", last_error=None, outcome="accepted", **_new_sender(record, context))
    write = LedgerWrite(result.message_uuid, _version(record), fields, (entry,), attempts=1)
    detail = {
        "outcome": "accepted",
        "region": result.region.value,
        "host": result.host,
        "vonage_request_id": result.vonage_request_id,
    }
    return write.with_events(_event(ACCEPTED_DETAIL_TYPE, record, write, detail, context=context, now=now))


def refused(
    record: LedgerRecord | None,
    message_uuid: str,
    error: RevocationError,
    context: RequestContext,
    now: datetime,
    *,
    final: bool,
) -> LedgerWrite | None:
    """The request ended without acceptance: permanently (`rejected`), or transiently (`failed` when no retry
    is left, else the state is kept, `retrying` when there was none, and the attempt counted)."""
    state = record.state if record else None
    if state == "requested" or state in FINAL_STATES:
        return None  # a late refusal never undoes an acceptance or the message's known end
    why = f"{error.reason}: {error.detail}"
    region = error.region.value if error.region else None
    entry = {"at": now.isoformat(), "event": "revocation-refused", "reason": error.reason, "transient": error.transient}
    fields: dict[str, Any] = {"last_error": why, **_new_sender(record, context)}
    if region:
        fields["region"] = region
    if error.transient and not final:
        fields["state"] = state or "retrying"
        return LedgerWrite(message_uuid, _version(record), fields, (entry,), attempts=1)
    new_state, detail_type = ("failed", FAILED_DETAIL_TYPE) if error.transient else ("rejected", REJECTED_DETAIL_TYPE)
    fields.update(state=new_state, outcome=new_state)
    write = LedgerWrite(message_uuid, _version(record), fields, (entry,), attempts=1)
    detail = {
        "outcome": "rejected",
        "reason": error.reason,
        "detail": error.detail,
        "region": region,
        "host": error.region.host if error.region else None,
        "transient": error.transient,
    }
    return write.with_events(_event(detail_type, record, write, detail, context=context, now=now))


def asked_after_the_end(record: LedgerRecord, context: RequestContext, now: datetime) -> LedgerWrite | None:
    """A revocation asked for a message whose end Vonage has already reported: Vonage is not asked; the
    outcome (too late, or confirmed: it will not reach the phone) is published once."""
    entry = {"at": now.isoformat(), "event": "revocation-not-sent", "reason": f"already {record.state}"}
    return _ended_already(record, context, now, {}, entry, attempts=0)


def status(record: LedgerRecord | None, callback: StatusCallback, body: dict[str, Any]) -> LedgerWrite | None:
    """A verified status callback (`body` as Vonage sent it). Forwarded once; moves the message's life on."""
    if record is not None and callback.callback_id in record.callbacks:
        return None  # the same callback again: changed and forwarded the first time
    life = record.life if record else MessageLife()
    change = apply_status(life, callback)
    after = change.life if change else life
    state = after.state or "sent"
    fields: dict[str, Any] = {
        "state": state,
        "agent_id": after.agent_id,
        "submitted_at": _iso(after.submitted_at),
        "delivery_status": after.delivery_status,
        "delivery_status_at": _iso(after.delivery_status_at),
        "delivered_at": _iso(after.delivered_at),
    }
    if change and change.life.delivery_status != life.delivery_status and callback.error:
        fields["vonage_error"] = dict(callback.error)
    if callback.client_ref and not (record and record.client_ref):
        fields["client_ref"] = callback.client_ref
    entry = {"at": callback.timestamp.isoformat(), "event": "status", "status": callback.status}
    write = LedgerWrite(callback.message_uuid, _version(record), fields, (entry,), callback_id=callback.callback_id)
    events = []
    if change and change.outcome is not None:
        outcome_type = CONFIRMED_DETAIL_TYPE if change.outcome == "confirmed" else TOO_LATE_DETAIL_TYPE
        write = replace(write, fields={**fields, "outcome": change.outcome})
        events.append(_event(outcome_type, record, write, _end_detail(change.outcome, after, callback)))
    status_detail = {
        "callback": body,
        "previous_status": life.delivery_status,
        "changed": change is not None and change.life.delivery_status != life.delivery_status,
    }
    events.append(_event(STATUS_DETAIL_TYPE, record, write, status_detail))
    return write.with_events(*events)


def _ended_already(
    record: LedgerRecord,
    context: RequestContext,
    now: datetime,
    fields: dict[str, Any],
    entry: dict[str, Any],
    *,
    attempts: int,
) -> LedgerWrite | None:
    outcome = "too_late" if record.state == "delivered" else "confirmed"
    if record.outcome == outcome:
        return LedgerWrite(record.message_uuid, record.version, fields, (entry,), attempts=attempts) if fields else None
    fields = {**fields, "outcome": outcome, **_new_sender(record, context)}
    write = LedgerWrite(record.message_uuid, record.version, fields, (entry,), attempts=attempts)
    detail_type = TOO_LATE_DETAIL_TYPE if outcome == "too_late" else CONFIRMED_DETAIL_TYPE
    end = _end_detail(outcome, record.life, None)
    return write.with_events(_event(detail_type, record, write, end, context=context, now=now))


def _end_detail(outcome: str, life: MessageLife, callback: StatusCallback | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "outcome": outcome,
        "delivery_status": life.delivery_status,
        "delivery_status_at": _iso(life.delivery_status_at),
    }
    if outcome == "too_late":
        detail["delivered_at"] = _iso(life.delivered_at)
    elif callback is not None and callback.error:
        detail["vonage_error"] = dict(callback.error)
    return detail


def _event(
    detail_type: str,
    record: LedgerRecord | None,
    write: LedgerWrite,
    detail: dict[str, Any],
    *,
    context: RequestContext | None = None,
    now: datetime | None = None,
) -> OutcomeEvent:
    state = write.fields.get("state", record.state if record else None)
    client_ref = write.fields.get("client_ref", record.client_ref if record else None)
    metadata = write.fields.get("metadata", record.metadata if record else None)
    return OutcomeEvent(
        detail_type,
        {
            "message_uuid": write.message_uuid,
            "state": state,
            "fallback": fallback_for(state),
            **detail,
            **_sender(client_ref, metadata),
            **_request(context, now),
        },
    )


def _sender(client_ref: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    return {"client_ref": client_ref, "metadata": metadata}


def _new_sender(record: LedgerRecord | None, context: RequestContext) -> dict[str, Any]:
    """The sender's reference to keep: the first one given wins, so that every event of a message carries
    the same one."""
    fields: dict[str, Any] = {}
    if context.client_ref is not None and not (record and record.client_ref):
        fields["client_ref"] = context.client_ref
    if context.metadata is not None and not (record and record.metadata):
        fields["metadata"] = context.metadata
    return fields


def _request(context: RequestContext | None, now: datetime | None) -> dict[str, Any]:
    if context is None:
        return {}
    return {
        "entry_point": context.entry_point,
        "correlation_id": context.correlation_id,
        "requested_at": context.requested_at.isoformat(),
        "completed_at": now.isoformat() if now else None,
    }


def _version(record: LedgerRecord | None) -> int | None:
    return record.version if record else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
