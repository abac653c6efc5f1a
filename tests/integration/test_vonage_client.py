"""The Vonage client against the simulator, over plain HTTP and TLS: the deadline bounds the whole exchange,
a 429 is passed on at once, 5xx answers are retried within the deadline."""

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from offline.keys import KeyPair
from offline.tls import generate_self_signed_cert
from offline.vonage_simulator import Outcome, VonageSimulator
from rcs_revoker.adapters.vonage_applications import SecretsManagerApplications
from rcs_revoker.adapters.vonage_credentials import VonageCredentials
from rcs_revoker.adapters.vonage_messages import VonageMessagesClient
from rcs_revoker.domain.errors import VonageRateLimited, VonageTimeout
from rcs_revoker.domain.regions import Region
from tests.conftest import APPLICATION_ID

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
OTHER_MESSAGE = "bbbbbbbb-bbbb-4ccc-8ddd-0123456789ab"
# Every piece of a dribbled answer comes this far apart: far below the client's read timeout (5 s), so no
# socket read ever times out, while the whole 202 (status line, five headers, blank line) takes 3 s.
DRIBBLE_INTERVAL_S = 0.5
DEADLINE_IN_S = 1.5
# How late after its deadline a call may end: the watchdog's hang-up, and the thread scheduling of a busy CI.
LATENESS_S = 0.3


class StaticCredentials:
    def __init__(self, private_key: RSAPrivateKey, pem: str) -> None:
        fingerprint = hashlib.sha256(pem.encode()).hexdigest()
        self._credentials = VonageCredentials(APPLICATION_ID, private_key, fingerprint)

    def get(self, *, replacing: VonageCredentials | None = None) -> VonageCredentials:
        return self._credentials


@pytest.fixture(scope="module")
def credentials(keys: KeyPair) -> StaticCredentials:
    private_key = load_pem_private_key(keys.private_pem.encode(), password=None)
    assert isinstance(private_key, RSAPrivateKey)
    return StaticCredentials(private_key, keys.private_pem)


@pytest.fixture(scope="module")
def https_simulator(keys: KeyPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VonageSimulator, Path]]:
    cert, key = generate_self_signed_cert(tmp_path_factory.mktemp("tls"), names=("127.0.0.1",))
    with VonageSimulator(APPLICATION_ID, keys.public_pem, tls=(cert, key)) as simulator:
        yield simulator, cert


@pytest.fixture(params=["http", "https"])
def vonage(
    request: pytest.FixtureRequest,
    simulator: VonageSimulator,
    https_simulator: tuple[VonageSimulator, Path],
    keys: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> VonageSimulator:
    """The simulator, plain or over TLS (its certificate trusted as any OpenSSL client would: SSL_CERT_FILE)."""
    if request.param == "https":
        chosen, cert = https_simulator
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    else:
        chosen = simulator
    chosen.reset()
    chosen.rotate_key(keys.public_pem)  # another test may have rotated it
    return chosen


@pytest.fixture
def client(vonage: VonageSimulator, credentials: StaticCredentials) -> VonageMessagesClient:
    # One application, whose credentials are the fixture's.
    applications = SecretsManagerApplications("rcs-revoker/vonage", new_source=lambda _: credentials)
    return VonageMessagesClient(applications, base_url_override=vonage.base_url)


def connections_made(client: VonageMessagesClient, vonage: VonageSimulator) -> int:
    """How many connections the client's pool for the simulator has created."""
    return client.connection_pool(vonage.base_url).num_connections


def test_a_dribbled_answer_ends_at_the_deadline_as_a_timeout(
    client: VonageMessagesClient, vonage: VonageSimulator
) -> None:
    # Given Vonage answering a line at a time, never slow enough for a read timeout
    vonage.program(MESSAGE, Outcome.dribbled(DRIBBLE_INTERVAL_S))
    deadline = time.monotonic() + DEADLINE_IN_S

    # When the client revokes with a deadline 1.5 s away
    with pytest.raises(VonageTimeout, match="did not answer in time"):
        client.revoke(MESSAGE, Region.EU, deadline=deadline)
    ended = time.monotonic()

    # Then the call ends at its deadline, not when the answer would have been complete
    assert deadline <= ended <= deadline + LATENESS_S
    assert vonage.patches_for(MESSAGE) == 1  # no retry: there was no time left for one


def test_after_a_timeout_a_normal_answer_succeeds_over_the_same_pool_on_a_new_connection(
    client: VonageMessagesClient, vonage: VonageSimulator
) -> None:
    vonage.program(MESSAGE, Outcome.dribbled(DRIBBLE_INTERVAL_S))
    with pytest.raises(VonageTimeout):
        client.revoke(MESSAGE, Region.EU, deadline=time.monotonic() + DEADLINE_IN_S)

    request_id = client.revoke(OTHER_MESSAGE, Region.EU, deadline=time.monotonic() + 5)

    assert request_id is not None
    assert [r.status for r in vonage.requests] == [202, 202]
    # The connection the watchdog hung up on was discarded, not put back and reconnected.
    assert connections_made(client, vonage) == 2
    # And the new one is kept alive as usual.
    client.revoke(OTHER_MESSAGE, Region.EU, deadline=time.monotonic() + 5)
    assert connections_made(client, vonage) == 2


def test_a_dribbled_answer_that_ends_before_the_deadline_is_a_success(
    client: VonageMessagesClient, vonage: VonageSimulator
) -> None:
    vonage.program(MESSAGE, Outcome.dribbled(0.05))  # about 0.3 s in all

    assert client.revoke(MESSAGE, Region.EU, deadline=time.monotonic() + 5) is not None


def test_concurrent_calls_each_end_by_their_own_deadline(client: VonageMessagesClient, vonage: VonageSimulator) -> None:
    # Given three dribbled answers with deadlines 1.0, 1.5 and 2.0 s away, and three callers with quick answers
    dribbled = [f"0000000{i}-bbbb-4ccc-8ddd-0123456789ab" for i in range(3)]
    for message in dribbled:
        vonage.program(message, Outcome.dribbled(DRIBBLE_INTERVAL_S))
    fast = [f"1111111{i}-bbbb-4ccc-8ddd-0123456789ab" for i in range(3)]
    start = threading.Barrier(len(dribbled) + len(fast))
    started = time.monotonic()

    def slow_call(index: int) -> tuple[float, float]:
        deadline = started + 1.0 + 0.5 * index
        start.wait()
        with pytest.raises(VonageTimeout):
            client.revoke(dribbled[index], Region.EU, deadline=deadline)
        return deadline, time.monotonic()

    def fast_calls(index: int) -> tuple[list[str | None], float]:
        start.wait()
        # Each with a deadline past the dribbled ones': none of theirs may end these.
        answers = [client.revoke(fast[index], Region.EU, deadline=time.monotonic() + 5) for _ in range(5)]
        return answers, time.monotonic()

    # When they all call at once over one client (the bulk worker's threads)
    with ThreadPoolExecutor(len(dribbled) + len(fast)) as threads:
        slow = [threads.submit(slow_call, i) for i in range(len(dribbled))]
        quick = [threads.submit(fast_calls, i) for i in range(len(fast))]
        timed_out = [future.result() for future in slow]
        answered = [future.result() for future in quick]

    # Then each dribbled call ended at its own deadline, and every quick call succeeded, quickly
    for deadline, ended in timed_out:
        assert deadline <= ended <= deadline + LATENESS_S
    for answers, ended in answered:
        assert None not in answers
        assert ended < started + 1.0  # done before the first deadline: no dribbler held them up
    assert all(vonage.patches_for(message) == 5 for message in fast)


@pytest.mark.parametrize("retry_after", [0, 1, 60, None])
def test_a_429_is_passed_on_at_once_with_its_retry_after(
    client: VonageMessagesClient, vonage: VonageSimulator, retry_after: int | None
) -> None:
    vonage.program(MESSAGE, *[Outcome.rate_limited(retry_after=retry_after)] * 4)
    started = time.monotonic()

    with pytest.raises(VonageRateLimited) as raised:
        client.revoke(MESSAGE, Region.EU, deadline=started + 10)

    assert raised.value.retry_after_s == retry_after
    assert vonage.patches_for(MESSAGE) == 1  # one PATCH per call: a rate limit is not retried in-process
    assert time.monotonic() - started < 0.5  # nor waited out


def test_5xx_answers_are_still_retried_within_the_deadline(
    client: VonageMessagesClient, vonage: VonageSimulator
) -> None:
    vonage.program(MESSAGE, Outcome.server_error(503), Outcome.server_error(502), Outcome.accepted())

    assert client.revoke(MESSAGE, Region.EU, deadline=time.monotonic() + 10) is not None
    assert vonage.patches_for(MESSAGE) == 3


def test_a_dropped_connection_is_still_retried(client: VonageMessagesClient, vonage: VonageSimulator) -> None:
    vonage.program(MESSAGE, Outcome.dropped(), Outcome.accepted())

    assert client.revoke(MESSAGE, Region.EU, deadline=time.monotonic() + 10) is not None
    assert [r.status for r in vonage.requests] == [None, 202]
