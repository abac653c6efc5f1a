"""The JSON protocol's signer (adapters/sigv4.py) signs exactly as botocore's SigV4Auth does, for the same
request at the same second: with and without a session token, at a port and at a default one, over days (the
cached signing key is per day and per secret)."""

from datetime import UTC, datetime

import pytest
from botocore import auth as botocore_auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from rcs_revoker.adapters.sigv4 import JsonRequestSigner, host_of

CONTENT_TYPE = "application/x-amz-json-1.0"
BODY = b'{"TableName":"ledger","Key":{"message_uuid":{"S":"0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"}}}'
TARGET = "DynamoDB_20120810.GetItem"


def botocore_headers(
    monkeypatch: pytest.MonkeyPatch, url: str, credentials: ReadOnlyCredentials, now: datetime
) -> dict[str, str]:
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
    request = AWSRequest("POST", url, data=BODY, headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET})
    SigV4Auth(credentials, "dynamodb", "eu-west-1").add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("url", ["https://dynamodb.eu-west-1.amazonaws.com/", "http://127.0.0.1:5123/"])
@pytest.mark.parametrize("token", ["FwoGZXIvYXdzEXAMPLE//token=", None])
def test_the_signature_is_botocore_s(monkeypatch: pytest.MonkeyPatch, url: str, token: str | None) -> None:
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signer = JsonRequestSigner("dynamodb", "eu-west-1", url, CONTENT_TYPE)
    for now in (datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC), datetime(2026, 12, 8, 0, 0, 1, tzinfo=UTC)):
        expected = botocore_headers(monkeypatch, url, credentials, now)
        assert signer.headers(TARGET, BODY, credentials, now) == expected


def test_a_new_secret_signs_with_a_new_key(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://dynamodb.eu-west-1.amazonaws.com/"
    signer = JsonRequestSigner("dynamodb", "eu-west-1", url, CONTENT_TYPE)
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    for secret in ("first-secret", "rotated-secret"):
        credentials = ReadOnlyCredentials("AKIDEXAMPLE", secret, "token")
        expected = botocore_headers(monkeypatch, url, credentials, now)["Authorization"]
        assert signer.headers(TARGET, BODY, credentials, now)["Authorization"] == expected


def test_the_host_is_signed_as_botocore_names_it() -> None:
    assert host_of("https://DynamoDB.eu-west-1.amazonaws.com:443/") == "dynamodb.eu-west-1.amazonaws.com"
    assert host_of("http://127.0.0.1:80/") == "127.0.0.1"
    assert host_of("http://[::1]:5000/") == "[::1]:5000"
