"""API Gateway's REST proxy integration, for every function behind the API: what a handler reads of the event,
and the one place where a route's outcome (an answer, or an error) becomes the proxy answer."""

from collections.abc import Callable
from typing import Any

from rcs_revoker.api.problems import internal_error, problem_for
from rcs_revoker.api.responses import HttpResponse
from rcs_revoker.domain.errors import RevocationError
from rcs_revoker.observability import count, logger


def request_id(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext")
    return str(context["requestId"]) if isinstance(context, dict) and context.get("requestId") else None


def proxy_answer(event: dict[str, Any], route: Callable[[], HttpResponse]) -> dict[str, Any]:
    """What `route` answers, every error as problem+json: a RevocationError as its problem, anything else as a
    500 that names the request (its stack trace goes to the log, never to the caller)."""
    try:
        response = route()
    except RevocationError as error:
        response = problem_for(error, request_id(event))
    except Exception:
        logger.exception("unexpected error")
        count("UnexpectedErrors")
        response = internal_error(request_id(event))
    return response.to_proxy()
