"""The bulk revocation queue: what the API, the reconciler and a rate-limited worker put in, in batches of ten."""

import json
import time
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_json import aws_json

SQS_BATCH_SIZE: Final = 10  # the most SendMessageBatch takes
SEND_ATTEMPTS: Final = 3
MAX_DELAY_S: Final = 900  # the longest DelaySeconds SQS takes


class SqsRevocationQueue:
    """Implements the domain's RevocationQueue port."""

    batch_size: Final = SQS_BATCH_SIZE

    def __init__(self, queue_url: str) -> None:
        self._queue_url = queue_url

    def send(self, messages: dict[str, dict[str, Any]], *, delay_s: int = 0) -> dict[str, str]:
        """Sends `{id: body}` (at most ten), received no sooner than `delay_s` from now (at most 900); entries
        SQS refuses are sent again, twice. Returns the ids that still failed, with why: the caller must not
        report them as queued."""
        delay = {"DelaySeconds": min(max(delay_s, 0), MAX_DELAY_S)} if delay_s else {}
        pending = dict(messages)
        refused: dict[str, str] = {}  # a sender's fault (a malformed entry) does not pass on a retry
        failures: dict[str, str] = {}
        for attempt in range(SEND_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            entries = [{"Id": key, "MessageBody": json.dumps(body), **delay} for key, body in pending.items()]
            try:
                # One call per ten items of a bulk submission: AWS's JSON protocol directly (adapters/aws_json.py).
                response = aws_json("sqs").call("SendMessageBatch", {"QueueUrl": self._queue_url, "Entries": entries})
            except (ClientError, BotoCoreError) as error:
                failures = dict.fromkeys(pending, f"SQS did not answer ({type(error).__name__})")
                continue
            failures = {}
            for entry in response.get("Failed", []):
                reason = f"SQS refused it ({entry.get('Code', 'error')})"
                (refused if entry.get("SenderFault") else failures)[entry["Id"]] = reason
            pending = {key: pending[key] for key in failures}
            if not pending:
                break
        return {**refused, **failures}
