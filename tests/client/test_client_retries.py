"""Retries and timeouts seen from a real socket (tests/client/http_kit.py): what is retried, that each attempt
is signed anew, Retry-After, and that no network failure ends in a traceback."""

import io
import socket
import time

import pytest

from rcs_revoker_client.cli import ExitCode, main
from rcs_revoker_client.client import RevokerClient
from rcs_revoker_client.errors import ProblemError, ServiceUnreachable
from rcs_revoker_client.transport import RetryPolicy, Timeouts, Transport
from tests.client.http_kit import ScriptedServer, Step

UUID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
REQUESTED = {"message_uuid": UUID, "status": "revocation_requested", "region": "eu", "fallback": None}
RECORD: dict[str, object] = {
    "message_uuid": UUID,
    "state": "requested",
    "fallback": None,
    "settled": False,
    "timeline": [],
}
UNAVAILABLE = {"type": "urn:rcs-revoker:problem:dependency-unavailable", "title": "A dependency", "status": 503}


def cli(server: ScriptedServer, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--endpoint", server.url, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def client(server: ScriptedServer, *, retries: int = 3, read_s: float = 5.0) -> RevokerClient:
    return RevokerClient.connect(server.url, timeouts=Timeouts(connect_s=1, read_s=read_s), policy=RetryPolicy(retries))


@pytest.mark.usefixtures("credentials")
def test_a_503_with_retry_after_is_waited_out_and_the_retry_is_signed_again(server: ScriptedServer) -> None:
    # Given the service answers 503 Retry-After: 1 once, then accepts
    server.script(Step(503, UNAVAILABLE, {"Retry-After": "1"}), Step(202, REQUESTED))

    answer = client(server).revoke(UUID, region="eu")

    # Then the revocation went through on the second attempt, a second later, with a new signature
    assert answer.status == "revocation_requested"
    first, second = server.received
    assert (first.method, first.path) == ("POST", f"/messages/{UUID}/revoke")
    assert second.body == first.body == b'{"region": "eu"}'
    assert second.at - first.at >= 1.0
    assert first.headers["X-Amz-Date"] != second.headers["X-Amz-Date"]
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert second.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


def test_a_dropped_connection_is_retried_for_a_read(server: ScriptedServer) -> None:
    server.script(Step(drop=True), Step(200, RECORD))

    record = client(server).status(UUID)

    assert record.state == "requested"
    assert len(server.received) == 2


def test_a_stalled_answer_times_out_retries_and_ends_as_unavailable_without_a_traceback(
    server: ScriptedServer,
) -> None:
    # Given a service that never answers within the read timeout
    server.script(Step(200, RECORD, stall_s=5), Step(200, RECORD, stall_s=5))

    started = time.monotonic()
    code, out, err = cli(server, "--read-timeout", "0.3", "--retries", "1", "status", UUID)

    # Then the CLI gave up after two attempts, saying so in words
    assert code == ExitCode.UNAVAILABLE
    assert len(server.received) == 2
    assert time.monotonic() - started < 4
    assert "did not answer within the read timeout (2 attempts)" in err
    assert "Traceback" not in out + err


def test_a_refused_connection_is_unavailable_in_words() -> None:
    # Given a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()

    code = main(["--endpoint", f"http://127.0.0.1:{port}", "--retries", "1", "status", UUID], out=out, err=err)

    assert code == ExitCode.UNAVAILABLE
    assert err.getvalue().startswith("error: 127.0.0.1 refused the connection or could not be reached (2 attempts).")
    assert "Traceback" not in err.getvalue()


def test_retries_end_with_the_last_answer_s_problem(server: ScriptedServer) -> None:
    server.script(*[Step(502, {"message": "Internal server error"})] * 3)

    code, _, err = cli(server, "--retries", "2", "status", UUID)

    assert code == ExitCode.UNAVAILABLE
    assert len(server.received) == 3
    assert "error: Bad Gateway (502)" in err
    assert "Internal server error" in err


def test_a_retry_after_longer_than_the_client_waits_is_given_back_at_once(server: ScriptedServer) -> None:
    problem = {"type": "urn:rcs-revoker:problem:vonage-rate-limited", "title": "Rate-limited by Vonage", "status": 429}
    server.script(Step(429, problem, {"Retry-After": "3600"}))

    with pytest.raises(ProblemError) as caught:
        client(server).revoke(UUID, region="eu")

    assert len(server.received) == 1
    assert caught.value.problem.reason == "vonage-rate-limited"
    assert caught.value.problem.retry_after == "3600"


def test_a_bulk_submission_is_retried_on_503(server: ScriptedServer) -> None:
    receipt = {"batch_id": "b0b0b0b0-1111-4222-8333-444444444444", "accepted": 1, "already_requested": 0}
    server.script(Step(503, UNAVAILABLE), Step(202, {**receipt, "rejected": []}))

    answer = client(server).submit_batch([{"message_uuid": UUID}], region="eu")

    assert answer.accepted == 1
    assert [request.path for request in server.received] == ["/revocations", "/revocations"]


def test_a_refusal_is_not_retried(server: ScriptedServer) -> None:
    server.script(Step(400, {"type": "urn:rcs-revoker:problem:invalid-request", "title": "Invalid", "status": 400}))

    with pytest.raises(ProblemError):
        client(server).status("nope")

    assert len(server.received) == 1


def test_an_answer_that_is_not_the_api_s_json_says_the_endpoint_may_be_wrong(server: ScriptedServer) -> None:
    server.script(Step(200, b"<html>hello</html>", content_type="text/html"))

    with pytest.raises(ServiceUnreachable, match="with its stage"):
        client(server).status(UUID)


def test_a_post_whose_answer_was_lost_is_not_retried_unless_it_is_idempotent(server: ScriptedServer) -> None:
    server.script(Step(drop=True), Step(200, RECORD))
    transport = Transport(None, Timeouts(1, 2), RetryPolicy(3))

    with pytest.raises(ServiceUnreachable, match="closed the connection"):
        transport.request("POST", server.url + "/other", b"{}", idempotent=False)

    assert len(server.received) == 1
