"""One route table, checked everywhere: rcs_revoker.api.routes.API_ROUTES against the template's Api events, the
API handler's operations and the reference docs; WEBHOOK_ROUTES (the status webhook's) against the template's Api
events and the reference docs. A route added to, renamed in or removed from one of them fails here until the
others follow.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rcs_revoker.api.routes import API_ROUTES, WEBHOOK_ROUTES
from tests.infrastructure.sam_template import REPO_ROOT, api_routes

API_HANDLER = REPO_ROOT / "functions" / "revoke_api" / "handler.py"
ROUTE_TABLE_MODULE = "rcs_revoker.api.routes"
# Every route the API serves, whichever function serves it.
ALL_ROUTES = {**API_ROUTES, **WEBHOOK_ROUTES}

# A route in a heading, in a code span or not: "### `POST /revocations` (bulk)", "## GET /batches/{batch_id}".
# Methods in capitals only, as HTTP writes them (RFC 9110: they are case-sensitive): "Get" in a prose heading is
# not a route. ANY is API Gateway's catch-all method.
ROUTE_IN_HEADING = re.compile(r"(?<![\w/])(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|ANY)\s+(/[^\s`]*)")
# Markdown (CommonMark) headings: "### text" (ATX), or a line of text over "===" or "---" (setext); lines in a
# fenced code block (``` or ~~~) are none, whatever they start with.
ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+(.*))?$")
SETEXT_UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def reference_docs() -> list[Path]:
    """Where the routes are documented: README.md, and docs/**/*.md once the reference moves there."""
    pages = sorted(page for page in (REPO_ROOT / "docs").rglob("*.md") if "node_modules" not in page.parts)
    return [REPO_ROOT / "README.md", *pages]


def headings(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every heading of a Markdown document, recognised by its form, not its level."""
    fence = ""  # the opening fence of the code block we are in, if any
    previous: tuple[int, str] | None = None  # the line above, which a setext underline makes a heading
    for number, line in enumerate(markdown.splitlines(), start=1):
        marker = FENCE.match(line)
        if fence:
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence):
                fence = ""
            continue
        atx = ATX_HEADING.match(line)
        if marker:
            fence, previous = marker.group(1), None
        elif atx:
            yield number, atx.group(1) or ""
            previous = None
        elif previous and SETEXT_UNDERLINE.match(line):
            yield previous
            previous = None
        else:
            previous = (number, line) if line.strip() else None


def route_headings(markdown: str) -> Iterator[tuple[int, tuple[str, str]]]:
    """(line number, (METHOD, path)) of every route a heading of the document names."""
    for number, text in headings(markdown):
        for match in ROUTE_IN_HEADING.finditer(text):
            yield number, (match.group(1), match.group(2).rstrip(".,:;!?)"))


def documented_routes() -> dict[tuple[str, str], list[str]]:
    """Each route the reference docs have a heading for -> where ("README.md:71")."""
    documented: dict[tuple[str, str], list[str]] = {}
    for path in reference_docs():
        for number, route in route_headings(path.read_text(encoding="utf-8")):
            documented.setdefault(route, []).append(f"{path.relative_to(REPO_ROOT)}:{number}")
    return documented


def api_handler_source() -> ast.Module:
    """The API handler's module, parsed, not imported.

    Importing it builds the service (finish_cold_start), and with it boto3 clients: with the service_env
    fixture's environment alone, botocore looks for credentials and asks the instance metadata service
    (169.254.169.254), a network call; without AWS_DEFAULT_REGION the import fails (NoRegionError); the clients
    are cached for the process (rcs_revoker.adapters.aws_clients) with the endpoint of that moment, where the
    integration tests of the same pytest run would find them; and it calls gc.freeze(). The source has none of
    that, and shows an operation named twice, which a dict keeps once.
    """
    return ast.parse(API_HANDLER.read_text(encoding="utf-8"), filename=str(API_HANDLER))


def module_assignment(module: ast.Module, name: str) -> ast.expr:
    """The value assigned to `name` at module level, once (NAME = ... or NAME: type = ...)."""
    values = [
        node.value
        for node in module.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and node.value is not None
        and any(
            isinstance(target, ast.Name) and target.id == name
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert len(values) == 1, f"{API_HANDLER.name}: {name} is assigned {len(values)} times at module level"
    return values[0]


def handler_operations() -> list[str]:
    """The keys of the API handler's OPERATIONS, in the order written, repeats included."""
    operations = module_assignment(api_handler_source(), "OPERATIONS")
    assert isinstance(operations, ast.Dict), "OPERATIONS is no longer a dict literal: read it another way here"
    names: list[str] = []
    for key in operations.keys:
        assert isinstance(key, ast.Constant), f"OPERATIONS has a key that is not a literal: {key and ast.unparse(key)}"
        assert isinstance(key.value, str), f"OPERATIONS has a key that is not a string: {key.value!r}"
        names.append(key.value)
    return names


def test_the_api_functions_events_are_the_route_table(template: dict[str, Any]) -> None:
    # A list, not a dict: a route with two events (or an event id used twice) shows as a difference.
    events = sorted(
        (method, path, event_id)
        for method, path, logical_id, event_id, _ in api_routes(template)
        if logical_id == "RevokeApiFunction"
    )
    assert events == sorted((method, path, operation) for (method, path), operation in API_ROUTES.items())


def test_the_webhook_functions_events_are_the_webhook_route_table(template: dict[str, Any]) -> None:
    events = sorted(
        (method, path, event_id)
        for method, path, logical_id, event_id, _ in api_routes(template)
        if logical_id == "StatusWebhookFunction"
    )
    assert events == sorted((method, path, operation) for (method, path), operation in WEBHOOK_ROUTES.items())


def test_every_api_event_is_in_a_route_table(template: dict[str, Any]) -> None:
    # The two tables together are every route, each in one table only, on the one function that table is for.
    assert len(ALL_ROUTES) == len(API_ROUTES) + len(WEBHOOK_ROUTES), "a route is in both tables"
    tables = {"RevokeApiFunction": API_ROUTES, "StatusWebhookFunction": WEBHOOK_ROUTES}
    for method, path, logical_id, event_id, _ in api_routes(template):
        assert logical_id in tables, f"{logical_id} serves {method} {path}: give it a route table"
        assert tables[logical_id].get((method, path)) == event_id, (logical_id, method, path, event_id)


def test_the_api_handler_has_an_operation_for_each_route_and_no_other() -> None:
    operations = handler_operations()
    assert len(operations) == len(set(operations)), f"an operation is named twice in OPERATIONS: {operations}"
    assert set(operations) == set(API_ROUTES.values())


def test_the_api_handler_dispatches_on_the_route_table() -> None:
    # Else the two tests above could pass while the handler routes with a table of its own.
    module = api_handler_source()
    imported = {
        (node.module, alias.name, alias.asname)
        for node in module.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert (ROUTE_TABLE_MODULE, "API_ROUTES", None) in imported
    routes = module_assignment(module, "ROUTES")
    assert "API_ROUTES" in {node.id for node in ast.walk(routes) if isinstance(node, ast.Name)}


def test_every_route_has_a_heading_in_the_reference_docs() -> None:
    documented = documented_routes()
    missing = sorted(route for route in ALL_ROUTES if route not in documented)
    docs = [str(path.relative_to(REPO_ROOT)) for path in reference_docs()]
    assert not missing, f"no heading such as ### `POST /revocations` in {docs} for {missing}"


def test_the_reference_docs_have_no_heading_for_a_route_the_api_lacks() -> None:
    unknown = {route: places for route, places in documented_routes().items() if route not in ALL_ROUTES}
    assert not unknown, f"documented, not in {ROUTE_TABLE_MODULE}.API_ROUTES or WEBHOOK_ROUTES: {unknown}"


def test_route_headings_are_recognised_by_their_form_not_their_place() -> None:
    markdown = "\n".join(
        [
            "# The service",  # 1
            "## Reference",  # 2
            "### `POST /messages/{message_uuid}/revoke`",  # 3: the README's form
            "#### `POST /revocations` (bulk)",  # 4: any level, with words after it
            "GET /revocations/{message_uuid}: one record",  # 5: a setext heading...
            "---",  # 6: ...underlined
            "## `GET /a` and `DELETE /b/{id}`",  # 7: two routes in one heading
            "Call `POST /c` to submit.",  # 8: prose, not a heading
            "```sh",  # 9
            "# PUT /d in a shell comment",  # 10: in a code block
            "```",  # 11
            "    # PATCH /e in an indented code block",  # 12
            "## Get /f, a prose heading",  # 13
            "###POST /g",  # 14: no space after the hashes, not a heading
            "| method | path |",  # 15
            "| --- | --- |",  # 16: a table, not a setext underline
        ]
    )
    assert list(route_headings(markdown)) == [
        (3, ("POST", "/messages/{message_uuid}/revoke")),
        (4, ("POST", "/revocations")),
        (5, ("GET", "/revocations/{message_uuid}")),
        (7, ("GET", "/a")),
        (7, ("DELETE", "/b/{id}")),
    ]
