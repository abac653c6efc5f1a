"""The child side of offline.lambda_process: one invocation of a function, in this process, as Lambda runs it.

Started as `python -P offline/lambda_child.py REPORT_FD FUNCTION_NAME REQUEST_ID TIMEOUT_S MEMORY_MB`, with
the function's code directory, the layer and the repository's root on PYTHONPATH and the event (JSON) on stdin.
The init phase imports `handler` (the template's `Handler: handler.lambda_handler`); the invoke phase calls
`lambda_handler` with a context whose remaining time counts down from the timeout. Each step is reported on
the REPORT_FD pipe as one JSON line: {"invoke": <time.monotonic() at the invoke>} when the invoke starts, then
{"returned": <value>} or {"raised": <Lambda's error response>}. Then the process ends at once (os._exit): Lambda
freezes a process after an invocation, it runs no exit handlers.

Only what the runtime itself needs is imported here, so that the start-up measured is the function's.
"""

import importlib
import json
import os
import sys
import time
from typing import IO, Any, NoReturn


def main() -> None:
    report_fd, function_name, request_id, timeout_s, memory_mb = sys.argv[1:6]
    event = json.load(sys.stdin)
    report = os.fdopen(int(report_fd), "w")
    from offline.lambda_context import LocalLambdaContext

    try:
        handler = importlib.import_module("handler")
    except Exception as error:
        _end(report, {"raised": _error_response(error, "init")})
    started = time.monotonic()
    context = LocalLambdaContext(
        function_name=function_name,
        memory_limit_in_mb=int(memory_mb),
        timeout_s=float(timeout_s),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function_name}",
        _started=started,
    )
    _send(report, {"invoke": started})
    try:
        value = handler.lambda_handler(event, context)
    except Exception as error:
        _end(report, {"raised": _error_response(error, "invoke")})
    try:
        line = json.dumps({"returned": value})
    except (TypeError, ValueError) as error:
        _end(report, {"raised": {**_error_response(error, "invoke"), "errorType": "Runtime.MarshalError"}})
    _end(report, line)


def _error_response(error: Exception, phase: str) -> dict[str, Any]:
    """What Lambda answers for an exception: its type, message and stack trace (here with the phase too)."""
    import traceback

    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
        "phase": phase,
    }


def _send(report: IO[str], message: dict[str, Any] | str) -> None:
    report.write((message if isinstance(message, str) else json.dumps(message)) + "\n")
    report.flush()


def _end(report: IO[str], message: dict[str, Any] | str) -> NoReturn:
    _send(report, message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
