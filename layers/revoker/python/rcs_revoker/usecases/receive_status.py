"""POST /webhooks/vonage/status: a status callback from Vonage, verified, then written into the message's
ledger record, which forwards it (and any outcome it ends in) through the ledger's stream."""

import json
from collections.abc import Mapping

from rcs_revoker.domain import recording
from rcs_revoker.domain.errors import DependencyUnavailable, InvalidStatusCallback
from rcs_revoker.domain.ledger import LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import Ledger, TimerWakeUps, WebhookVerifier
from rcs_revoker.domain.status_callbacks import StatusCallback, parse_status_callback
from rcs_revoker.domain.timers import Timer, is_pending
from rcs_revoker.observability import count, logger
from rcs_revoker.usecases.ledger_writes import write_record


class ReceiveStatusCallback:
    """`ledger` None: callbacks are verified and acknowledged, nothing is kept (a deployment without ledger)."""

    def __init__(
        self, *, verifier: WebhookVerifier, ledger: Ledger | None, wake_ups: TimerWakeUps | None = None
    ) -> None:
        self._verifier = verifier
        self._ledger = ledger
        self._wake_ups = wake_ups

    def __call__(self, headers: Mapping[str, str], body: bytes) -> StatusCallback | None:
        """The callback as recorded, or None for a verified body this service cannot read (acknowledged all the
        same: Vonage would only send it again). Raises WebhookUnauthorized, and DependencyUnavailable when
        the ledger did not take it (Vonage retries what is not acknowledged)."""
        self._verifier.verify(headers, body)
        try:
            payload = json.loads(body)
            callback = parse_status_callback(payload)
        except (ValueError, RecursionError, InvalidStatusCallback) as error:
            detail = error.detail if isinstance(error, InvalidStatusCallback) else "The body is not valid JSON."
            logger.error("status callback not readable; acknowledged", extra={"detail": detail})
            count("StatusCallbacksUnreadable")
            return None
        count("StatusCallbacksReceived")
        logger.info(
            "status callback",
            extra={"message_uuid": callback.message_uuid, "status": callback.status, "channel": callback.channel},
        )
        if self._ledger is None:
            return callback
        ended_timer: list[Timer] = []

        def decide(record: LedgerRecord | None) -> LedgerWrite | None:
            write = recording.status(record, callback, payload)
            ended_timer[:] = _schedule_ended(record, write)
            return write

        if not write_record(self._ledger, callback.message_uuid, decide):
            raise DependencyUnavailable(
                "The ledger did not take the status callback; Vonage will send it again.",
                message_uuid=callback.message_uuid,
            )
        if ended_timer and self._wake_ups is not None:
            self._wake_ups.forget(ended_timer[0])  # delivered before a long timer's schedule fired
        return callback


def _schedule_ended(record: LedgerRecord | None, write: LedgerWrite | None) -> list[Timer]:
    """The timer whose schedule this write makes useless: a pending one, woken by a schedule, that it ends."""
    timer = record.timer if record is not None else None
    if write is None or timer is None or not is_pending(timer) or timer.get("wake_up") != "schedule":
        return []
    if is_pending(write.fields.get("timer", timer)):
        return []
    return [Timer.kept(write.message_uuid, timer)]
