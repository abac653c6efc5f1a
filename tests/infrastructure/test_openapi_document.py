"""docs/openapi.yaml against what is deployed and what the code answers: a valid OpenAPI 3.1 document; its routes,
operation ids and security those of template.yaml and rcs_revoker.api.routes; its problem types those of
rcs_revoker.api.problems, each with its status and title, each documented under a route with an example; API
Gateway's own answers as template.yaml's gateway responses render them. (That every example is what the handler
answers: tests/integration/test_openapi_examples.py.)

Not fuzzed (schemathesis-style): the validators are hand-written and tested on their own, property-based
(tests/unit), and every documented request and error is run against the handler; a fuzzer would add a
dependency to find what those tests already pin down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from offline.cfn_template import api_routes
from rcs_revoker.api.problems import _PROBLEMS, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX
from rcs_revoker.api.routes import API_ROUTES, WEBHOOK_ROUTES
from rcs_revoker.domain.errors import VonageUnprocessable
from tests.openapi_kit import DOCUMENT, load, resolved

# The problem types answered outside the table of rcs_revoker.api.problems (its route_not_found, internal_error).
UNTABLED_PROBLEMS = {"route-not-found": (404, "No such route"), "internal-error": (500, "Internal error")}
SIGV4: list[dict[str, list[str]]] = [{"sigv4": []}]
VONAGE_SIGNATURE: list[dict[str, list[str]]] = [{"vonageSignedWebhook": []}]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every operation of the document."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, operation


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def catalogue() -> dict[str, dict[str, Any]]:
    """Every problem type of components/schemas/ProblemType, by reason."""
    return {
        entry["const"].removeprefix(PROBLEM_TYPE_PREFIX): entry
        for entry in DOCUMENT["components"]["schemas"]["ProblemType"]["oneOf"]
    }


def problem_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The function's problem schemas in a response's schema (itself, or the members of its oneOf)."""
    for candidate in [schema, *schema.get("oneOf", [])]:
        if candidate.get("$ref") == "#/components/schemas/Problem":
            yield candidate


def route_problems(operation: dict[str, Any]) -> dict[str, int]:
    """reason -> status of every problem type an operation documents it answers."""
    found: dict[str, int] = {}
    for status, response in operation["responses"].items():
        for media in resolved(response).get("content", {}).values():
            for schema in problem_schemas(media["schema"]):
                assert schema["properties"]["status"] == {"const": int(status)}, (operation["operationId"], status)
                for urn in schema["properties"]["type"]["enum"]:
                    found[urn.removeprefix(PROBLEM_TYPE_PREFIX)] = int(status)
    return found


def code_problems() -> dict[str, tuple[int, str]]:
    """reason -> (status, title) of every problem type the code answers with."""
    return {cls.reason: problem for cls, problem in _PROBLEMS.items()} | UNTABLED_PROBLEMS


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)  # raises, naming what is wrong


def test_an_invalid_document_is_refused() -> None:
    # The validation above can fail: a path parameter must be required.
    broken = load()
    del broken["components"]["parameters"]["MessageUuid"]["required"]
    with pytest.raises(Exception, match="required"):
        validate(broken)


def test_its_routes_are_the_templates_and_the_route_tables(template: dict[str, Any]) -> None:
    documented = sorted((method, path) for method, path, _ in operations())
    deployed = sorted((route.method, route.path) for route in api_routes(template))

    assert documented == deployed
    assert documented == sorted({**API_ROUTES, **WEBHOOK_ROUTES})


def test_its_operation_ids_are_the_route_tables_operations() -> None:
    documented = {(method, path): operation["operationId"] for method, path, operation in operations()}

    assert documented == {**API_ROUTES, **WEBHOOK_ROUTES}


def test_security_is_sigv4_on_every_route_but_the_webhook_as_the_template_says(template: dict[str, Any]) -> None:
    documented = {
        (method, path): operation.get("security", DOCUMENT["security"]) for method, path, operation in operations()
    }
    deployed = {(route.method, route.path): route.authorizer for route in api_routes(template)}

    assert DOCUMENT["security"] == SIGV4  # a route added without its own security is signed
    for route, authorizer in deployed.items():
        assert documented[route] == (SIGV4 if authorizer == "AWS_IAM" else VONAGE_SIGNATURE), (route, authorizer)
    assert {route for route, authorizer in deployed.items() if authorizer != "AWS_IAM"} == set(WEBHOOK_ROUTES)


def test_the_sigv4_scheme_is_api_gateways() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]

    assert schemes["sigv4"] | {"description": ""} == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
    assert schemes["vonageSignedWebhook"]["scheme"] == "bearer"


def test_the_catalogue_of_problem_types_is_the_codes_with_statuses_and_titles() -> None:
    documented = {reason: (entry["x-status"], entry["title"]) for reason, entry in catalogue().items()}
    in_code = code_problems()

    assert documented.keys() == in_code.keys()
    for reason, (status, title) in in_code.items():
        assert documented[reason][0] == status, reason
        if reason != VonageUnprocessable.reason:  # its title is Vonage's own
            assert documented[reason][1] == title, reason


def test_every_problem_a_route_documents_is_in_the_catalogue_with_its_status() -> None:
    statuses = {reason: entry["x-status"] for reason, entry in catalogue().items()}
    for _, _, operation in operations():
        for reason, status in route_problems(operation).items():
            assert statuses.get(reason) == status, (operation["operationId"], reason, status)


def test_every_problem_type_is_documented_under_a_route_unless_no_route_answers_it() -> None:
    under_routes = {reason for _, _, operation in operations() for reason in route_problems(operation)}
    rejection_types = DOCUMENT["components"]["schemas"]["BatchItemRejection"]["properties"]["type"]["enum"]
    in_batch_receipts = {urn.removeprefix(PROBLEM_TYPE_PREFIX) for urn in rejection_types}
    answered = {reason for reason, entry in catalogue().items() if entry.get("x-answered", True)}

    assert in_batch_receipts <= catalogue().keys()
    assert under_routes | in_batch_receipts == answered


def test_every_problem_a_route_documents_has_an_example_of_it() -> None:
    for _, _, operation in operations():
        exemplified: set[str] = set()
        for response in operation["responses"].values():
            for media in resolved(response).get("content", {}).values():
                exemplified |= {
                    str(resolved(example)["value"].get("type", "")).removeprefix(PROBLEM_TYPE_PREFIX)
                    for example in media.get("examples", {}).values()
                    if isinstance(resolved(example)["value"], dict)
                }
        missing = route_problems(operation).keys() - exemplified
        assert not missing, f"{operation['operationId']}: no example of {sorted(missing)}"


def test_every_example_is_of_its_schema() -> None:
    for _, _, operation in operations():
        media_types = [*operation.get("requestBody", {}).get("content", {}).values()]
        media_types += [
            media
            for response in operation["responses"].values()
            for media in resolved(response).get("content", {}).values()
        ]
        for media in media_types:
            for name, example in media.get("examples", {}).items():
                errors = [error.message for error in validator(media["schema"]).iter_errors(resolved(example)["value"])]
                assert errors == [], (operation["operationId"], name)
    for name, schema in DOCUMENT["components"]["schemas"].items():
        for example in schema.get("examples", []):
            assert [error.message for error in validator(schema).iter_errors(example)] == [], name


def test_api_gateways_answers_are_what_the_templates_gateway_responses_render(template: dict[str, Any]) -> None:
    responses = template["Resources"]["RevocationApi"]["Properties"]["GatewayResponses"]["DEFAULT_4XX"]
    rendering = responses["ResponseTemplates"]["application/json"]
    assert responses["ResponseParameters"]["Headers"]["Content-Type"] == f"'{PROBLEM_CONTENT_TYPE}'"

    gateway_examples = DOCUMENT["components"]["examples"]
    assert gateway_examples
    for name, example in gateway_examples.items():
        value = example["value"]
        rendered = (
            rendering.replace("$context.error.responseType", value["title"])
            .replace("$context.error.messageString", json.dumps(value["detail"]))
            .replace("$context.requestId", value["requestId"])
        )
        assert "$context" not in rendered, f"the template uses a variable this test does not render: {rendered}"
        assert json.loads(rendered) == value, name


def test_every_route_documents_api_gateways_throttling_and_every_signed_route_its_signature_refusal() -> None:
    for _, _, operation in operations():
        responses = operation["responses"]
        examples = resolved(responses["429"])["content"][PROBLEM_CONTENT_TYPE]["examples"]
        assert {"$ref": "#/components/examples/Throttled"} in examples.values(), operation["operationId"]
        if operation["security"] == SIGV4:
            assert responses["403"] == {"$ref": "#/components/responses/SignatureRefused"}, operation["operationId"]


def test_the_outcome_events_have_a_schema_each() -> None:
    from rcs_revoker.domain import outcome_events

    detail_types = {value for name, value in vars(outcome_events).items() if name.endswith("_DETAIL_TYPE")}
    published = DOCUMENT["x-eventbridge-events"]["published"]

    assert published.keys() == detail_types
    for reference in [*published.values(), *DOCUMENT["x-eventbridge-events"]["consumed"].values()]:
        assert re.fullmatch(r"#/components/schemas/\w+", reference)
        assert reference.rsplit("/", 1)[1] in DOCUMENT["components"]["schemas"], reference
