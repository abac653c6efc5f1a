"""`sam local start-api` without Docker: API Gateway (REST API, Lambda proxy integration) on 127.0.0.1, in
front of the functions of template.yaml, each invoked in this process.

Every function's `Type: Api` events are read from the template (offline.cfn_template.api_routes): method,
path with `{param}` / `{param+}` templates, the API and its stage. A request is matched to a resource (the
most specific path: literal segments before `{param}` before `{param+}`) and then to a method of it; the
function gets the proxy event API Gateway builds and a LocalLambdaContext with its Timeout and MemorySize,
and its proxy answer is written back. What API Gateway does that is replicated here:

- An unknown path, or a method the matched resource does not have, is answered 403
  `{"message":"Missing Authentication Token"}` (gateway response MISSING_AUTHENTICATION_TOKEN), not 404.
- A function that raises, runs past its Timeout, or returns something that is not a proxy answer gets a 502
  `{"message": "Internal server error"}`.
- Those two are gateway responses: when the function's API customizes them in the template
  (GatewayResponses: the type itself, else DEFAULT_4XX / DEFAULT_5XX), the customized status, headers and
  application/json template are used, with `$context.error.*` and `$context.requestId` filled in.
- The event: `path` and `pathParameters` as sent (still percent-encoded), query parameters decoded; `headers`
  and `queryStringParameters` hold the last value of a repeated name, the multiValue fields every value; null
  for what the request lacks; X-Forwarded-For/-Port/-Proto and X-Amzn-Trace-Id added; requestContext with a
  new requestId, the stage, `path` with the stage in front, the times and the caller's address.
- The body is text unless its Content-Type is one of the API's BinaryMediaTypes, then base64 with
  isBase64Encoded; a body that is not UTF-8 is sent base64 too (an event is JSON: raw bytes cannot travel).
- The answer: `headers` and `multiValueHeaders` merged (a pair in both is sent once), Content-Type
  application/json when the function gives none, x-amzn-RequestId added. A base64 body (isBase64Encoded) is
  decoded only when the request's first Accept type is one of the API's BinaryMediaTypes, as API Gateway does;
  otherwise the base64 text is what the client gets.

Authorization: **SigV4 (AWS_IAM) is not checked by default**: every request is let through with an empty caller
identity, whatever its Authorization header says. With `sigv4=SigV4Check(...)` (offline.sigv4_check; `make serve
SIGV4=check`), an AWS_IAM route checks the signature as API Gateway does, against one set of credentials, and
answers API Gateway's 403 gateway responses; IAM policies are not evaluated, and routes with Authorizer NONE stay
unchecked. Cognito and Lambda authorizers are not run. Nor are throttling, the 10 MB payload limit, the
29-second integration timeout, or the functions' Environment (this process's environment is every function's).
A function that runs past its Timeout is not stopped; its answer is replaced by the 502 a stopped function would
have caused. Concurrent requests run in one process, where Lambda would give each its own container: the answers
are each request's own, but Powertools' Logger keys (correlation_id...) and pending EMF metrics are per process,
so under concurrency a log line or a metrics flush can carry another request's.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import importlib
import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO, cast
from urllib.parse import parse_qsl, urlsplit

from offline.cfn_template import (
    DEFAULT_TEMPLATE,
    ApiRoute,
    FunctionSpec,
    api_routes,
    load_template,
    rest_api_properties,
)
from offline.lambda_context import LocalLambdaContext
from offline.sigv4_check import SigV4Check, SigV4Failure

ACCOUNT_ID = "123456789012"
SIGV4_NOTICE = "SigV4 (AWS_IAM) is NOT checked locally: every request is let through, signed or not."
SIGV4_CHECKED_NOTICE = "SigV4 (AWS_IAM) is checked as API Gateway does (botocore's signature, 5 min of clock skew)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PARAMETER = re.compile(r"\{([^{}]+?)(\+?)\}")
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z.]+)")
# The proxy answer may not set these: the server frames the answer itself.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class GatewayError:
    """An answer API Gateway makes itself (a gateway response), before or instead of the function's."""

    response_type: str
    status: int
    message: str
    error_type: str  # the x-amzn-ErrorType header
    default_body: str


MISSING_AUTHENTICATION_TOKEN = GatewayError(
    "MISSING_AUTHENTICATION_TOKEN",
    403,
    "Missing Authentication Token",
    "MissingAuthenticationTokenException",
    '{"message":"Missing Authentication Token"}',
)
# API Gateway's documentation gives this answer no type of its own: a 5XX, hence DEFAULT_5XX.
FUNCTION_ERROR = GatewayError(
    "DEFAULT_5XX", 502, "Internal server error", "InternalServerErrorException", '{"message": "Internal server error"}'
)
API_CONFIGURATION_ERROR = GatewayError(
    "API_CONFIGURATION_ERROR",
    500,
    "Internal server error",
    "InternalServerErrorException",
    '{"message": "Internal server error"}',
)


class MalformedProxyAnswer(ValueError):
    """The function returned something API Gateway cannot turn into an HTTP answer."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Resource:
    """A path of the API with the methods on it."""

    path: str
    pattern: re.Pattern[str]
    parameter_names: tuple[str, ...]
    specificity: tuple[int, ...]  # per segment: 0 literal, 1 {param}, 2 {param+}; smaller is more specific
    methods: dict[str, ApiRoute]


def _compile_path(path: str) -> tuple[re.Pattern[str], tuple[str, ...], tuple[int, ...]]:
    regex, names, specificity = "", [], []
    for segment in [part for part in path.split("/") if part]:
        parameter = _PARAMETER.fullmatch(segment)
        if parameter is None:
            regex += "/" + re.escape(segment)
            specificity.append(0)
        else:
            greedy = bool(parameter.group(2))
            regex += "/(.+)" if greedy else "/([^/]+)"
            names.append(parameter.group(1))
            specificity.append(2 if greedy else 1)
    return re.compile(regex or "/"), tuple(names), tuple(specificity)


def _resources(routes: Iterable[ApiRoute]) -> list[_Resource]:
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for route in routes:
        methods = by_path.setdefault(route.path, {})
        if route.method in methods:
            other = methods[route.method].function.logical_id
            msg = f"{route.method} {route.path} is served by both {other} and {route.function.logical_id}"
            raise ValueError(msg)
        methods[route.method] = route
    resources = [_Resource(path, *_compile_path(path), methods) for path, methods in by_path.items()]
    return sorted(resources, key=lambda resource: resource.specificity)


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _is_binary(media_type: str, binary_media_types: tuple[str, ...]) -> bool:
    return bool(media_type) and any(fnmatch.fnmatchcase(media_type, pattern) for pattern in binary_media_types)


def _request_time(now: float) -> str:
    moment = time.gmtime(now)
    return f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{time.strftime('%Y:%H:%M:%S', moment)} +0000"


def _header_maps(items: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`headers` (the last value of each name) and `multiValueHeaders` (every value), names as first sent."""
    spelling: dict[str, str] = {}
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in items:
        key = spelling.setdefault(name.lower(), name)
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def _query_maps(query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """`queryStringParameters` (the last value of each name) and the multi-value form, decoded; None if none."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _merged_headers(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """multiValueHeaders, then `headers` pairs not already among them: API Gateway's merge of the two."""
    single, multi = answer.get("headers") or {}, answer.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyAnswer("headers and multiValueHeaders must be objects")
    merged: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyAnswer(f"multiValueHeaders[{name!r}] must be a list")
        merged.extend((str(name), _header_text(value)) for value in values)
    for name, value in single.items():
        pair = (str(name), _header_text(value))
        if pair not in merged:
            merged.append(pair)
    return merged


def _header_text(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise MalformedProxyAnswer(f"a header value must be a string, got {value!r}")
    return str(value).lower() if isinstance(value, bool) else str(value)


class LocalApi:
    """The API on `url`; `start()`/`stop()` or a `with` block. Handlers are imported on their first request."""

    def __init__(
        self,
        template_path: str | Path = DEFAULT_TEMPLATE,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stack_name: str = "rcs-revoker",
        log: TextIO | None = sys.stderr,
        sigv4: SigV4Check | None = None,
    ) -> None:
        template = load_template(template_path)
        self.routes: list[ApiRoute] = api_routes(template, stack_name=stack_name)
        self._resources = _resources(self.routes)
        self._apis = {route.api_id: rest_api_properties(template, route.api_id) for route in self.routes}
        self._host, self._port, self._log = host, port, log
        self._sigv4 = sigv4
        self._handlers: dict[str, Any] = {}
        self._handlers_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the local API is already running")
        server = _Server((self._host, self._port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-api-{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self._print(f"local API (API Gateway REST, Lambda proxy integration) on {self.url}")
        if self._sigv4 is None:
            self._print(f"  {SIGV4_NOTICE}")
        else:
            check = self._sigv4
            self._print(
                f"  {SIGV4_CHECKED_NOTICE}: access key {check.credentials.access_key}, region {check.region}, "
                "service execute-api"
            )
        checked = "checked" if self._sigv4 is not None else "not checked"
        for route in self.routes:
            auth = "" if route.authorizer == "NONE" else f", auth {route.authorizer} {checked}"
            target = f"{route.function.module}.{route.function.attribute}"
            self._print(f"  {route.method:6} {route.path} -> {route.function.logical_id} ({target}{auth})")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.server_close()
        server.close_connections()  # idle keep-alive connections would otherwise outlive the server
        thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the local API is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # --- one request -------------------------------------------------------------------------------------
    def answer(
        self,
        method: str,
        target: str,
        header_items: list[tuple[str, str]],
        body: bytes,
        *,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
    ) -> HttpAnswer:
        """What API Gateway answers this request: the matched function's answer, or a gateway response."""
        request_id = str(uuid.uuid4())
        context: dict[str, str] = {"requestId": request_id, "extendedRequestId": _extended_request_id()}
        split = urlsplit(target)
        path = split.path or "/"
        resource, route, values = self._match(method, path)
        if resource is None or route is None:
            return self._gateway_answer(MISSING_AUTHENTICATION_TOKEN, self._api_of(resource), context, header_items)
        api = self._apis[route.api_id]
        context.update(stage=route.stage, resourcePath=resource.path, httpMethod=method)
        if route.authorizer == "AWS_IAM" and self._sigv4 is not None:
            refused = self._sigv4.failure(method, target, header_items, body)
            if refused is not None:
                return self._gateway_answer(_gateway_error(refused), api, context, header_items)
        event = self.event(
            route,
            method=method,
            path=path,
            query=split.query,
            header_items=header_items,
            body=body,
            path_parameters=dict(zip(resource.parameter_names, values, strict=True)) or None,
            source_ip=source_ip,
            protocol=protocol,
            request_id=request_id,
            extended_request_id=context["extendedRequestId"],
        )
        try:
            result = self._invoke(route.function, event)
            answer = self._http_answer(result, api, _header(event["headers"], "Accept"))
        except _InvocationFailed:
            return self._gateway_answer(FUNCTION_ERROR, api, context, header_items)
        except MalformedProxyAnswer as problem:
            self._print(f"{route.function.logical_id}: malformed Lambda proxy response: {problem}")
            return self._gateway_answer(FUNCTION_ERROR, api, context, header_items)
        except _UndecodableBody:
            self._print(f"{route.function.logical_id}: isBase64Encoded, but the body is not base64")
            return self._gateway_answer(API_CONFIGURATION_ERROR, api, context, header_items)
        trace = ("X-Amzn-Trace-Id", str(_header(event["headers"], "X-Amzn-Trace-Id")))
        return HttpAnswer(answer.status, [*answer.headers, *self._request_id_headers(context), trace], answer.body)

    def event(
        self,
        route: ApiRoute,
        *,
        method: str,
        path: str,
        query: str,
        header_items: list[tuple[str, str]],
        body: bytes,
        path_parameters: dict[str, str] | None,
        source_ip: str,
        protocol: str,
        request_id: str,
        extended_request_id: str,
    ) -> dict[str, Any]:
        """The REST API proxy event (version 1.0 payload) API Gateway gives the function for this request."""
        api = self._apis[route.api_id]
        headers, multi_headers = _header_maps(header_items)
        self._add_forwarding_headers(headers, multi_headers, source_ip)
        queries, multi_queries = _query_maps(query)
        text, encoded = self._event_body(body, _header(headers, "Content-Type"), api)
        now = time.time()
        host = _header(headers, "Host") or f"{self._host}:{self._listening_port()}"
        api_id = hashlib.sha256(route.api_id.encode()).hexdigest()[:10]
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": queries,
            "multiValueQueryStringParameters": multi_queries,
            "pathParameters": path_parameters,
            "stageVariables": dict(api["Variables"]) if api.get("Variables") else None,
            "requestContext": {
                "resourceId": hashlib.sha256(f"{route.api_id} {route.path}".encode()).hexdigest()[:6],
                "resourcePath": route.path,
                "httpMethod": method,
                "extendedRequestId": extended_request_id,
                "requestTime": _request_time(now),
                "path": f"/{route.stage}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": protocol,
                "stage": route.stage,
                "domainPrefix": host.split(":", 1)[0].split(".", 1)[0],
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": _identity(source_ip, _header(headers, "User-Agent")),
                "domainName": host,
                "apiId": api_id,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    def _match(self, method: str, path: str) -> tuple[_Resource | None, ApiRoute | None, tuple[str, ...]]:
        """The most specific resource whose path matches, then its route for the method (or ANY)."""
        for resource in self._resources:
            found = resource.pattern.fullmatch(path)
            if found is not None:
                return resource, resource.methods.get(method) or resource.methods.get("ANY"), found.groups()
        return None, None, ()

    def _api_of(self, resource: _Resource | None) -> dict[str, Any] | None:
        """The API a request reached: its resource's, or the only API there is (None when there are several)."""
        if resource is not None:
            return self._apis[next(iter(resource.methods.values())).api_id]
        return next(iter(self._apis.values())) if len(self._apis) == 1 else None

    def _listening_port(self) -> int:
        return self.port if self._server is not None else self._port

    def _add_forwarding_headers(self, headers: dict[str, str], multi: dict[str, list[str]], source_ip: str) -> None:
        def put(name: str, value: str) -> None:
            key = next((key for key in headers if key.lower() == name.lower()), name)
            headers[key], multi[key] = value, [value]

        forwarded = _header(headers, "X-Forwarded-For")
        put("X-Forwarded-For", f"{forwarded}, {source_ip}" if forwarded else source_ip)
        put("X-Forwarded-Port", str(self._listening_port()))
        put("X-Forwarded-Proto", "http")
        if _header(headers, "X-Amzn-Trace-Id") is None:
            put("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")

    @staticmethod
    def _event_body(body: bytes, content_type: str | None, api: dict[str, Any]) -> tuple[str | None, bool]:
        if not body:
            return None, False
        if not _is_binary(_media_type(content_type), _binary_media_types(api)):
            with contextlib.suppress(UnicodeDecodeError):
                return body.decode("utf-8"), False
        return base64.b64encode(body).decode("ascii"), True

    def _invoke(self, function: FunctionSpec, event: dict[str, Any]) -> Any:
        context = LocalLambdaContext(
            function_name=function.function_name,
            memory_limit_in_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            log_group_name=f"/aws/lambda/{function.function_name}",
        )
        started = time.monotonic()
        try:
            handler: Handler = getattr(self._module(function), function.attribute)
            result = handler(event, context)
        except Exception as error:
            self._print(f"{function.logical_id} failed (API Gateway answers 502):")
            self._print("".join(traceback.format_exception(error)).rstrip())
            raise _InvocationFailed from error
        elapsed = time.monotonic() - started
        if elapsed > function.timeout_s:
            self._print(f"{function.logical_id}: Task timed out after {function.timeout_s:.2f} seconds")
            raise _InvocationFailed
        return result

    def _module(self, function: FunctionSpec) -> Any:
        """The handler's module, imported once (its cold start) and kept warm."""
        with self._handlers_lock:
            module = self._handlers.get(function.module)
            if module is None:
                module = self._handlers[function.module] = importlib.import_module(function.module)
            return module

    @staticmethod
    def _http_answer(result: Any, api: dict[str, Any], accept: str | None) -> HttpAnswer:
        if not isinstance(result, dict):
            raise MalformedProxyAnswer(f"the function returned {type(result).__name__}, not an object")
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise MalformedProxyAnswer(f"statusCode must be an HTTP status, got {status!r}")
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            raise MalformedProxyAnswer(f"body must be a string, got {type(body).__name__}")
        headers = [pair for pair in _merged_headers(result) if pair[0].lower() not in _FRAMING_HEADERS]
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        payload = (body or "").encode("utf-8")
        first_accept = _media_type((accept or "").split(",", 1)[0])
        if result.get("isBase64Encoded") is True and _is_binary(first_accept, _binary_media_types(api)):
            try:
                payload = base64.b64decode(payload, validate=True)
            except ValueError as error:
                raise _UndecodableBody from error
        return HttpAnswer(status, headers, payload)

    def _gateway_answer(
        self,
        error: GatewayError,
        api: dict[str, Any] | None,
        context: dict[str, str],
        header_items: list[tuple[str, str]],
    ) -> HttpAnswer:
        """A gateway response: the template's customization of its type (else DEFAULT_4XX/5XX), else AWS's."""
        responses = (api or {}).get("GatewayResponses") or {}
        family = "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"
        custom = responses.get(error.response_type) or responses.get(family)
        headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
        body = error.default_body
        status = error.status
        if isinstance(custom, dict):
            status = int(custom.get("StatusCode") or status)
            single, _ = _header_maps(header_items)
            for name, value in ((custom.get("ResponseParameters") or {}).get("Headers") or {}).items():
                rendered = _gateway_header_value(str(value), single)
                if rendered is not None:
                    headers = [pair for pair in headers if pair[0].lower() != str(name).lower()]
                    headers.append((str(name), rendered))
            templates = custom.get("ResponseTemplates") or {}
            chosen = templates.get("application/json") or next(iter(templates.values()), None)
            if chosen is not None:
                body = _render(str(chosen), {**context, **_error_context(error)})
        headers += [("x-amzn-ErrorType", error.error_type), *self._request_id_headers(context)]
        return HttpAnswer(status, headers, body.encode("utf-8"))

    @staticmethod
    def _request_id_headers(context: dict[str, str]) -> list[tuple[str, str]]:
        return [("x-amzn-RequestId", context["requestId"]), ("x-amz-apigw-id", context["extendedRequestId"])]

    def _print(self, text: str) -> None:
        if self._log is not None:
            print(text, file=self._log, flush=True)


def _gateway_error(refused: SigV4Failure) -> GatewayError:
    """The gateway response of a refused signature: 403, API Gateway's message, its default body."""
    return GatewayError(
        refused.response_type, 403, refused.message, refused.error_type, json.dumps({"message": refused.message})
    )


class _InvocationFailed(Exception):
    """The function raised or ran out of time: Lambda reports a function error."""


class _UndecodableBody(Exception):
    """isBase64Encoded, with a body that is not base64."""


def _binary_media_types(api: dict[str, Any]) -> tuple[str, ...]:
    # SAM writes "/" as "~1" in BinaryMediaTypes (image~1png), as the OpenAPI extension does.
    return tuple(str(kind).replace("~1", "/").lower() for kind in api.get("BinaryMediaTypes") or ())


def _extended_request_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def _identity(source_ip: str, user_agent: str | None) -> dict[str, Any]:
    """Who called: API Gateway fills the IAM fields from the SigV4 signature, which is not checked here."""
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": user_agent,
        "user": None,
    }


def _error_context(error: GatewayError) -> dict[str, str]:
    return {
        "error.responseType": error.response_type,
        "error.message": error.message,
        "error.messageString": json.dumps(error.message),
        "error.validationErrorString": "",
    }


def _render(template: str, context: dict[str, str]) -> str:
    """A gateway response template, its $context variables filled in (unknown ones left empty)."""
    return _CONTEXT_VARIABLE.sub(lambda match: context.get(match.group(1), ""), template)


def _gateway_header_value(value: str, request_headers: dict[str, str]) -> str | None:
    """A gateway response header: a 'quoted' literal, or method.request.header.<name> of the request."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    prefix = "method.request.header."
    if value.startswith(prefix):
        return _header(request_headers, value[len(prefix) :])
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when callers open many at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: LocalApi) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "LocalApiGateway/1.0"
    # Idle keep-alive connections end after this, so a forgotten client cannot pin a thread forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        cast("_Server", self.server).api._print(f"{self.address_string()} - {format % args}")

    def _serve(self) -> None:
        api = cast("_Server", self.server).api
        try:
            body = self._read_body()
        except ValueError as problem:
            self.close_connection = True
            self._write(HttpAnswer(400, [("Content-Type", "application/json")], b'{"message": "Bad Request"}'))
            api._print(f"unreadable request body: {problem}")
            return
        answer = api.answer(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        self._write(answer)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while (size := int(self.rfile.readline(1024).split(b";", 1)[0], 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                continue  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length)

    def _write(self, answer: HttpAnswer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve
