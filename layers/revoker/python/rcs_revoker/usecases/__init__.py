"""The use cases: one module each, given its ports in its constructor (rcs_revoker.bootstrap builds them).

revoke.py (one revocation from any entry point), revoke_queued.py (one message of the bulk queue),
submit_batch.py (POST /revocations), read_ledger.py (the status routes), record_outcome.py (what every
outcome logs, counts, writes and publishes), exactly_once.py (one PATCH per message, however often asked).
"""
