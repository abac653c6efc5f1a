"""rcs_revoker.adapters.aws_json against a scripted endpoint: what it retries (as botocore's standard mode),
what it gives up on at once, how it reports what never answered, and the deadline; and the ledger's
transactions on the cancellations DynamoDB gives (a conflict retried, other cancellations a failure)."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from rcs_revoker.adapters import dynamodb_ledger
from rcs_revoker.adapters.aws_clients import DeadlineReached
from rcs_revoker.adapters.aws_json import AwsJsonClient
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.deadlines import calls_end_by
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.ledger import LedgerWrite
from tests.conftest import Stack

Answer = tuple[int, str]  # status, body


class ScriptedEndpoint:
    """Answers each POST with the next scripted answer (the last one again when they run out)."""

    def __init__(self) -> None:
        self.answers: list[Answer] = [(200, "{}")]
        self.requests: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append({"target": self.headers["X-Amz-Target"], "body": json.loads(body)})
                status, text = endpoint.answers.pop(0) if len(endpoint.answers) > 1 else endpoint.answers[0]
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "ScriptedEndpoint":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def error(code: str, **more: Any) -> str:
    return json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **more})


@pytest.fixture
def endpoint(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedEndpoint]:
    monkeypatch.setattr(time, "sleep", lambda _: None)  # the back-offs, not waited for here
    with ScriptedEndpoint() as scripted:
        yield scripted


def test_a_throttle_or_a_5xx_is_retried_and_the_answer_returned(endpoint: ScriptedEndpoint) -> None:
    endpoint.answers = [(400, error("ThrottlingException")), (503, "<html>busy</html>"), (200, '{"Item": {}}')]
    assert AwsJsonClient("dynamodb", endpoint_url=endpoint.url).call("GetItem", {"TableName": "t"}) == {"Item": {}}
    assert [r["target"] for r in endpoint.requests] == ["DynamoDB_20120810.GetItem"] * 3


def test_retries_end_after_three_attempts_with_the_service_s_error(endpoint: ScriptedEndpoint) -> None:
    endpoint.answers = [(400, error("ProvisionedThroughputExceededException"))]
    with pytest.raises(ClientError) as raised:
        AwsJsonClient("dynamodb", endpoint_url=endpoint.url).call("UpdateItem", {})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert len(endpoint.requests) == 3


def test_an_answer_that_is_not_json_is_an_error_not_a_crash(endpoint: ScriptedEndpoint) -> None:
    endpoint.answers = [(400, "<html>not json</html>")]
    with pytest.raises(ClientError) as raised:
        AwsJsonClient("sqs", endpoint_url=endpoint.url).call("SendMessageBatch", {})
    assert raised.value.response["Error"]["Code"] == "SerializationException"
    assert [r["target"] for r in endpoint.requests] == ["AmazonSQS.SendMessageBatch"]  # not retried


def test_a_refusal_is_not_retried_and_keeps_what_dynamodb_returned(endpoint: ScriptedEndpoint) -> None:
    endpoint.answers = [(400, error("ConditionalCheckFailedException", Item={"v": {"N": "2"}}))]
    with pytest.raises(ClientError) as raised:
        AwsJsonClient("dynamodb", endpoint_url=endpoint.url).call("UpdateItem", {})
    assert (raised.value.response["Item"], len(endpoint.requests)) == ({"v": {"N": "2"}}, 1)


def test_an_endpoint_that_does_not_answer_is_botocore_s_connection_error_after_the_retries(
    endpoint: ScriptedEndpoint,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(EndpointConnectionError):
        AwsJsonClient("dynamodb", endpoint_url=f"http://127.0.0.1:{port}").call("GetItem", {})


def test_no_attempt_starts_that_could_not_end_by_the_deadline(endpoint: ScriptedEndpoint) -> None:
    with calls_end_by(time.monotonic() + 1.0), pytest.raises(DeadlineReached):
        AwsJsonClient("dynamodb", endpoint_url=endpoint.url).call("GetItem", {})
    assert endpoint.requests == []
    endpoint.answers = [(503, "{}"), (200, "{}")]
    with calls_end_by(time.monotonic() + 4.0), pytest.raises(DeadlineReached):
        AwsJsonClient("dynamodb", endpoint_url=endpoint.url).call("GetItem", {})  # no time for a retry
    assert len(endpoint.requests) == 1


def ledger_on(endpoint: ScriptedEndpoint, monkeypatch: pytest.MonkeyPatch) -> DynamoDbLedger:
    client = AwsJsonClient("dynamodb", endpoint_url=endpoint.url)
    monkeypatch.setattr(dynamodb_ledger, "aws_json", lambda _: client)
    return DynamoDbLedger("ledger")


def cancelled(*codes: str) -> Answer:
    return 400, error("TransactionCanceledException", CancellationReasons=[{"Code": code} for code in codes])


WRITES = [LedgerWrite(f"00000000-0000-4000-8000-00000000000{n}", None, {"state": "queued"}) for n in range(3)]


def test_a_transaction_that_met_a_concurrent_write_is_made_again(
    endpoint: ScriptedEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint.answers = [cancelled("None", "TransactionConflict", "ConditionalCheckFailed"), (200, "{}")]

    moved_on = ledger_on(endpoint, monkeypatch).save_all(WRITES)

    assert moved_on == {WRITES[2].message_uuid}
    retried = endpoint.requests[1]["body"]["TransactItems"]
    assert [item["Update"]["Key"]["message_uuid"]["S"] for item in retried] == [w.message_uuid for w in WRITES[:2]]


def test_a_transaction_cancelled_for_another_reason_or_always_conflicting_is_a_ledger_failure(
    endpoint: ScriptedEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = ledger_on(endpoint, monkeypatch)
    endpoint.answers = [cancelled("None", "ValidationError", "None")]
    with pytest.raises(DependencyUnavailable, match="ledger table"):
        ledger.save_all(WRITES)
    endpoint.answers = [cancelled("TransactionConflict", "None", "None")]
    with pytest.raises(DependencyUnavailable, match="kept cancelling"):
        ledger.save_all(WRITES)
