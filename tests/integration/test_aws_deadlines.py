"""Every AWS call ends by the invocation's deadline, whatever AWS does: against an endpoint that accepts the
connection and never answers (an AWS call that hangs rather than fails)."""

import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from rcs_revoker.adapters.aws_clients import (
    ATTEMPT_S,
    AWS_CLIENT_CONFIG,
    MAX_RETRY_SLEEP_S,
    DeadlineReached,
    bounded_by_deadline,
)
from rcs_revoker.deadlines import calls_end_by


class HangingEndpoint:
    """Accepts connections, reads the request, answers nothing."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.connections: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        for connection in self.connections:
            connection.close()
        self._server.close()


@pytest.fixture
def hanging() -> Iterator[HangingEndpoint]:
    endpoint = HangingEndpoint()
    yield endpoint
    endpoint.stop()


def dynamodb(url: str) -> object:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return bounded_by_deadline(
        session.client("dynamodb", region_name="eu-west-1", endpoint_url=url, config=AWS_CLIENT_CONFIG)
    )


def get_item(client: object) -> None:
    client.get_item(TableName="t", Key={"k": {"S": "v"}})  # type: ignore[attr-defined]


@pytest.mark.parametrize("time_left_s", [4.0, 7.0, 12.0])
def test_a_hanging_call_ends_by_the_deadline(hanging: HangingEndpoint, time_left_s: float) -> None:
    client = dynamodb(hanging.url)
    started = time.monotonic()
    with calls_end_by(started + time_left_s), pytest.raises((DeadlineReached, ReadTimeoutError)):
        get_item(client)
    elapsed = time.monotonic() - started
    assert elapsed <= time_left_s + 0.3
    # Retried while a whole attempt and its back-off still fitted, not given up at the first timeout.
    expected_attempts = 1 if time_left_s < 2 * ATTEMPT_S + MAX_RETRY_SLEEP_S else 2
    assert len(hanging.connections) >= expected_attempts


def test_with_no_time_for_an_attempt_no_request_is_sent(hanging: HangingEndpoint) -> None:
    client = dynamodb(hanging.url)
    started = time.monotonic()
    with calls_end_by(started + ATTEMPT_S - 0.5), pytest.raises(DeadlineReached):
        get_item(client)
    assert time.monotonic() - started < 0.5
    time.sleep(0.3)
    assert hanging.connections == []


def test_outside_an_invocation_botocore_s_own_limits_apply(hanging: HangingEndpoint) -> None:
    client = dynamodb(hanging.url)
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        get_item(client)
    # Three attempts of the read timeout, and botocore's back-off between them.
    assert time.monotonic() - started >= 3 * AWS_CLIENT_CONFIG.read_timeout
