"""offline.local_api over real loopback HTTP: routes from the template, the proxy event API Gateway builds, the
answers it writes back, its own errors (gateway responses), concurrency, and the real API function end to end."""

from __future__ import annotations

import base64
import http.client
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offline.cfn_template import DEFAULT_TEMPLATE
from offline.local_api import SIGV4_NOTICE, LocalApi
from rcs_revoker.api.routes import API_ROUTES, WEBHOOK_ROUTES
from tests.conftest import Stack, load_event

MESSAGE = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
NOT_UTF8 = b"\xff\xfe\x00 not utf-8"

# A tiny stack: an echo function answering with the event it got, and one that misbehaves on request.
TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 7
    MemorySize: 512
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      BinaryMediaTypes: [image~1png]
      Auth: {DefaultAuthorizer: AWS_IAM}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-echo"
      CodeUri: PACKAGE/echo/
      Handler: handler.lambda_handler
      Events:
        Revoke: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/messages/{message_uuid}/revoke", Method: post}}
        Submit: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /revocations, Method: post}}
        Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/revocations/{message_uuid}", Method: get}}
        Stats: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /revocations/stats, Method: get}}
        Files: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/files/{path+}", Method: any}}
        Webhook:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /webhooks/vonage/status, Method: post, Auth: {Authorizer: NONE}}
  FaultyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: PACKAGE/faulty/
      Handler: handler.handle
      Timeout: 1
      Events:
        Fault: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/faulty/{mode}", Method: get}}
"""

ECHO = """
import json
import time


def lambda_handler(event, context):
    if (event.get("queryStringParameters") or {}).get("sleep"):
        time.sleep(float(event["queryStringParameters"]["sleep"]))
    seen = {
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
    return {"statusCode": 200, "body": json.dumps({"event": event, "context": seen})}
"""

FAULTY = """
import base64
import time

PNG = b"\\x89PNG\\r\\n\\x1a\\n\\x00\\xff"


def handle(event, context):
    mode = event["pathParameters"]["mode"]
    if mode == "raise":
        raise RuntimeError("the function failed")
    if mode == "slow":
        time.sleep(1.3)
        return {"statusCode": 200, "body": "too late"}
    if mode == "not-an-object":
        return "ok"
    if mode == "body-not-a-string":
        return {"statusCode": 200, "body": {"a": 1}}
    if mode == "no-status":
        return {"body": "x"}
    if mode == "headers":
        return {
            "statusCode": 201,
            "headers": {"X-One": "1", "Set-Cookie": "c=3"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2", "c=3"]},
            "body": "text",
        }
    if mode == "binary":
        body = base64.b64encode(PNG).decode()
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": body, "isBase64Encoded": True}
    if mode == "bad-base64":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "%%%", "isBase64Encoded": True}
    return {"statusCode": 418, "body": ""}
"""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def headers_named(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)

    def event(self) -> dict[str, Any]:
        """What the echo function was given."""
        event: dict[str, Any] = self.json()["event"]
        return event


def send(
    api: LocalApi,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Answer:
    """One request over its own connection, the target sent exactly as given (no client-side quoting)."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.putrequest(method, target)
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


@pytest.fixture
def tiny_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalApi]:
    """LocalApi on the tiny template, its handlers in a package of their own under tmp_path."""
    package = f"local_api_fakes_{uuid.uuid4().hex[:8]}"
    for name, source in (("echo", ECHO), ("faulty", FAULTY)):
        folder = tmp_path / package / name
        folder.mkdir(parents=True)
        (folder / "handler.py").write_text(source, encoding="utf-8")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.replace("PACKAGE", package), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with LocalApi(template, stack_name="tiny", log=None) as api:
        yield api


def test_every_api_event_of_the_template_becomes_a_route_with_its_function() -> None:
    routes = LocalApi(DEFAULT_TEMPLATE, log=None).routes

    assert {(route.method, route.path) for route in routes} == set(API_ROUTES) | set(WEBHOOK_ROUTES)
    for route in routes:
        webhook = (route.method, route.path) in WEBHOOK_ROUTES
        assert route.function.logical_id == ("StatusWebhookFunction" if webhook else "RevokeApiFunction")
        assert route.function.module == (
            "functions.status_webhook.handler" if webhook else "functions.revoke_api.handler"
        )
        assert route.function.attribute == "lambda_handler"
        assert route.function.timeout_s == (10 if webhook else 15)
        assert (route.stage, route.authorizer) == ("v1", "NONE" if webhook else "AWS_IAM")


def test_routes_name_their_own_function_and_auth_and_the_start_says_sigv4_is_not_checked(
    tmp_path: Path, tiny_api: LocalApi
) -> None:
    by_event = {route.event_id: route for route in tiny_api.routes}

    assert by_event["Fault"].function.module.endswith(".faulty.handler")
    assert by_event["Fault"].function.timeout_s == 1
    assert by_event["Revoke"].function.timeout_s == 7  # from Globals
    assert by_event["Revoke"].function.function_name == "tiny-echo"
    assert by_event["Webhook"].authorizer == "NONE"
    assert by_event["Files"].method == "ANY"
    log = io.StringIO()
    with LocalApi(tmp_path / "template.yaml", log=log) as api:
        assert api.url == f"http://127.0.0.1:{api.port}"
    assert SIGV4_NOTICE in log.getvalue()
    assert "POST   /webhooks/vonage/status -> EchoFunction" in log.getvalue()


def test_the_event_has_every_field_of_the_sample_events_with_what_api_gateway_puts_there(tiny_api: LocalApi) -> None:
    # Given the sample API Gateway gave the function in production
    sample = load_event("api_revoke_by_region.json")

    # When the same request reaches the local API
    before = time.time()
    answer = send(
        tiny_api,
        "POST",
        f"/messages/{MESSAGE}/revoke",
        b'{"region": "eu"}',
        [("Content-Type", "application/json"), ("Accept", "application/json"), ("User-Agent", "campaign/2.3")],
    )

    # Then the function gets an event with the same fields, filled as API Gateway fills them
    assert answer.status == 200
    event = answer.event()
    assert set(event) == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"])
    assert set(event["requestContext"]["identity"]) == set(sample["requestContext"]["identity"])
    assert (event["resource"], event["httpMethod"]) == (sample["resource"], sample["httpMethod"])
    assert event["path"] == f"/messages/{MESSAGE}/revoke"
    assert event["pathParameters"] == {"message_uuid": MESSAGE}
    assert (event["body"], event["isBase64Encoded"]) == (sample["body"], sample["isBase64Encoded"])
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/messages/{message_uuid}/revoke"
    assert context["path"] == f"/v1/messages/{MESSAGE}/revoke"
    assert (context["stage"], context["httpMethod"], context["protocol"]) == ("v1", "POST", "HTTP/1.1")
    assert context["accountId"] == sample["requestContext"]["accountId"]
    assert str(uuid.UUID(context["requestId"])) == context["requestId"]
    assert context["requestId"] == answer.header("x-amzn-RequestId")
    assert before * 1000 - 1000 <= context["requestTimeEpoch"] <= time.time() * 1000 + 1000
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert context["domainName"] == f"127.0.0.1:{tiny_api.port}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "campaign/2.3"
    assert context["identity"]["caller"] is None  # no SigV4 check, hence no caller
    headers = event["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Port"] == str(tiny_api.port)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", headers["X-Amzn-Trace-Id"])
    assert event["multiValueHeaders"] == {name: [value] for name, value in headers.items()}
    # And the function ran with its template's limits
    assert answer.json()["context"]["function_name"] == "tiny-echo"
    assert answer.json()["context"]["memory_limit_in_mb"] == 512
    assert 6000 < answer.json()["context"]["remaining_ms"] <= 7000


@pytest.mark.parametrize(
    ("method", "target", "sample_name"),
    [
        ("GET", "/revocations/11111111-1111-4111-8111-111111111111", "api_get_revocation.json"),
        ("POST", "/revocations", "api_submit_batch.json"),
    ],
)
def test_routes_without_a_body_or_without_path_parameters_get_nulls_like_the_samples(
    tiny_api: LocalApi, method: str, target: str, sample_name: str
) -> None:
    sample = load_event(sample_name)

    event = send(tiny_api, method, target, None if method == "GET" else b"{}").event()

    assert (event["resource"], event["path"]) == (sample["resource"], sample["path"])
    assert event["pathParameters"] == sample["pathParameters"]
    assert (event["body"] is None) == (sample["body"] is None)
    assert set(event) == set(sample)


def test_path_parameters_are_as_sent_and_the_most_specific_resource_wins(tiny_api: LocalApi) -> None:
    encoded = send(tiny_api, "GET", "/revocations/a%20b%2Fc").event()
    literal = send(tiny_api, "GET", "/revocations/stats").event()
    greedy = send(tiny_api, "DELETE", "/files/2026/11/report.csv").event()

    # REST APIs pass the path and its parameters still percent-encoded
    assert encoded["pathParameters"] == {"message_uuid": "a%20b%2Fc"}
    assert encoded["path"] == "/revocations/a%20b%2Fc"
    # A literal segment beats a {param}; {param+} takes the rest of the path, for any method (ANY)
    assert (literal["resource"], literal["pathParameters"]) == ("/revocations/stats", None)
    assert greedy["pathParameters"] == {"path": "2026/11/report.csv"}
    assert (greedy["resource"], greedy["httpMethod"]) == ("/files/{path+}", "DELETE")


def test_query_strings_are_decoded_the_last_value_single_and_every_value_multi(tiny_api: LocalApi) -> None:
    event = send(tiny_api, "GET", f"/revocations/{MESSAGE}?region=eu&tag=a&tag=b&empty=&q=a%20b%26c").event()

    assert event["queryStringParameters"] == {"region": "eu", "tag": "b", "empty": "", "q": "a b&c"}
    assert event["multiValueQueryStringParameters"] == {
        "region": ["eu"],
        "tag": ["a", "b"],
        "empty": [""],
        "q": ["a b&c"],
    }


def test_repeated_headers_keep_the_last_value_single_and_every_value_multi(tiny_api: LocalApi) -> None:
    event = send(
        tiny_api,
        "GET",
        f"/revocations/{MESSAGE}",
        headers=[("X-Tag", "one"), ("X-Tag", "two"), ("X-Forwarded-For", "198.51.100.7")],
    ).event()

    assert event["headers"]["X-Tag"] == "two"
    assert event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["headers"]["X-Forwarded-For"] == "198.51.100.7, 127.0.0.1"


@pytest.mark.parametrize(
    ("body", "content_type", "expected_body", "encoded"),
    [
        (b'{"region": "eu"}', "application/json", '{"region": "eu"}', False),
        ("délai".encode(), "text/plain; charset=utf-8", "délai", False),
        (NOT_UTF8, "application/octet-stream", base64.b64encode(NOT_UTF8).decode(), True),
        (b"PNG but valid text", "image/png", base64.b64encode(b"PNG but valid text").decode(), True),
        (b"", "application/json", None, False),
    ],
    ids=["json", "utf-8-text", "not-utf-8", "binary-media-type", "empty"],
)
def test_a_body_is_text_or_base64_as_api_gateway_sends_it(
    tiny_api: LocalApi, body: bytes, content_type: str, expected_body: str | None, encoded: bool
) -> None:
    event = send(tiny_api, "POST", f"/messages/{MESSAGE}/revoke", body, [("Content-Type", content_type)]).event()

    assert event["body"] == expected_body
    assert event["isBase64Encoded"] is encoded


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/nowhere"), ("GET", f"/messages/{MESSAGE}/revoke"), ("POST", "/"), ("PUT", "/revocations")],
    ids=["unknown-path", "known-path-other-method", "root", "known-path-put"],
)
def test_unknown_routes_get_api_gateways_403_missing_authentication_token(
    tiny_api: LocalApi, method: str, target: str
) -> None:
    answer = send(tiny_api, method, target, b"{}" if method != "GET" else None)

    assert answer.status == 403
    assert answer.json() == {"message": "Missing Authentication Token"}
    assert answer.header("Content-Type") == "application/json"
    assert answer.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert uuid.UUID(str(answer.header("x-amzn-RequestId")))


@pytest.mark.parametrize("mode", ["raise", "slow", "not-an-object", "body-not-a-string", "no-status"])
def test_a_failing_function_or_a_malformed_answer_is_api_gateways_502(tiny_api: LocalApi, mode: str) -> None:
    answer = send(tiny_api, "GET", f"/faulty/{mode}")

    assert answer.status == 502
    assert answer.body == b'{"message": "Internal server error"}'
    assert answer.header("x-amzn-ErrorType") == "InternalServerErrorException"


def test_the_answer_merges_headers_and_multi_value_headers_and_defaults_the_content_type(
    tiny_api: LocalApi,
) -> None:
    answer = send(tiny_api, "GET", "/faulty/headers")

    assert answer.status == 201
    assert answer.headers_named("Set-Cookie") == ["a=1", "b=2", "c=3"]  # c=3 in both: sent once
    assert answer.header("X-One") == "1"
    assert answer.header("Content-Type") == "application/json"
    assert answer.body == b"text"
    assert answer.header("x-amz-apigw-id")


def test_a_base64_answer_is_decoded_only_for_a_binary_media_type_the_client_accepts(tiny_api: LocalApi) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"

    accepted = send(tiny_api, "GET", "/faulty/binary", headers=[("Accept", "image/png")])
    not_accepted = send(tiny_api, "GET", "/faulty/binary", headers=[("Accept", "application/json")])
    undecodable = send(tiny_api, "GET", "/faulty/bad-base64", headers=[("Accept", "image/png")])

    assert (accepted.status, accepted.body, accepted.header("Content-Type")) == (200, png, "image/png")
    assert not_accepted.body == base64.b64encode(png)  # API Gateway sends the text as the function gave it
    assert (undecodable.status, undecodable.json()) == (500, {"message": "Internal server error"})


def test_the_templates_gateway_responses_shape_the_apis_own_errors(
    aws_sdk_env: None, service_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the real template, whose API answers its own errors as RFC 9457 problem documents (aws_sdk_env:
    # the handler's cold start builds this process's AWS clients, which must point at the offline stack)
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr("functions.revoke_api.handler.lambda_handler", failing)
    with LocalApi(DEFAULT_TEMPLATE, log=None) as api:
        # When a route does not exist, and when the function fails
        unknown = send(api, "GET", "/no/such/route")
        failed = send(api, "GET", f"/revocations/{MESSAGE}")

    # Then both are the template's DEFAULT_4XX / DEFAULT_5XX, filled in
    assert unknown.status == 403
    assert unknown.header("Content-Type") == "application/problem+json"
    assert unknown.json() == {
        "type": "about:blank",
        "title": "MISSING_AUTHENTICATION_TOKEN",
        "detail": "Missing Authentication Token",
        "requestId": unknown.header("x-amzn-RequestId"),
    }
    assert failed.status == 502
    assert failed.header("Content-Type") == "application/problem+json"
    assert failed.json()["title"] == "DEFAULT_5XX"
    assert failed.json()["detail"] == "Internal server error"


def test_twenty_parallel_requests_are_served_at_once_each_with_its_own_event(tiny_api: LocalApi) -> None:
    messages = [str(uuid.uuid4()) for _ in range(20)]

    def revoke(message: str) -> Answer:
        return send(tiny_api, "POST", f"/messages/{message}/revoke?sleep=0.3", f'{{"m": "{message}"}}'.encode())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(revoke, messages))
    elapsed = time.monotonic() - started

    assert [answer.status for answer in answers] == [200] * 20
    events = [answer.event() for answer in answers]
    assert [event["pathParameters"]["message_uuid"] for event in events] == messages
    assert [json.loads(event["body"])["m"] for event in events] == messages
    assert len({event["requestContext"]["requestId"] for event in events}) == 20
    assert elapsed < 20 * 0.3 / 2  # concurrent, not one after the other


def test_stop_ends_the_server_and_its_idle_keep_alive_connections(tiny_api: LocalApi) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", tiny_api.port, timeout=5)
    connection.request("GET", f"/revocations/{MESSAGE}")
    assert connection.getresponse().read()  # the connection stays open (HTTP/1.1 keep-alive)
    port = tiny_api.port

    tiny_api.stop()

    assert not [thread for thread in threading.enumerate() if thread.name == f"local-api-{port}"]
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
    connection.close()


def test_a_revocation_end_to_end_through_the_local_api_against_the_offline_stack(
    aws_sdk_env: None, stack: Stack
) -> None:
    # Given the real API function behind the local API, on moto server and the Vonage simulator
    with LocalApi(DEFAULT_TEMPLATE, log=None) as api:
        # When a sender asks for a revocation over HTTP, then reads its ledger entry
        revoked = send(
            api, "POST", f"/messages/{MESSAGE}/revoke", b'{"region": "eu"}', [("Content-Type", "application/json")]
        )
        entry = send(api, "GET", f"/revocations/{MESSAGE}")

    # Then Vonage got exactly one PATCH and the ledger says so
    assert revoked.status == 202, revoked.body
    assert revoked.json()["status"] == "revocation_requested"
    assert revoked.json()["host"] == "api-eu.nexmo.com"
    assert stack.vonage.patches_for(MESSAGE) == 1
    assert entry.status == 200, entry.body
    assert entry.json()["state"] == "requested"
    # And the function's correlation id is API Gateway's request id
    logged = [record for record in stack.log_records if record.get("correlation_id")]
    assert revoked.header("x-amzn-RequestId") in {record["correlation_id"] for record in logged}
