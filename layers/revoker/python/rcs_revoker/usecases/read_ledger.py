"""The status routes: what the ledger knows of one message (GET /revocations/{message_uuid}) or of one batch
(GET /batches/{batch_id})."""

from typing import Any

from rcs_revoker.domain.errors import InvalidRequest, RecordNotFound, ServiceMisconfigured
from rcs_revoker.domain.ports import Ledger
from rcs_revoker.domain.validation import is_canonical_uuid, parse_message_uuid, shorten
from rcs_revoker.observability import count


class ReadLedger:
    """`ledger` None: the deployment has no ledger, and both reads answer 500."""

    def __init__(self, ledger: Ledger | None) -> None:
        self._ledger = ledger

    def revocation(self, message_uuid: str) -> dict[str, Any]:
        count("RecordLookups")
        uuid_ = parse_message_uuid(message_uuid)
        record = self._require_ledger().get(uuid_)
        if record is None:
            raise RecordNotFound(f"The ledger has no revocation of message {uuid_}.", message_uuid=uuid_)
        return record.as_dict()

    def batch(self, batch_id: str) -> dict[str, Any]:
        count("BatchLookups")
        if not is_canonical_uuid(batch_id):
            raise InvalidRequest(
                f"batch_id {shorten(batch_id)} is not a canonical UUID (8-4-4-4-12 hexadecimal digits)."
            )
        summary = self._require_ledger().batch(batch_id.lower())
        if summary is None:
            raise RecordNotFound(f"The ledger has no batch {batch_id.lower()}.")
        return summary.as_dict()

    def _require_ledger(self) -> Ledger:
        if self._ledger is None:
            raise ServiceMisconfigured("LEDGER_TABLE_NAME is not set: this function has no ledger to read.")
        return self._ledger
