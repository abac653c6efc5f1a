"""docs/openapi.yaml's examples, against the handlers themselves (in-process, with real API Gateway events, on the
offline stack): every request example is valid by its schema, accepted by the handler (not a 400 or 413 refusal
of the input), and answered with a status the operation documents, in a body its schema allows; every example
answer is what the handler answers for the request the example names (`x-request`), in the state it names
(`x-given`).

Why an error example names its request in an extension rather than by pairing request and answer examples by
name: the request that produces a 400 is not a valid request, and the document's request examples are all valid
ones (they are what an integrator copies); an `x-request` also says what no request example can, such as a
body that is not JSON, or a webhook call without a signature.

An answer matches its example field for field; within a text, numbers may differ (times, sizes, Vonage's request
ids are the run's own), nothing else may.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest

from offline.aws_seed import put_agent, store_vonage_secret
from offline.lambda_context import LocalLambdaContext
from offline.vonage_simulator import Outcome
from offline.vonage_webhooks import sign_callback
from tests.conftest import (
    AGENTS_TABLE,
    API_KEY,
    APPLICATION_ID,
    LEDGER_TABLE,
    SECRET_NAME,
    SIGNATURE_SECRET,
    Stack,
    api_event,
    body_of,
    eventbridge_event,
)
from tests.openapi_kit import DOCUMENT, resolved

# The path parameters of an example that names none; the request id of every request (an answer's `instance`).
DEFAULT_PATH = {
    "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    "batch_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
}
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
WEBHOOK_HANDLER = "functions.status_webhook.handler"
API_HANDLER = "functions.revoke_api.handler"
# The refusals of the input itself: what a request example must never get.
INPUT_REFUSALS = {"urn:rcs-revoker:problem:invalid-request", "urn:rcs-revoker:problem:request-too-large"}


@dataclass(frozen=True)
class Example:
    operation: str
    method: str
    path: str
    status: int | None  # None: a request example
    name: str
    example: dict[str, Any]
    schema: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.status or 'request'}-{self.name}"


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method.upper(), path, operation


def examples() -> Iterator[Example]:
    for method, path, operation in operations():
        name = operation["operationId"]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for key, example in body.get("examples", {}).items():
            yield Example(name, method, path, None, key, resolved(example), body["schema"])
        for status, response in operation["responses"].items():
            for media in resolved(response).get("content", {}).values():
                for key, example in media.get("examples", {}).items():
                    if "x-request" in resolved(example):  # the rest are API Gateway's own (the template test's)
                        yield Example(name, method, path, int(status), key, resolved(example), media["schema"])


def schema_validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """A validator of `schema`, whose $refs resolve in this document."""
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def first_request_body(method: str, path: str) -> Any:
    content = DOCUMENT["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    bodies = [example["value"] for example in content.get("application/json", {}).get("examples", {}).values()]
    return bodies[0] if bodies else None


# --- the states an example names (x-given) --------------------------------------------------------------------
MESSAGE = DEFAULT_PATH["message_uuid"]


def signed_callback_event(body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    text = json.dumps(body)
    event = api_event("unused", raw_body=text, path="/webhooks/vonage/status", request_id=REQUEST_ID)
    signed = sign_callback(text.encode(), SIGNATURE_SECRET, api_key=API_KEY, application_id=APPLICATION_ID)
    event.update(
        resource="/webhooks/vonage/status", pathParameters=None, headers=signed if headers is None else headers
    )
    return event


def revoke(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke_api(api_event(MESSAGE, body, request_id="given"))


def in_progress(stack: Stack) -> None:
    """Another request holds the message's idempotency record, in progress, for a minute more."""
    stack.hold_in_progress(MESSAGE, for_s=60)


def delivered(stack: Stack) -> None:
    callback = {"message_uuid": MESSAGE, "status": "delivered", "timestamp": "2026-12-02T09:30:05.120Z"}
    answer = stack.handler(WEBHOOK_HANDLER).lambda_handler(signed_callback_event(callback), LocalLambdaContext())
    assert answer["statusCode"] == 200, answer


def scheduled_then_revoked_now(stack: Stack) -> None:
    revoke(stack, {"region": "eu", "after_seconds": 600})
    revoke(stack, {"region": "eu"})  # an immediate revocation ends the pending timer


def batch_submitted(stack: Stack) -> dict[str, str]:
    body = {"region": "eu", "messages": [{"message_uuid": MESSAGE}]}
    event = api_event("unused", body, path="/revocations", request_id="given")
    event.update(resource="/revocations", pathParameters=None)
    answer = stack.invoke_api(event)
    assert answer["statusCode"] == 202, answer
    return {"batch_id": body_of(answer)["batch_id"]}  # the batch it made, in place of the example's


def unexpected_failure(stack: Stack) -> None:
    def explode() -> None:
        raise RuntimeError("an unexpected failure")

    for module in (API_HANDLER, WEBHOOK_HANDLER):
        stack.monkeypatch.setattr(stack.handler(module), "service", explode)


def no_signature_secret(stack: Stack) -> None:
    store_vonage_secret(stack.moto.endpoint_url, SECRET_NAME, APPLICATION_ID, stack.keys.private_pem)


def without(*names: str) -> Callable[[Stack], None]:
    def given(stack: Stack) -> None:
        for name in names:
            stack.set_env(name, None)

    return given


# Each state: how to put the stack in it. A given may return path parameters to use instead of the example's.
GIVEN: dict[str, Callable[[Stack], dict[str, str] | None]] = {
    "agent-acme-sg-promotions": lambda stack: put_agent(
        stack.moto.endpoint_url, AGENTS_TABLE, "acme-sg-promotions", country="SG"
    ),
    "default-region-eu": lambda stack: stack.set_env("DEFAULT_REGION", "eu"),
    "vonage-answers-404": lambda stack: stack.vonage.program(MESSAGE, Outcome.not_found()),
    "vonage-answers-422": lambda stack: stack.vonage.program(MESSAGE, Outcome.unprocessable()),
    "vonage-answers-429": lambda stack: stack.vonage.program(MESSAGE, Outcome.rate_limited(retry_after=7)),
    "vonage-answers-403": lambda stack: stack.vonage.program(MESSAGE, Outcome.forbidden(), Outcome.forbidden()),
    "vonage-answers-503": lambda stack: stack.vonage.program(MESSAGE, *[Outcome.server_error(503)] * 10),
    "vonage-too-slow": lambda stack: stack.vonage.program(MESSAGE, *[Outcome.slow(30)] * 10),
    "another-request-in-progress": in_progress,
    "vonage-reported-delivered": delivered,
    "revocation-accepted": lambda stack: revoke(stack, {"region": "eu"}),
    "revocation-scheduled": lambda stack: revoke(stack, {"region": "eu", "after_seconds": 600}),
    "scheduled-then-revoked-now": scheduled_then_revoked_now,
    "batch-submitted": batch_submitted,
    "no-secret": lambda stack: stack.set_env("VONAGE_SECRET_ID", "rcs-revoker/no-such-secret"),
    "no-signature-secret": no_signature_secret,
    "no-ledger-or-queue": without("LEDGER_TABLE_NAME", "REVOCATION_QUEUE_URL"),
    "ledger-unavailable": lambda stack: stack.aws.fail("DynamoDB_20120810.", matching=LEDGER_TABLE),
    "queue-unavailable": lambda stack: stack.aws.fail("AmazonSQS.SendMessageBatch"),
    "an-unexpected-failure": unexpected_failure,
}
# The function's time for a request whose given makes it wait out its deadline (template.yaml gives it 15 s).
TIMEOUT_S = {"vonage-too-slow": 8.0}


def request_event(example: Example, path_parameters: dict[str, str]) -> dict[str, Any]:
    """The API Gateway event of the request an example names."""
    request = example.example.get("x-request", {"body": example.example.get("value")})
    names = re.findall(r"{(\w+)}", example.path)
    parameters = {name: {**DEFAULT_PATH, **request.get("path", {}), **path_parameters}[name] for name in names}
    path = example.path.format(**parameters)
    if "raw_body" in request:
        text = request["raw_body"]
    elif "body_bytes" in request:
        text = json.dumps({"region": "eu", "padding": ""})
        text = json.dumps({"region": "eu", "padding": "x" * (request["body_bytes"] - len(text))})
    else:
        body = request["body"] if "body" in request else first_request_body(example.method, example.path)
        text = None if body is None else json.dumps(body)
    event = api_event(
        parameters.get("message_uuid", "unused"),
        raw_body=text,
        base64_encoded=request.get("base64", False),
        method=example.method,
        path=path,
        request_id=REQUEST_ID,
    )
    event.update(resource=example.path, pathParameters=parameters or None)
    if example.operation == "VonageStatus":
        signed = sign_callback((text or "").encode(), SIGNATURE_SECRET, api_key=API_KEY, application_id=APPLICATION_ID)
        event["headers"] = request.get("headers", signed)
    return event


def answer_to(stack: Stack, example: Example) -> dict[str, Any]:
    given = example.example.get("x-given")
    assert given is None or given in GIVEN, f"{example.id}: no way to set up the state {given!r} (GIVEN)"
    path_parameters = (GIVEN[given](stack) if given else None) or {}
    module = WEBHOOK_HANDLER if example.operation == "VonageStatus" else API_HANDLER
    context = LocalLambdaContext(timeout_s=TIMEOUT_S.get(given or "", 15.0))
    answer: dict[str, Any] = stack.handler(module).lambda_handler(request_event(example, path_parameters), context)
    return answer


def tolerant(text: str) -> str:
    """A pattern of `text` in which each number may be another (a time, a size, an id of the run)."""
    return r"\d+(?:\.\d+)?".join(re.escape(part) for part in re.split(r"\d+", text))


def differences(documented: Any, actual: Any, where: str = "") -> list[str]:
    if isinstance(documented, dict) and isinstance(actual, dict):
        if documented.keys() != actual.keys():
            return [f"{where or 'body'}: fields {sorted(documented)} documented, {sorted(actual)} answered"]
        return [line for key in documented for line in differences(documented[key], actual[key], f"{where}.{key}")]
    if isinstance(documented, list) and isinstance(actual, list) and len(documented) == len(actual):
        return [
            line
            for i, (d, a) in enumerate(zip(documented, actual, strict=True))
            for line in differences(d, a, f"{where}[{i}]")
        ]
    if isinstance(documented, str) and isinstance(actual, str):
        return (
            []
            if re.fullmatch(tolerant(documented), actual)
            else [f"{where}: {documented!r} documented, {actual!r} answered"]
        )
    return (
        []
        if documented == actual and type(documented) is type(actual)
        else [f"{where}: {documented!r} documented, {actual!r} answered"]
    )


def documented_statuses(example: Example) -> set[int]:
    return {int(status) for status in DOCUMENT["paths"][example.path][example.method.lower()]["responses"]}


def response_schema(example: Example, status: int, content_type: str) -> dict[str, Any]:
    response = resolved(DOCUMENT["paths"][example.path][example.method.lower()]["responses"][str(status)])
    schema: dict[str, Any] = response["content"][content_type]["schema"]
    return schema


REQUEST_EXAMPLES = [example for example in examples() if example.status is None]
ANSWER_EXAMPLES = [example for example in examples() if example.status is not None]


def test_the_document_has_examples_of_requests_and_of_answers() -> None:
    # Else every test below could pass on a document whose examples moved where examples() does not look.
    assert {example.operation for example in REQUEST_EXAMPLES} == {
        "Revoke",
        "SubmitBatch",
        "DryRunRevoke",
        "VonageStatus",
    }
    assert len(ANSWER_EXAMPLES) >= 40


@pytest.mark.parametrize("example", REQUEST_EXAMPLES, ids=lambda example: example.id)
def test_a_request_example_is_valid_and_the_handler_accepts_it(stack: Stack, example: Example) -> None:
    errors = [error.message for error in schema_validator(example.schema).iter_errors(example.example["value"])]
    assert errors == [], f"{example.id} does not match its schema"

    answer = answer_to(stack, example)

    status = answer["statusCode"]
    content_type = answer["headers"]["Content-Type"]
    body = json.loads(answer["body"])
    assert status in documented_statuses(example), f"{example.id}: {status} {answer['body']}"
    assert body.get("type") not in INPUT_REFUSALS, f"{example.id} refused: {answer['body']}"
    assert [
        error.message for error in schema_validator(response_schema(example, status, content_type)).iter_errors(body)
    ] == []


@pytest.mark.parametrize("example", ANSWER_EXAMPLES, ids=lambda example: example.id)
def test_an_answer_example_is_what_the_handler_answers(stack: Stack, example: Example) -> None:
    assert example.status is not None
    answer = answer_to(stack, example)

    body = json.loads(answer["body"])
    shown = json.dumps(body)
    assert answer["statusCode"] == example.status, f"{example.id}: {answer['statusCode']} {shown}"
    content_type = answer["headers"]["Content-Type"]
    schema = response_schema(example, example.status, content_type)
    assert [error.message for error in schema_validator(schema).iter_errors(body)] == [], shown
    if example.status >= 400:
        assert differences(example.example["value"], body) == [], shown
    else:
        # A success answer carries the run's own times and ids: its example must be of its schema, and the
        # answer too (above).
        assert [error.message for error in schema_validator(schema).iter_errors(example.example["value"])] == []


@pytest.mark.parametrize(
    "detail",
    [example for example in DOCUMENT["components"]["schemas"]["RevocationRequestedDetail"]["examples"]],
)
def test_an_event_detail_example_is_valid_and_the_event_handler_accepts_it(
    stack: Stack, detail: dict[str, Any]
) -> None:
    schema = {"$ref": "#/components/schemas/RevocationRequestedDetail"}
    assert [error.message for error in schema_validator(schema).iter_errors(detail)] == []

    result = stack.invoke_event(eventbridge_event(detail))

    assert result["outcome"] == "accepted", result
