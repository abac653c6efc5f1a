"""The one loop that writes a ledger record: read, decide (a pure rule of rcs_revoker.domain.recording), write
if the record has not moved on since it was read; when it has, read again and decide again."""

from collections.abc import Callable

from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import MAX_CONFLICTS, LedgerRecord, LedgerWrite
from rcs_revoker.domain.ports import Ledger
from rcs_revoker.observability import count, logger

Decision = Callable[[LedgerRecord | None], LedgerWrite | None]


def write_record(
    ledger: Ledger, message_uuid: str, decide: Decision, *, known: LedgerRecord | None = None, read: bool = False
) -> bool:
    """Writes what `decide` says of the current record (None: nothing to write); False when it could not be
    written (DynamoDB down, or too many conflicts), already logged and counted. With `read`, `known` is the
    record as the caller has just read it (None: there is none), saving a read."""
    try:
        record = known if read else ledger.get(message_uuid)
        for _ in range(MAX_CONFLICTS):
            write = decide(record)
            if write is None or ledger.save(write):
                return True
            count("LedgerWriteConflicts")
            record = ledger.get(message_uuid)
    except DependencyUnavailable as error:
        count("LedgerWriteFailures")
        logger.error("ledger not written", extra={"message_uuid": message_uuid, "detail": error.detail})
        return False
    count("LedgerWriteFailures")
    logger.error("ledger not written: the record kept changing", extra={"message_uuid": message_uuid})
    return False
