"""What each thing that happens to a message writes to its ledger record, and which events that write
publishes: pure decisions, given the record as read (None: no record yet). A decision of None means the
record already says it (a replay, a repeated callback): nothing is written, nothing published twice.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from rcs_revoker.domain.errors import RevocationError, VonageRateLimited
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite, redrive_due
from rcs_revoker.domain.lifecycle import FINAL_STATES, MessageLife, apply_status, fallback_for
from rcs_revoker.domain.models import REVOCATION_WINDOW, RevocationAccepted
from rcs_revoker.domain.outcome_events import (
    ACCEPTED_DETAIL_TYPE,
    CANCELLED_DETAIL_TYPE,
    CONFIRMED_DETAIL_TYPE,
    FAILED_DETAIL_TYPE,
    QUEUED_DETAIL_TYPE,
    REJECTED_DETAIL_TYPE,
    SCHEDULED_DETAIL_TYPE,
    STATUS_DETAIL_TYPE,
    TOO_LATE_DETAIL_TYPE,
    OutcomeEvent,
)
from rcs_revoker.domain.regions import Region, parse_region
from rcs_revoker.domain.status_callbacks import StatusCallback
from rcs_revoker.domain.timers import (
    BACKSTOP,
    Timer,
    TimerEnd,
    TimerEnded,
    TimerFiring,
    WakeUpPlan,
    ended,
    is_pending,
    timer_fields,
)

# A deferred revocation may be asked while nothing of a revocation is under way: these states are.
UNDER_WAY_STATES: Final = frozenset({"queued", "revoking", "retrying", "requested"})


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked, for the events of a request: the entry point, its correlation id, when it was asked, and
    the sender's own reference."""

    entry_point: str
    correlation_id: str
    requested_at: datetime
    client_ref: str | None = None
    metadata: dict[str, Any] | None = None
    # The request's fields (RevocationRequest.as_fields()), kept while the record waits, to be asked again.
    request: dict[str, Any] | None = None
    # The timer's wake-up that asks this revocation: its first write ends the timer `fired` (see asking).
    firing: TimerFiring | None = None


def queued(
    record: LedgerRecord | None, message_uuid: str, batch_id: str, context: RequestContext
) -> LedgerWrite | None:
    """A message put on the bulk queue; None when Vonage already accepted its revocation or reported its end
    (it is not queued again), or when this batch already recorded it queued (a retried write that was made:
    its Queued event is published once)."""
    if record is not None and (record.state == "requested" or record.state in FINAL_STATES):
        return None
    if record is not None and record.state == "queued" and record.batch_id == batch_id:
        return None
    entry = {"at": context.requested_at.isoformat(), "event": "queued", "batch_id": batch_id}
    fields: dict[str, Any] = {
        "state": "queued",
        "batch_id": batch_id,
        "last_error": None,
        "request": context.request,
        **_new_sender(record, context),
        **_timer_ended(record, "revoked-now", context.requested_at),
    }
    write = LedgerWrite(message_uuid, _version(record), fields, (entry,))
    return write.with_events(_event(QUEUED_DETAIL_TYPE, record, write, {"batch_id": batch_id}, context=context))


def to_ask_again(request: dict[str, Any], region: str | None) -> dict[str, Any]:
    """The request as the ledger keeps it to ask again (a timer, a re-drive): with the region it resolved to
    pinned, in place of the country that gave it; a request that names an agent keeps naming it instead,
    since the agent's record gives the Vonage application (and key) as well as the region. (The region
    beside the agent made a valid request invalid: "exactly one of region, country or agent_id".)"""
    if region is None or "agent_id" in request:
        return request
    return {**{name: value for name, value in request.items() if name != "country"}, "region": region}


def asking(
    record: LedgerRecord | None, message_uuid: str, region: str, context: RequestContext, now: datetime
) -> LedgerWrite:
    """Vonage is about to be asked (the write-ahead): counted as an attempt, and `revoking` unless the record
    already waits for a delivery of ours (`queued`, `retrying`) or knows more (accepted, or ended). Publishes
    nothing: it is not an outcome, but what lets a crash before the outcome be finished.

    A timer's firing (`context.firing`) ends its timer `fired` in this same write: versioned like every write,
    so that a `delivered` callback or a DELETE landing at the same moment either lands first, and then this
    raises TimerEnded (Vonage is not asked), or finds the revocation asked."""
    if context.firing is not None and timer_action(record, context.firing.timer) == "ignore":
        raise TimerEnded(message_uuid, record.state if record else "gone")
    fired, fired_entries = _firing(record, context, now)
    entry = {"at": now.isoformat(), "event": "vonage-asked", "region": region, "entry_point": context.entry_point}
    fields: dict[str, Any] = {"region": region, **_new_sender(record, context)}
    state = record.state if record else None
    if state not in ("queued", "retrying", "requested") and state not in FINAL_STATES:
        fields["state"] = "revoking"
    if context.request is not None and state not in FINAL_STATES:
        fields["request"] = to_ask_again(context.request, region)
    # Asked now: a timer still pending is not needed any more (its wake-up will find it ended).
    fields.update(fired or _timer_ended(record, "revoked-now", now))
    return LedgerWrite(message_uuid, _version(record), fields, (*fired_entries, entry), attempts=1)


def accepted(
    record: LedgerRecord | None, result: RevocationAccepted, context: RequestContext, now: datetime
) -> LedgerWrite | None:
    """Vonage accepted the revocation (202)."""
    state = record.state if record else None
    if state == "requested":
        return None  # a replay of the accepted revocation: the record says it already
    # A replayed outcome (the write-ahead was not made): the firing timer ends here.
    fired, fired_entries = _firing(record, context, now)
    entry = {"at": now.isoformat(), "event": "revocation-accepted", "vonage_request_id": result.vonage_request_id}
    entries = (*fired_entries, entry)
    fields: dict[str, Any] = {
        "region": result.region.value,
        "vonage_request_id": result.vonage_request_id,
        **fired,
    }
    if record is not None and record.state == "undelivered":
        # Vonage reports the rejection a revocation causes as soon as it takes effect, which may be before
        # its 202 is written here: with the revocation accepted, the message was revoked.
        fields["state"] = "revoked"
    if record is not None and record.state in FINAL_STATES:
        # Vonage accepted, but its callbacks had already said how the message ended: that stays the state.
        return _ended_already(record, context, now, fields, entries)
    fields.update(state="requested", last_error=None, outcome="accepted", **_new_sender(record, context))
    write = LedgerWrite(result.message_uuid, _version(record), fields, entries)
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
    """The request ended without acceptance: permanently (`rejected`), or transiently: `retrying` while a
    retry is to come (`final` False, or an API request's failure while a queued or retrying delivery of the
    message is still to come), `failed` only when none is left. (Attempts were counted when Vonage was asked.)"""
    state = record.state if record else None
    if state == "requested" or state in FINAL_STATES:
        return None  # a late refusal never undoes an acceptance or the message's known end
    # The timer a wake-up fires ends with its refusal (refused before Vonage was asked, or replayed).
    fired, fired_entries = _firing(record, context, now)
    if state == "scheduled" and record is not None and is_pending(record.timer) and not fired:
        return None  # a refused request (before Vonage was asked) leaves the pending timer as it was
    why = f"{error.reason}: {error.detail}"
    region = error.region.value if error.region else None
    entry = {"at": now.isoformat(), "event": "revocation-refused", "reason": error.reason, "transient": error.transient}
    entries = (*fired_entries, entry)
    fields: dict[str, Any] = {"last_error": why, **_new_sender(record, context), **fired}
    if region:
        fields["region"] = region
    another_delivery = context.entry_point == "api" and state in ("queued", "retrying")
    # Off the API, a rate-limited request waits on the queue for its turn (usecases.revoke_queued): never final.
    waits_on_queue = isinstance(error, VonageRateLimited) and context.entry_point != "api"
    if error.transient and (not final or another_delivery or waits_on_queue):
        fields["state"] = state if another_delivery else "retrying"
        if context.request is not None:
            fields["request"] = to_ask_again(context.request, region)
        return LedgerWrite(message_uuid, _version(record), fields, entries)
    new_state, detail_type = ("failed", FAILED_DETAIL_TYPE) if error.transient else ("rejected", REJECTED_DETAIL_TYPE)
    fields.update(state=new_state, outcome=new_state)
    write = LedgerWrite(message_uuid, _version(record), fields, entries)
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
    return _ended_already(record, context, now, {}, (entry,))


def redriven(record: LedgerRecord, now: datetime, *, max_redrives: int) -> tuple[LedgerWrite, dict[str, Any] | None]:
    """A record left waiting past its time (a crash, a lost retry): asked again, with the request to send back
    to the queue, each time later (doubling); failed, with its outcome, when it has been asked `max_redrives`
    times, when Vonage's window has closed, or when nothing says what to ask."""
    entry: dict[str, Any] = {"at": now.isoformat(), "event": "redriven", "from_state": record.state}
    request = record.request or (
        {"message_uuid": record.message_uuid, "region": record.region} if record.region else None
    )
    window_closed = now - datetime.fromisoformat(record.created_at) > REVOCATION_WINDOW
    if request is not None and record.redrives < max_redrives and not window_closed:
        due = redrive_due(record.state, now)
        wait = (due - now) * 2 ** (record.redrives + 1) if due else None
        fields = {"redrives": record.redrives + 1, "redrive_at": now + wait if wait else None}
        return LedgerWrite(record.message_uuid, record.version, fields, (entry,)), request
    if window_closed:
        why = "Vonage's 24-hour window closed before the revocation could be finished."
    elif request is None:
        why = "The ledger keeps no request to ask again."
    else:
        why = f"Left {record.state} after {record.redrives} re-drives; a person should look at it."
    fields = {"state": "failed", "outcome": "failed", "last_error": f"abandoned: {why}"}
    write = LedgerWrite(record.message_uuid, record.version, fields, ({**entry, "event": "abandoned"},))
    region = parse_region(record.region) if record.region else None
    detail = {
        "outcome": "rejected",
        "reason": "abandoned",
        "detail": why,
        "region": record.region,
        "host": region.host if region else None,
        "transient": True,
    }
    return write.with_events(_event(FAILED_DETAIL_TYPE, record, write, detail)), None


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
    if record is not None and record.state == state:
        # A callback that leaves the state as it was (a `submitted`) does not move the record on: its re-drive
        # time (a scheduled record's due time plus the backstop) stays.
        fields["redrive_at"] = record.redrive_at
    if change and change.life.delivery_status != life.delivery_status and callback.error:
        fields["vonage_error"] = dict(callback.error)
    if callback.client_ref and not (record and record.client_ref):
        fields["client_ref"] = callback.client_ref
    entry = {"at": callback.timestamp.isoformat(), "event": "status", "status": callback.status}
    write = LedgerWrite(callback.message_uuid, _version(record), fields, (entry,), callback_id=callback.callback_id)
    events = []
    if record is not None and record.state == "scheduled" and state in FINAL_STATES and is_pending(record.timer):
        # Delivered (or reported undeliverable) before the due time: the timer ends, Vonage is never asked.
        how: TimerEnd = "delivered" if state == "delivered" else "undelivered"
        ends = _timer_ended(record, how, callback.timestamp)
        write = replace(write, fields={**fields, **ends, "outcome": "cancelled"})
        cancel = {**_end_detail("cancelled", after, callback), **_timer_detail(record.timer), "reason": how}
        events.append(_event(CANCELLED_DETAIL_TYPE, record, write, cancel))
    elif change and change.outcome is not None:
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


def scheduled(
    record: LedgerRecord | None,
    timer: Timer,
    plan: WakeUpPlan,
    region: Region,
    *,
    context: RequestContext,
    now: datetime,
) -> LedgerWrite:
    """A deferred revocation recorded (its wake-up is armed after this write: a crash between the two leaves
    the reconciler's backstop to fire it). Replaces a pending timer: the latest request wins."""
    previous = record.timer if record is not None and is_pending(record.timer) else None
    replaced_due_at = previous["due_at"] if previous else None
    entry = {
        "at": now.isoformat(),
        "event": "scheduled",
        "timer_id": timer.timer_id,
        "due_at": timer.due_at.isoformat(),
        "replaced_due_at": replaced_due_at,
    }
    fields: dict[str, Any] = {
        "state": "scheduled",
        "region": region.value,
        "timer": timer_fields(timer, plan, now),
        "request": to_ask_again(context.request or {"message_uuid": timer.message_uuid}, region.value),
        "last_error": None,
        "outcome": None,
        "redrives": 0,
        "redrive_at": timer.due_at + BACKSTOP,
        **_new_sender(record, context),
    }
    write = LedgerWrite(timer.message_uuid, _version(record), fields, (entry,))
    detail = {
        "outcome": "scheduled",
        "due_at": timer.due_at.isoformat(),
        "timer_id": timer.timer_id,
        "replaced_due_at": replaced_due_at,
        "region": region.value,
        "host": region.host,
    }
    return write.with_events(_event(SCHEDULED_DETAIL_TYPE, record, write, detail, context=context, now=now))


TimerAction = Literal["fire", "finish", "ignore"]


def timer_action(record: LedgerRecord | None, timer: Timer) -> TimerAction:
    """What a timer's wake-up does, by the record it finds: `fire` a timer still pending on a `scheduled`
    record; `finish` the revocation of one it fired that failed transiently; else `ignore` (a delivered or
    undeliverable message, a cancelled or replaced timer, a revocation asked meanwhile: see
    rcs_revoker.domain.timers)."""
    if record is None or not _names(record, timer):
        return "ignore"
    if record.state == "scheduled" and is_pending(record.timer):
        return "fire"
    if (record.timer or {}).get("ended") == "fired" and record.state in ("revoking", "retrying") and record.request:
        return "finish"
    return "ignore"


def timer_fired(record: LedgerRecord, firing: TimerFiring, now: datetime) -> LedgerWrite | None:
    """The timer fires on its own write, before its revocation is asked (a revocation that waits on the bulk
    queue for a rate limit to pass: it is asked later, by the worker). None when the record says it does not
    fire. (A revocation asked now carries this in its write-ahead: `asking` with `RequestContext.firing`.)"""
    if timer_action(record, firing.timer) != "fire":
        return None
    fields, entries = _fired(record, firing, now)
    return LedgerWrite(record.message_uuid, record.version, {"state": "revoking", **fields}, entries)


def timer_woke_after_its_end(record: LedgerRecord, timer: Timer, now: datetime) -> LedgerWrite | None:
    """A wake-up for a timer that had already ended (delivered, cancelled, replaced): nothing is done but
    recording that it came, once."""
    if not _names(record, timer) or is_pending(record.timer) or (record.timer or {}).get("woke_at"):
        return None
    entry = {"at": now.isoformat(), "event": "timer-woke", "timer_id": timer.timer_id, "found": record.state}
    return LedgerWrite(
        record.message_uuid, record.version, {"timer": {**(record.timer or {}), "woke_at": now.isoformat()}}, (entry,)
    )


def cancelled(record: LedgerRecord, context: RequestContext, now: datetime) -> LedgerWrite | None:
    """The sender cancelled the scheduled revocation (DELETE): None when there is no pending one to cancel."""
    if record.state != "scheduled" or not is_pending(record.timer):
        return None
    entry = {"at": now.isoformat(), "event": "timer-cancelled", "timer_id": (record.timer or {}).get("timer_id")}
    fields = {"state": "cancelled", "timer": ended(record.timer, "cancelled", now), "outcome": "cancelled"}
    write = LedgerWrite(record.message_uuid, record.version, fields, (entry,))
    detail = {**_timer_detail(record.timer), "outcome": "cancelled", "reason": "cancelled"}
    return write.with_events(_event(CANCELLED_DETAIL_TYPE, record, write, detail, context=context, now=now))


def _names(record: LedgerRecord, timer: Timer) -> bool:
    return record.timer is not None and record.timer.get("timer_id") == timer.timer_id


def _firing(
    record: LedgerRecord | None, context: RequestContext, now: datetime
) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The fields and timeline entry that end the timer this request's wake-up fires, while the record still
    has it pending (nothing otherwise: not a timer's firing, or the timer fired already)."""
    firing = context.firing
    if firing is None or timer_action(record, firing.timer) != "fire":
        return {}, ()
    assert record is not None  # noqa: S101 - "fire" is decided on a record
    return _fired(record, firing, now)


def _fired(
    record: LedgerRecord, firing: TimerFiring, now: datetime
) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The timer ended `fired`, late by as much as its wake-up was (TimerFiring.late_ms)."""
    late_ms = firing.late_ms
    entry = {"at": now.isoformat(), "event": "timer-fired", "timer_id": firing.timer.timer_id, "late_ms": late_ms}
    return {"timer": {**(ended(record.timer, "fired", now) or {}), "late_ms": late_ms}}, (entry,)


def _timer_detail(timer: dict[str, Any] | None) -> dict[str, Any]:
    return {"timer_id": (timer or {}).get("timer_id"), "due_at": (timer or {}).get("due_at")}


def _timer_ended(record: LedgerRecord | None, how: TimerEnd, now: datetime) -> dict[str, Any]:
    """The fields that end the record's pending timer, if it has one: a revocation asked now supersedes it."""
    if record is None or not is_pending(record.timer):
        return {}
    return {"timer": ended(record.timer, how, now)}


def _ended_already(
    record: LedgerRecord,
    context: RequestContext,
    now: datetime,
    fields: dict[str, Any],
    entries: tuple[dict[str, Any], ...],
) -> LedgerWrite | None:
    outcome = "too_late" if record.state == "delivered" else "confirmed"
    if record.outcome == outcome:
        return LedgerWrite(record.message_uuid, record.version, fields, entries) if fields else None
    fields = {**fields, "outcome": outcome, **_new_sender(record, context)}
    write = LedgerWrite(record.message_uuid, record.version, fields, entries)
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
