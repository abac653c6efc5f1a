"""The local API's optional SigV4 check (offline.sigv4_check): requests signed by botocore pass, anything else
gets API Gateway's 403, shaped by the template's gateway responses; the unsigned webhook stays open."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from offline.cfn_template import load_template
from offline.local_api import SIGV4_CHECKED_NOTICE, LocalApi
from offline.sigv4_check import (
    TEST_CREDENTIALS,
    SigningCredentials,
    SigV4Check,
    credentials_from_environment,
)
from tests.offline.test_local_api import ECHO, Answer, send

REGION = "eu-west-1"
MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
BODY = b'{"region": "eu"}'
# An echo function behind one SigV4 route and the unsigned webhook, on an API with the real template's
# gateway responses (problem+json).
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth: {DefaultAuthorizer: AWS_IAM}
      GatewayResponses: GATEWAY_RESPONSES
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: PACKAGE/echo/
      Handler: handler.lambda_handler
      Events:
        Revoke: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/messages/{message_uuid}/revoke", Method: post}}
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/revocations/{message_uuid}", Method: get}}
        Webhook:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /webhooks/vonage/status, Method: post, Auth: {Authorizer: NONE}}
"""


class Clock:
    """The check's clock, moved by the tests."""

    def __init__(self) -> None:
        self.offset = datetime.timedelta()

    def __call__(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def checked_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[LocalApi]:
    package = f"sigv4_fakes_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / package / "echo"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(ECHO, encoding="utf-8")
    responses = load_template()["Resources"]["RevocationApi"]["Properties"]["GatewayResponses"]
    template = tmp_path / "template.yaml"
    text = TEMPLATE.replace("PACKAGE", package).replace("GATEWAY_RESPONSES", json.dumps(responses))
    template.write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    check = SigV4Check(TEST_CREDENTIALS, REGION, clock=clock)
    with LocalApi(template, log=None, sigv4=check) as api:
        yield api


def signed(
    api: LocalApi,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    credentials: SigningCredentials = TEST_CREDENTIALS,
    service: str = "execute-api",
    region: str = REGION,
    headers: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The headers botocore's signer adds for this request (as the AWS SDK for Python would send it)."""
    request = AWSRequest(method=method, url=f"{api.url}{target}", data=body, headers=headers or {})
    botocore_credentials = Credentials(credentials.access_key, credentials.secret_key, credentials.session_token)
    SigV4Auth(botocore_credentials, service, region).add_auth(request)
    return [(name, value) for name, value in request.headers.items()]


def refusal(answer: Answer) -> tuple[int, str, str, str]:
    """(status, x-amzn-ErrorType, the problem's title, its detail) of a gateway response."""
    assert answer.header("Content-Type") == "application/problem+json"
    problem = answer.json()
    return answer.status, str(answer.header("x-amzn-ErrorType")), problem["title"], problem["detail"]


def revoke(api: LocalApi, headers: list[tuple[str, str]], body: bytes = BODY, message: str = MESSAGE) -> Answer:
    return send(api, "POST", f"/messages/{message}/revoke", body, headers)


def test_a_request_signed_by_botocore_reaches_the_function(checked_api: LocalApi) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    answer = revoke(checked_api, signed(checked_api, "POST", target, BODY))
    assert answer.status == 200
    assert answer.event()["body"] == BODY.decode()


def test_a_query_string_and_escaped_path_are_canonicalised_as_botocore_signs_them(checked_api: LocalApi) -> None:
    target = "/revocations/a%20b%2Fc?z=1&a=%C3%A9&a=2&empty="
    answer = send(checked_api, "GET", target, None, signed(checked_api, "GET", target))
    assert answer.status == 200
    assert answer.event()["pathParameters"] == {"message_uuid": "a%20b%2Fc"}


def test_temporary_credentials_need_their_session_token(tmp_path: Path, checked_api: LocalApi) -> None:
    temporary = SigningCredentials("ASIALOCALTEST", "temporary-secret", "the-session-token")
    check = SigV4Check(temporary, REGION)
    with LocalApi(tmp_path / "template.yaml", log=None, sigv4=check) as api:
        target = f"/messages/{MESSAGE}/revoke"
        assert revoke(api, signed(api, "POST", target, BODY, credentials=temporary)).status == 200
        without_token = SigningCredentials(temporary.access_key, temporary.secret_key)
        answer = revoke(api, signed(api, "POST", target, BODY, credentials=without_token))
        assert refusal(answer)[:2] == (403, "UnrecognizedClientException")


def test_a_missing_signature_is_api_gateways_missing_authentication_token(checked_api: LocalApi) -> None:
    answer = revoke(checked_api, [("Content-Type", "application/json")])
    assert refusal(answer) == (
        403,
        "MissingAuthenticationTokenException",
        "MISSING_AUTHENTICATION_TOKEN",
        "Missing Authentication Token",
    )


def test_an_authorization_that_is_not_sigv4_is_an_incomplete_signature(checked_api: LocalApi) -> None:
    answer = revoke(checked_api, [("Authorization", "Bearer some-token")])
    status, error_type, title, detail = refusal(answer)
    assert (status, error_type, title) == (403, "IncompleteSignatureException", "INVALID_SIGNATURE")
    assert "Authorization header requires 'Credential' parameter." in detail
    assert "some-token" not in detail


@pytest.mark.parametrize("tampering", ["body", "path", "signed header", "wrong secret"])
def test_a_changed_request_or_a_wrong_secret_is_an_invalid_signature(checked_api: LocalApi, tampering: str) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    credentials = TEST_CREDENTIALS
    if tampering == "wrong secret":
        credentials = SigningCredentials(TEST_CREDENTIALS.access_key, "not-the-secret")
    headers = signed(checked_api, "POST", target, BODY, credentials=credentials, headers={"X-Client": "a"})
    body, message = BODY, MESSAGE
    if tampering == "body":
        body = b'{"region": "us"}'
    if tampering == "path":
        message = "bbbbbbbb-bbbb-4ccc-8ddd-0123456789ab"
    if tampering == "signed header":
        headers = [(name, "b" if name == "X-Client" else value) for name, value in headers]

    status, error_type, title, detail = refusal(revoke(checked_api, headers, body, message))

    assert (status, error_type, title) == (403, "InvalidSignatureException", "INVALID_SIGNATURE")
    assert detail.startswith("The request signature we calculated does not match the signature you provided.")
    # As API Gateway does, the answer shows the canonical request it signed, to compare with the client's.
    assert f"POST\n/messages/{message}/revoke\n" in detail
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in detail
    assert credentials.secret_key not in detail


def test_a_header_that_is_not_signed_may_be_added(checked_api: LocalApi) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    headers = [*signed(checked_api, "POST", target, BODY), ("X-Added-By-A-Proxy", "1")]
    assert revoke(checked_api, headers).status == 200


def test_a_payload_hash_header_must_be_the_bodys(checked_api: LocalApi) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    declared = {"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
    headers = signed(checked_api, "POST", target, BODY, headers=declared)
    assert revoke(checked_api, headers).status == 200
    status, error_type, _, _ = refusal(revoke(checked_api, headers, b'{"region": "ap"}'))
    assert (status, error_type) == (403, "InvalidSignatureException")


def test_an_unknown_access_key_is_an_unrecognized_client(checked_api: LocalApi) -> None:
    stranger = SigningCredentials("SOMEONEELSESKEY", TEST_CREDENTIALS.secret_key)
    target = f"/messages/{MESSAGE}/revoke"
    answer = revoke(checked_api, signed(checked_api, "POST", target, BODY, credentials=stranger))
    assert refusal(answer) == (
        403,
        "UnrecognizedClientException",
        "DEFAULT_4XX",
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize(
    ("clock_ahead_minutes", "expected"),
    [(6, "Signature expired: "), (-6, "Signature not yet current: "), (4, None), (-4, None)],
)
def test_api_gateway_allows_five_minutes_of_clock_skew(
    checked_api: LocalApi, clock: Clock, clock_ahead_minutes: int, expected: str | None
) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    headers = signed(checked_api, "POST", target, BODY)
    clock.offset = datetime.timedelta(minutes=clock_ahead_minutes)
    answer = revoke(checked_api, headers)
    if expected is None:
        assert answer.status == 200
        return
    status, error_type, title, detail = refusal(answer)
    assert (status, error_type, title) == (403, "InvalidSignatureException", "INVALID_SIGNATURE")
    assert detail.startswith(expected)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"service": "lambda"}, "Credential should be scoped to correct service: 'execute-api'. "),
        ({"region": "us-east-1"}, "Credential should be scoped to a valid region, not 'us-east-1'. "),
    ],
)
def test_a_signature_for_another_service_or_region_is_refused(
    checked_api: LocalApi, scope: dict[str, Any], expected: str
) -> None:
    target = f"/messages/{MESSAGE}/revoke"
    answer = revoke(checked_api, signed(checked_api, "POST", target, BODY, **scope))
    assert refusal(answer) == (403, "IncompleteSignatureException", "INVALID_SIGNATURE", expected)


def test_the_webhook_without_authorizer_is_not_checked(checked_api: LocalApi) -> None:
    answer = send(checked_api, "POST", "/webhooks/vonage/status", b"{}", [("Content-Type", "application/json")])
    assert answer.status == 200
    assert answer.event()["path"] == "/webhooks/vonage/status"


def test_the_start_names_the_accepted_key_never_its_secret(tmp_path: Path, checked_api: LocalApi) -> None:
    log = io.StringIO()
    with LocalApi(tmp_path / "template.yaml", log=log, sigv4=SigV4Check(TEST_CREDENTIALS, REGION)):
        pass
    assert SIGV4_CHECKED_NOTICE in log.getvalue()
    assert TEST_CREDENTIALS.access_key in log.getvalue()
    assert TEST_CREDENTIALS.secret_key not in log.getvalue()
    assert "auth AWS_IAM checked" in log.getvalue()
    assert TEST_CREDENTIALS.secret_key not in repr(TEST_CREDENTIALS)


def test_the_credentials_come_from_the_standard_variables() -> None:
    assert credentials_from_environment({}) is None
    assert credentials_from_environment({"AWS_ACCESS_KEY_ID": "AKID"}) is None
    found = credentials_from_environment(
        {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
    )
    assert found == SigningCredentials("AKID", "secret", "token")
