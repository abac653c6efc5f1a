"""The Vonage simulator over real loopback HTTP: what it checks, in what order, and how it answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError, SSLError

from offline.tls import generate_self_signed_cert
from offline.vonage_checks import CONTRACT_PATH, update_message_schema
from offline.vonage_simulator import ConnectionStats, Outcome, VonageSimulator

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_ID = "c5b8ec47-6dbe-4f2f-9a52-2f7ad9e43d1a"
MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
OTHER_MESSAGE = "11111111-2222-4333-8444-555555555555"
REVOKE = b'{"status": "revoked"}'
UNAUTHORIZED_TYPE = "https://developer.vonage.com/api-errors/#unathorized"
_DEFAULT = "<a fresh valid token>"


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey
    public_pem: bytes


def _key_pair() -> KeyPair:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private, public_pem)


def make_token(
    key: rsa.RSAPrivateKey, *, app_id: str = APP_ID, iat: int | None = None, ttl: int = 900, omit: tuple[str, ...] = ()
) -> str:
    now = int(time.time()) if iat is None else iat
    claims: dict[str, Any] = {"application_id": app_id, "iat": now, "exp": now + ttl, "jti": str(uuid.uuid4())}
    for name in omit:
        del claims[name]
    return jwt.encode(claims, key, algorithm="RS256")


def forged_token(alg: str, secret: bytes) -> str:
    """Built by hand: PyJWT refuses to HMAC-sign with a PEM, which is exactly the algorithm-confusion attack."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"application_id": APP_ID, "iat": now, "exp": now + 900, "jti": str(uuid.uuid4())}
    signing_input = f"{b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
    return f"{signing_input}.{b64(signature)}"


@dataclass
class Client:
    sim: VonageSimulator
    pool: urllib3.PoolManager
    key: rsa.RSAPrivateKey

    def send(
        self,
        message_uuid: str = MESSAGE,
        *,
        method: str = "PATCH",
        path: str | None = None,
        body: Any = REVOKE,
        auth: str | None = _DEFAULT,
        content_type: str | None = "application/json",
        timeout: urllib3.Timeout | None = None,
        chunked: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json"}
        if auth is not None:
            headers["Authorization"] = f"Bearer {make_token(self.key)}" if auth == _DEFAULT else auth
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = self.sim.base_url + (path or f"/v1/messages/{message_uuid}")
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        return self.pool.request(method, url, body=body, headers=headers, chunked=chunked, **extra)


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return _key_pair()


@pytest.fixture(scope="module")
def other_keys() -> KeyPair:
    return _key_pair()


@pytest.fixture
def sim(keys: KeyPair) -> Iterator[VonageSimulator]:
    simulator = VonageSimulator(APP_ID, keys.public_pem).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: VonageSimulator, keys: KeyPair) -> Iterator[Client]:
    # No retries: each test must see exactly what the simulator answered, once.
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2.0, read=5.0))
    yield Client(sim, pool, keys.private)
    pool.clear()


def assert_problem(
    response: urllib3.BaseHTTPResponse, status: int, content_type: str = "application/problem+json"
) -> dict[str, Any]:
    assert response.status == status, response.data
    assert response.headers["Content-Type"] == content_type
    uuid.UUID(response.headers["X-Request-Id"])
    document: dict[str, Any] = json.loads(response.data)
    for field in ("type", "title", "detail", "instance"):
        assert isinstance(document.get(field), str), field
        assert document[field], field
    return document


def test_valid_revocation_is_accepted_without_body_and_recorded_with_claims(client: Client) -> None:
    token = make_token(client.key)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]

    response = client.send(auth=f"Bearer {token}")

    assert response.status == 202
    assert response.data == b""
    assert response.headers["Content-Length"] == "0"
    assert str(uuid.UUID(response.headers["X-Request-Id"])) == response.headers["X-Request-Id"]
    [record] = client.sim.requests
    assert (record.method, record.path, record.message_uuid, record.status) == (
        "PATCH",
        f"/v1/messages/{MESSAGE}",
        MESSAGE,
        202,
    )
    assert record.body == REVOKE
    assert record.headers["authorization"] == f"Bearer {token}"
    assert record.claims is not None
    assert record.claims["application_id"] == APP_ID
    assert record.claims["jti"] == jti
    assert record.checks_passed
    assert client.sim.patches_for(MESSAGE) == 1


def test_keep_alive_serves_several_requests_on_one_connection(client: Client) -> None:
    for _ in range(3):
        assert client.send().status == 202
    pool = client.pool.connection_from_url(client.sim.base_url)
    assert pool.num_connections == 1


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_are_405_with_allow_patch(client: Client, method: str) -> None:
    response = client.send(method=method)

    assert_problem(response, 405)
    assert response.headers["Allow"] == "PATCH"
    assert client.sim.patches_for(MESSAGE) == 0


def test_head_gets_405_headers_and_no_body(client: Client) -> None:
    response = client.send(method="HEAD", body=None)

    assert response.status == 405
    assert response.headers["Allow"] == "PATCH"
    assert int(response.headers["Content-Length"]) > 0
    assert response.data == b""
    assert client.send().status == 202  # the connection is still in step after a body-less answer


@pytest.mark.parametrize(
    "path",
    ["/v1/messages", "/v1/messages/", f"/v2/messages/{MESSAGE}", f"/v1/messages/{MESSAGE}/extra", "/"],
)
def test_unknown_paths_are_404(client: Client, path: str) -> None:
    assert_problem(client.send(path=path), 404)
    assert client.sim.requests[0].message_uuid is None


def test_message_id_that_is_not_a_uuid_is_404_after_auth(client: Client) -> None:
    assert_problem(client.send("not-a-uuid"), 404)
    assert_problem(client.send("not-a-uuid", auth=None), 401)
    assert [r.checks_passed for r in client.sim.requests] == [False, False]
    assert client.sim.patches_for("not-a-uuid") == 0


def test_query_string_does_not_change_the_route(client: Client) -> None:
    assert client.send(path=f"/v1/messages/{MESSAGE}?trace=1").status == 202
    assert client.sim.patches_for(MESSAGE) == 1


def _bad_auth(keys: KeyPair, other_keys: KeyPair) -> dict[str, str | None]:
    now = int(time.time())
    return {
        "missing": None,
        "garbage": "Bearer not.a.jwt",
        "empty bearer": "Bearer ",
        "expired beyond skew": f"Bearer {make_token(keys.private, iat=now - 1000, ttl=600)}",
        "issued in the future beyond skew": f"Bearer {make_token(keys.private, iat=now + 1000)}",
        "signed by another key": f"Bearer {make_token(other_keys.private)}",
        "another application": f"Bearer {make_token(keys.private, app_id='someone-else')}",
        "no application_id": f"Bearer {make_token(keys.private, omit=('application_id',))}",
        "no jti": f"Bearer {make_token(keys.private, omit=('jti',))}",
        "no iat": f"Bearer {make_token(keys.private, omit=('iat',))}",
        "no exp": f"Bearer {make_token(keys.private, omit=('exp',))}",
        "HS256 keyed with the public key": f"Bearer {forged_token('HS256', keys.public_pem)}",
        "alg none": f"Bearer {forged_token('none', b'')}",
        "basic auth": "Basic " + base64.b64encode(b"api-key:api-secret").decode(),
        "token without scheme": make_token(keys.private),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "garbage",
        "empty bearer",
        "expired beyond skew",
        "issued in the future beyond skew",
        "signed by another key",
        "another application",
        "no application_id",
        "no jti",
        "no iat",
        "no exp",
        "HS256 keyed with the public key",
        "alg none",
        "basic auth",
        "token without scheme",
    ],
)
def test_bad_credentials_are_401_problems(client: Client, keys: KeyPair, other_keys: KeyPair, case: str) -> None:
    response = client.send(auth=_bad_auth(keys, other_keys)[case])

    document = assert_problem(response, 401)
    assert document["type"] == UNAUTHORIZED_TYPE
    assert document["title"] == "You did not provide correct credentials."
    [record] = client.sim.requests
    assert (record.status, record.claims, record.checks_passed) == (401, None, False)
    assert client.sim.patches_for(MESSAGE) == 0


def test_clock_skew_is_tolerated_within_the_leeway(client: Client) -> None:
    now = int(time.time())
    expired_100s_ago = make_token(client.key, iat=now - 700, ttl=600)
    issued_100s_ahead = make_token(client.key, iat=now + 100)

    assert client.send(auth=f"Bearer {expired_100s_ago}").status == 202
    assert client.send(auth=f"Bearer {issued_100s_ahead}").status == 202


def test_bearer_scheme_is_case_insensitive(client: Client) -> None:
    assert client.send(auth=f"bearer {make_token(client.key)}").status == 202


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_wrong_content_type_is_415(client: Client, content_type: str | None) -> None:
    assert_problem(client.send(content_type=content_type), 415)
    [record] = client.sim.requests
    assert record.claims is not None  # auth passed first, and the claims are kept for inspection
    assert client.sim.patches_for(MESSAGE) == 0


def test_json_content_type_with_parameters_is_accepted(client: Client) -> None:
    assert client.send(content_type="application/json; charset=utf-8").status == 202


@pytest.mark.parametrize("body", [b'{"status": "revoked"', b"", b"status=revoked", b"\xff\xfe\x00garbage"])
def test_body_that_is_not_json_is_422_invalid_json(client: Client, body: bytes) -> None:
    document = assert_problem(client.send(body=body), 422, content_type="application/json")

    assert document["title"] == "The request body did not contain valid JSON"
    assert document["type"] == "https://developer.vonage.com/api-errors#invalid-json"
    assert "invalid_parameters" not in document


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"status": "read"}, {"body"}),  # valid under both oneOf branches, so not under oneOf
        ({}, {"status"}),
        ({"status": "deleted"}, {"status"}),
        ({"status": 5}, {"status"}),
        ({"status": "read", "replying_indicator": {"show": True, "type": "text"}}, {"body"}),
        ([], {"body"}),
        ("revoked", {"body"}),
    ],
)
def test_schema_violations_are_422_invalid_params(client: Client, body: Any, names: set[str]) -> None:
    document = assert_problem(client.send(body=json.dumps(body).encode()), 422, content_type="application/json")

    assert document["title"] == "Invalid params"
    assert document["type"] == "https://developer.vonage.com/api-errors/messages#1150"
    assert {entry["name"] for entry in document["invalid_parameters"]} == names
    assert all(entry["reason"] for entry in document["invalid_parameters"])
    assert client.sim.patches_for(MESSAGE) == 0


def test_missing_status_is_reported_as_required(client: Client) -> None:
    document = assert_problem(client.send(body=b"{}"), 422, content_type="application/json")
    assert document["invalid_parameters"] == [{"name": "status", "reason": "is required."}]


def test_unknown_status_is_explained_by_the_rcs_branch_alone(client: Client) -> None:
    document = assert_problem(client.send(body=b'{"status": "deleted"}'), 422, content_type="application/json")
    assert document["invalid_parameters"] == [{"name": "status", "reason": "Must be one of `read`, `revoked`."}]


def test_additional_properties_are_allowed_because_the_schema_allows_them(client: Client) -> None:
    rcs_branch = update_message_schema()["oneOf"][1]
    assert rcs_branch["title"] == "RCS"
    assert "additionalProperties" not in rcs_branch  # so {"status":"revoked","x":{}} is schema-valid

    assert client.send(body=b'{"status": "revoked", "x": {}}').status == 202
    assert client.send(body=b'{"status": "revoked", "replying_indicator": {}}').status == 202


def test_contract_copy_is_verbatim() -> None:
    # The team's shared/ folder sits beside the repository in the workspace and in CI; a clone elsewhere
    # has only the copy.
    shared = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "vonage-messages-update.yaml"
    if not shared.exists():
        pytest.skip("no shared/ folder beside this clone to compare the copy with")
    assert CONTRACT_PATH.read_bytes() == shared.read_bytes()


@pytest.mark.parametrize(
    ("request_kwargs", "expected"),
    [
        ({"path": "/nope", "auth": "Bearer x", "content_type": "text/plain", "body": b"{"}, 404),
        ({"auth": "Bearer x", "content_type": "text/plain", "body": b"{"}, 401),
        ({"content_type": "text/plain", "body": b"{"}, 415),
        ({"path": "/v1/messages/not-a-uuid", "body": b"{"}, 422),
    ],
)
def test_checks_run_in_order(client: Client, request_kwargs: dict[str, Any], expected: int) -> None:
    assert client.send(**request_kwargs).status == expected


def test_method_is_checked_before_auth(client: Client) -> None:
    assert client.send(method="POST", auth="Bearer x").status == 405


@pytest.mark.parametrize(
    ("outcome", "status", "content_type"),
    [
        (Outcome.not_found(), 404, "application/problem+json"),
        (Outcome.unprocessable(), 422, "application/json"),
        (Outcome.unauthorized(), 401, "application/problem+json"),
        (Outcome.forbidden(), 403, "application/problem+json"),
        (Outcome.server_error(), 500, "application/problem+json"),
        (Outcome.server_error(503), 503, "application/problem+json"),
    ],
)
def test_programmed_error_outcomes(client: Client, outcome: Outcome, status: int, content_type: str) -> None:
    client.sim.program(MESSAGE, outcome)

    assert_problem(client.send(), status, content_type=content_type)
    [record] = client.sim.requests
    assert (record.status, record.checks_passed) == (status, True)
    assert record.claims is not None
    assert client.send().status == 202  # consumed; the default applies again


def test_programmed_422_carries_its_title_and_detail(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.unprocessable(title="Revocation window closed", detail="Older than 24h."))

    document = assert_problem(client.send(), 422, content_type="application/json")
    assert (document["title"], document["detail"]) == ("Revocation window closed", "Older than 24h.")


def test_rate_limited_with_retry_after(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.rate_limited(retry_after=7))
    now_ms = time.time() * 1000

    response = client.send()

    assert_problem(response, 429)
    assert response.headers["Retry-After"] == "7"
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert now_ms + 6_000 <= int(response.headers["X-RateLimit-Reset"]) <= now_ms + 9_000  # milliseconds


def test_rate_limited_without_retry_after(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.rate_limited(retry_after=None))

    response = client.send()

    assert_problem(response, 429)
    assert "Retry-After" not in response.headers
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert int(response.headers[name]) >= 0


def test_outcomes_are_consumed_in_order_then_the_default_applies(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.server_error(503), Outcome.rate_limited())
    client.sim.default_outcome = Outcome.not_found()

    assert [client.send().status for _ in range(4)] == [503, 429, 404, 404]
    assert client.send(OTHER_MESSAGE).status == 404


def test_program_all_comes_before_per_message_outcomes(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.not_found())
    client.sim.program_all(Outcome.server_error(503), Outcome.server_error(503))

    statuses = [client.send(MESSAGE).status, client.send(OTHER_MESSAGE).status]
    statuses += [client.send(MESSAGE).status, client.send(OTHER_MESSAGE).status]

    assert statuses == [503, 503, 404, 202]


def test_program_all_is_not_consumed_by_rejected_requests(client: Client) -> None:
    client.sim.program_all(Outcome.server_error(503))

    assert client.send(auth=None).status == 401
    assert client.send().status == 503


def test_slow_answer_times_out_on_the_client_but_reached_vonage(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.slow(0.5))
    started = time.monotonic()

    with pytest.raises(ReadTimeoutError):
        client.send(timeout=urllib3.Timeout(connect=2.0, read=0.2))

    assert time.monotonic() - started < 0.45
    assert client.sim.patches_for(MESSAGE) == 1
    assert client.sim.requests[0].status == 202


def test_slow_answer_arrives_after_its_delay(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.slow(0.3, then=503))
    started = time.monotonic()

    assert client.send().status == 503
    assert time.monotonic() - started >= 0.3


def test_global_latency_applies_to_every_answer(client: Client) -> None:
    client.sim.set_latency(0.25)
    started = time.monotonic()
    assert client.send(auth=None).status == 401
    assert client.send().status == 202
    assert time.monotonic() - started >= 0.5

    client.sim.set_latency(0)
    started = time.monotonic()
    assert client.send().status == 202
    assert time.monotonic() - started < 0.25
    with pytest.raises(ValueError, match="negative"):
        client.sim.set_latency(-1)


def test_dropped_connection_gives_the_client_a_protocol_error(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.dropped())

    with pytest.raises(ProtocolError):
        client.send()

    [record] = client.sim.requests
    assert (record.status, record.checks_passed) == (None, True)
    assert client.send().status == 202


def _revoke_request(key: rsa.RSAPrivateKey) -> bytes:
    return (
        f"PATCH /v1/messages/{MESSAGE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {make_token(key)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(REVOKE)}\r\n\r\n"
    ).encode() + REVOKE


def test_dribbled_answer_comes_a_line_at_a_time_each_read_quick_the_whole_slow(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.dribbled(0.1))
    port = int(client.sim.base_url.rsplit(":", 1)[1])

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(_revoke_request(client.key))
        started = time.monotonic()
        chunks, gaps = [], []
        while chunk := conn.recv(65536):
            gaps.append(time.monotonic() - started)
            chunks.append(chunk)
    answer = b"".join(chunks)

    # The status line alone first, then a line at a time: status, five headers, the blank line.
    assert chunks[0] == b"HTTP/1.1 202 Accepted\r\n"
    assert answer.endswith(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert len(answer.split(b"\r\n")) == 8
    assert gaps[-1] >= 6 * 0.1
    assert client.sim.patches_for(MESSAGE) == 1


def test_dribbled_error_answer_is_read_in_full_by_a_patient_client(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.dribbled(0.002, status=429))  # the body a byte at a time

    response = client.send()

    assert_problem(response, 429)
    assert response.headers["Connection"] == "close"


def test_a_client_hanging_up_on_a_dribbled_answer_is_let_go_quietly(
    client: Client, sim: VonageSimulator, capfd: pytest.CaptureFixture[str]
) -> None:
    sim.program(MESSAGE, Outcome.dribbled(0.05, status=503))  # a problem document: seconds to send in full
    port = int(sim.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(_revoke_request(client.key))
        assert conn.recv(65536).startswith(b"HTTP/1.1 503 ")
    # The client hung up mid-answer: the simulator stops sending at its next write, closes its side, and
    # serves the next request as usual, without a traceback.
    _wait_for_open_connections(sim, 0)

    assert client.send().status == 202
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_a_dribbled_answer_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        Outcome.dribbled(0)


def test_key_rotation(client: Client, other_keys: KeyPair) -> None:
    old_token = make_token(client.key)
    new_token = make_token(other_keys.private)
    assert client.send(auth=f"Bearer {old_token}").status == 202
    assert client.send(auth=f"Bearer {new_token}").status == 401

    client.sim.rotate_key(other_keys.public_pem.decode())

    assert_problem(client.send(auth=f"Bearer {old_token}"), 401)
    assert client.send(auth=f"Bearer {new_token}").status == 202


def test_patches_for_counts_only_requests_vonage_would_act_on(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.server_error())
    client.send(auth=None)  # 401
    client.send(content_type="text/plain")  # 415
    client.send(body=b'{"status": "read"}')  # 422
    client.send(method="GET")  # 405
    client.send()  # programmed 500: it still reached Vonage
    client.send(MESSAGE.upper())  # 202: UUIDs compare case-insensitively
    client.send(OTHER_MESSAGE)

    assert [r.status for r in client.sim.requests] == [401, 415, 422, 405, 500, 202, 202]
    assert client.sim.patches_for(MESSAGE) == 2
    assert client.sim.patches_for(MESSAGE.upper()) == 2
    assert client.sim.patches_for(OTHER_MESSAGE) == 1
    assert client.sim.patches_for(str(uuid.uuid4())) == 0


def test_reset_and_clear_records(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.not_found())
    client.sim.program_all(Outcome.server_error())
    client.sim.default_outcome = Outcome.forbidden()
    client.send(OTHER_MESSAGE)
    client.sim.clear_records()
    assert client.sim.requests == []

    client.send(OTHER_MESSAGE)
    client.sim.reset()

    assert client.sim.requests == []
    assert client.send().status == 202
    assert client.sim.default_outcome == Outcome.accepted()


def test_requests_returns_a_copy(client: Client) -> None:
    client.send()
    client.sim.requests.clear()
    assert len(client.sim.requests) == 1


def test_chunked_body_is_read(client: Client) -> None:
    response = client.send(body=iter([b'{"status":', b' "revoked"}']), chunked=True)

    assert response.status == 202
    assert client.sim.requests[0].body == REVOKE


def _raw_exchange(sim: VonageSimulator, request: bytes) -> bytes:
    port = int(sim.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_unreadable_content_length_is_400_and_closes(sim: VonageSimulator) -> None:
    answer = _raw_exchange(
        sim, f"PATCH /v1/messages/{MESSAGE} HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n".encode()
    )

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nConnection: close\r\n" in answer  # recv() reaching EOF above shows the close too


def test_nothing_is_printed(client: Client, sim: VonageSimulator, capfd: pytest.CaptureFixture[str]) -> None:
    client.send(auth=None)
    client.send(method="GET")
    client.sim.program(MESSAGE, Outcome.dropped())
    with pytest.raises(ProtocolError):
        client.send()
    _raw_exchange(sim, b"NONSENSE\r\n\r\n")

    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def _wait_for_open_connections(sim: VonageSimulator, expected: int) -> None:
    """The simulator notices a client's hang-up a moment after it happens."""
    give_up = time.monotonic() + 5
    while sim.connections.open != expected and time.monotonic() < give_up:
        time.sleep(0.01)
    assert sim.connections.open == expected


def test_connections_are_counted_open_at_their_peak_and_accepted(client: Client) -> None:
    # Keep-alive: three requests over one pooled connection are one connection.
    for _ in range(3):
        assert client.send().status == 202
    assert (client.sim.connections.open, client.sim.connections.peak, client.sim.connections.accepted) == (1, 1, 1)
    # Three clients at once, each holding its own connection.
    pools = [urllib3.PoolManager(retries=False) for _ in range(3)]
    for pool in pools:
        assert Client(client.sim, pool, client.key).send().status == 202
    assert client.sim.connections == ConnectionStats(open=4, peak=4, accepted=4)

    for pool in pools:
        pool.clear()
    _wait_for_open_connections(client.sim, 1)
    assert client.sim.connections.peak == 4  # the peak stays until a reset

    client.sim.reset()
    assert client.sim.connections == ConnectionStats(open=1, peak=1, accepted=0)  # the client's pool keeps its own
    client.pool.clear()
    _wait_for_open_connections(client.sim, 0)


def test_a_dropped_connection_is_closed_and_counted_again_when_replaced(client: Client) -> None:
    client.sim.program(MESSAGE, Outcome.dropped())
    with pytest.raises(ProtocolError):
        client.send()
    _wait_for_open_connections(client.sim, 0)

    assert client.send().status == 202
    assert client.sim.connections == ConnectionStats(open=1, peak=1, accepted=2)


def test_stop_closes_keep_alive_connections(client: Client) -> None:
    url = f"{client.sim.base_url}/v1/messages/{MESSAGE}"
    headers = {"Authorization": f"Bearer {make_token(client.key)}", "Content-Type": "application/json"}
    assert client.pool.request("PATCH", url, body=REVOKE, headers=headers).status == 202

    client.sim.stop()

    # The pooled connection must not outlive the simulator: no answer of any kind may come back.
    with pytest.raises(HTTPError):
        client.pool.request("PATCH", url, body=REVOKE, headers=headers)


def test_lifecycle_errors(keys: KeyPair) -> None:
    simulator = VonageSimulator(APP_ID, keys.public_pem)
    with pytest.raises(RuntimeError, match="not running"):
        _ = simulator.base_url
    with simulator:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", simulator.base_url)
        with pytest.raises(RuntimeError, match="already running"):
            simulator.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = simulator.base_url


def test_non_rsa_key_is_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(TypeError, match="RSA"):
        VonageSimulator(APP_ID, ec_pem)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(keys: KeyPair, tmp_path: Path, stop_signal: signal.Signals) -> None:
    key_file = tmp_path / "app.pub"
    key_file.write_bytes(keys.public_pem)
    command = [sys.executable, "-m", "offline.vonage_simulator", "--port", "0", "--application-id", APP_ID]
    command += ["--public-key-file", str(key_file), "--latency-ms", "1"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"vonage simulator listening on (http://127\.0\.0\.1:\d+)\n", line)
            assert match, line
            response = urllib3.request(
                "PATCH",
                f"{match.group(1)}/v1/messages/{MESSAGE}",
                body=REVOKE,
                headers={"Authorization": f"Bearer {make_token(keys.private)}", "Content-Type": "application/json"},
                retries=False,
                timeout=5.0,
            )
            assert response.status == 202

            process.send_signal(stop_signal)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stderr is not None
        assert process.stderr.read() == ""


# --- HTTPS: for clients that only speak https:// (the official Vonage SDK) ---


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_sim(keys: KeyPair, tls_files: tuple[Path, Path]) -> Iterator[VonageSimulator]:
    simulator = VonageSimulator(APP_ID, keys.public_pem, tls=tls_files).start()
    yield simulator
    simulator.stop()


def _revoke_over(pool: urllib3.PoolManager, sim: VonageSimulator, keys: KeyPair) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": f"Bearer {make_token(keys.private)}", "Content-Type": "application/json"}
    return pool.request("PATCH", f"{sim.base_url}/v1/messages/{MESSAGE}", body=REVOKE, headers=headers)


def test_tls_client_trusting_the_certificate_gets_202(
    tls_sim: VonageSimulator, keys: KeyPair, tls_files: tuple[Path, Path]
) -> None:
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", tls_sim.base_url)
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(tls_files[0]), retries=False, timeout=5.0)

    first, second = _revoke_over(pool, tls_sim, keys), _revoke_over(pool, tls_sim, keys)

    assert (first.status, second.status) == (202, 202)
    assert [r.checks_passed for r in tls_sim.requests] == [True, True]
    # One TLS connection kept alive for both requests, as a pooled client would.
    assert pool.connection_from_url(tls_sim.base_url).num_connections == 1


def test_tls_certificate_names_localhost_too(
    tls_sim: VonageSimulator, keys: KeyPair, tls_files: tuple[Path, Path]
) -> None:
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(tls_files[0]), retries=False, timeout=5.0)
    port = tls_sim.base_url.rsplit(":", 1)[1]
    headers = {"Authorization": f"Bearer {make_token(keys.private)}", "Content-Type": "application/json"}

    response = pool.request("PATCH", f"https://localhost:{port}/v1/messages/{MESSAGE}", body=REVOKE, headers=headers)

    assert response.status == 202


def test_tls_client_not_trusting_the_certificate_fails_verification(
    tls_sim: VonageSimulator,
    keys: KeyPair,
    tls_files: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    other_cert, _ = generate_self_signed_cert(tmp_path)  # same names, another key: not the server's
    for untrusting in (
        urllib3.PoolManager(cert_reqs="CERT_REQUIRED", retries=False, timeout=5.0),  # the system's CAs only
        urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(other_cert), retries=False, timeout=5.0),
    ):
        with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            _revoke_over(untrusting, tls_sim, keys)

    assert tls_sim.requests == []  # nothing reached "Vonage", so no JWT went out either
    # A failed handshake neither stops the simulator nor prints anything.
    trusting = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(tls_files[0]), retries=False)
    assert _revoke_over(trusting, tls_sim, keys).status == 202
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_plain_http_to_the_tls_port_gets_no_answer(tls_sim: VonageSimulator) -> None:
    port = int(tls_sim.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"PATCH /v1/messages/{MESSAGE} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
        answer = conn.recv(65536)

    assert not answer.startswith(b"HTTP/")
    assert tls_sim.requests == []


def test_tls_stop_closes_keep_alive_connections(
    tls_sim: VonageSimulator, keys: KeyPair, tls_files: tuple[Path, Path]
) -> None:
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(tls_files[0]), retries=False, timeout=5.0)
    url = f"{tls_sim.base_url}/v1/messages/{MESSAGE}"
    headers = {"Authorization": f"Bearer {make_token(keys.private)}", "Content-Type": "application/json"}
    assert pool.request("PATCH", url, body=REVOKE, headers=headers).status == 202

    tls_sim.stop()

    with pytest.raises(HTTPError):
        pool.request("PATCH", url, body=REVOKE, headers=headers)


def test_tls_files_that_do_not_match_are_refused_at_set_up(keys: KeyPair, tmp_path: Path) -> None:
    cert_a, _ = generate_self_signed_cert(tmp_path / "a")
    _, key_b = generate_self_signed_cert(tmp_path / "b")
    with pytest.raises(ssl.SSLError):
        VonageSimulator(APP_ID, keys.public_pem, tls=(cert_a, key_b))


def test_cli_serves_https_with_tls_flags(keys: KeyPair, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    key_file = tmp_path / "app.pub"
    key_file.write_bytes(keys.public_pem)
    command = [sys.executable, "-m", "offline.vonage_simulator", "--port", "0", "--application-id", APP_ID]
    command += ["--public-key-file", str(key_file), "--tls-cert", str(tls_files[0]), "--tls-key", str(tls_files[1])]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.fullmatch(r"vonage simulator listening on (https://127\.0\.0\.1:\d+)\n", line)
            assert match, line
            pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(tls_files[0]), retries=False)
            response = pool.request(
                "PATCH",
                f"{match.group(1)}/v1/messages/{MESSAGE}",
                body=REVOKE,
                headers={"Authorization": f"Bearer {make_token(keys.private)}", "Content-Type": "application/json"},
                timeout=5.0,
            )
            assert response.status == 202

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
        assert process.stderr is not None
        assert process.stderr.read() == ""


def test_cli_tls_flags_go_together(keys: KeyPair, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    key_file = tmp_path / "app.pub"
    key_file.write_bytes(keys.public_pem)
    command = [sys.executable, "-m", "offline.vonage_simulator", "--application-id", APP_ID]
    command += ["--public-key-file", str(key_file), "--tls-cert", str(tls_files[0])]

    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 2
    assert "--tls-cert and --tls-key go together" in result.stderr
