"""One Lambda invocation in a process of its own, SIGKILLed as Lambda kills it: at its timeout, or at the moment a
test chooses (say, once offline.aws_fault_proxy holds the AWS call the function is making).

    run = lambda_process.start("revoke_api", event, env=stack.function_env(), timeout_s=3, output=tmp_path / "log")
    stack.aws.wait_until_held()
    run.kill()
    assert run.wait().killed

The child (offline/lambda_child.py) runs as the Lambda runtime does: the init phase imports `handler` from the
function's code directory (functions/<name>/, with the layer on the path), then the invoke phase calls
`lambda_handler(event, context)`, the context counting down from the timeout. The timeout starts with the invoke,
as on Lambda; the init phase has its own limit (`init_timeout_s`, Lambda's 10 s). A thread of this process reads
the child's reports and SIGKILLs it at its deadline, whatever the test is doing meanwhile: nothing of the
function runs after its timeout. The child's stdout and stderr (the Powertools JSON logs) go to a file.

The child's environment is only what Lambda sets and what `env` gives (the stack's settings), not this process's.
"""

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from offline.repo_paths import LAYER_PYTHON, REPO_ROOT

CHILD = Path(__file__).resolve().parent / "lambda_child.py"
FUNCTIONS = REPO_ROOT / "functions"
# Lambda's limit on the init phase of an on-demand function.
INIT_TIMEOUT_S = 10.0

Outcome = Literal["running", "returned", "raised", "killed", "crashed"]

# The children still running: killed when this process exits, so that none outlives a test run.
_running: "set[LambdaProcess]" = set()
_running_lock = threading.Lock()


@atexit.register
def _kill_running() -> None:
    with _running_lock:
        runs = list(_running)
    for run in runs:
        run.kill()


class InvocationDidNotReturn(RuntimeError):
    """LambdaProcess.result was read, but the handler did not return: it raised, was killed or crashed."""


@dataclass(frozen=True)
class HandlerError:
    """What Lambda answers when the function raises: its error response, and the phase it raised in."""

    error_type: str
    error_message: str
    stack_trace: list[str]
    phase: Literal["init", "invoke"]


class LambdaProcess:
    """A running (then ended) invocation; built by start()."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        report_fd: int,
        *,
        function_name: str,
        request_id: str,
        output_path: Path,
        started: float,
        timeout_s: float,
        init_timeout_s: float,
    ) -> None:
        self._process = process
        self._report_fd = report_fd
        self._started = started
        self._timeout_s = timeout_s
        self._init_timeout_s = init_timeout_s
        self._report: dict[str, Any] | None = None
        self._invoke_started: float | None = None
        self._ended: float | None = None
        self._timed_out = False
        self.function_name = function_name
        self.request_id = request_id
        self.output_path = output_path
        self._monitor = threading.Thread(target=self._watch, name=f"lambda-{function_name}", daemon=True)
        with _running_lock:
            _running.add(self)
        self._monitor.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait(self, timeout_s: float | None = None) -> Self:
        """Blocks until the child has ended (it ends by its deadline at the latest). TimeoutError after
        `timeout_s` if it has not."""
        self._monitor.join(timeout_s)
        if self._monitor.is_alive():
            raise TimeoutError(f"{self.function_name} still running after {timeout_s} s")
        return self

    def kill(self) -> None:
        """SIGKILLs the child now, as Lambda does at the timeout: nothing of the function runs after this."""
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)

    @property
    def outcome(self) -> Outcome:
        if self._monitor.is_alive():
            return "running"
        if self._report is not None:
            return "returned" if "returned" in self._report else "raised"
        return "killed" if self._process.returncode == -signal.SIGKILL else "crashed"

    @property
    def result(self) -> Any:
        """The handler's return value (JSON-decoded). InvocationDidNotReturn when it did not return."""
        if self.outcome != "returned":
            raise InvocationDidNotReturn(f"{self.function_name}: {self.outcome} ({self._describe()})")
        assert self._report is not None  # noqa: S101 - "returned" says so
        return self._report["returned"]

    @property
    def error(self) -> HandlerError | None:
        """What the handler raised (at init or invoke), as Lambda's error response; None otherwise."""
        if self._report is None or "raised" not in self._report:
            return None
        raised = self._report["raised"]
        return HandlerError(raised["errorType"], raised["errorMessage"], raised["stackTrace"], raised["phase"])

    @property
    def killed(self) -> bool:
        """SIGKILLed before it reported an outcome: at its deadline (see timed_out) or by kill()."""
        return self.outcome == "killed"

    @property
    def timed_out(self) -> bool:
        """Killed by this module at the deadline (the timeout of the invoke, or the init phase's limit)."""
        return self._timed_out and self.killed

    @property
    def exit_code(self) -> int | None:
        """The child's exit status: 0 once it reported, -9 when SIGKILLed, None while running."""
        return None if self._monitor.is_alive() else self._process.returncode

    @property
    def wall_s(self) -> float | None:
        """From the start of the process to its end (init and invoke); None while running."""
        return None if self._ended is None else self._ended - self._started

    @property
    def init_s(self) -> float | None:
        """From the start of the process to the start of the invoke (interpreter start-up and the handler's
        imports: the cold start); None if the invoke never started."""
        return None if self._invoke_started is None else self._invoke_started - self._started

    @property
    def invoke_s(self) -> float | None:
        """From the start of the invoke to the end of the process; None while running or without an invoke."""
        if self._ended is None or self._invoke_started is None:
            return None
        return self._ended - self._invoke_started

    @property
    def output(self) -> str:
        """The child's stdout and stderr, so far."""
        return self.output_path.read_text(errors="replace")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Leaving the block kills the child if it is still running (wait() inside the block to let it end)."""
        self.kill()
        self.wait()

    def _describe(self) -> str:
        error = self.error
        if error is not None:
            return f"{error.error_type} at {error.phase}: {error.error_message}"
        return f"exit code {self.exit_code}, after {self.wall_s or 0:.3f} s; its output: {self.output_path}"

    def _watch(self) -> None:
        """Reads the child's reports until it ends, SIGKILLing it at its deadline."""
        deadline = self._started + self._init_timeout_s
        pending = b""
        try:
            while self._report is None:
                chunk = self._read(deadline)
                if chunk is None:  # the deadline passed
                    self._timed_out = True
                    self.kill()
                    break
                if not chunk:  # the child ended (or closed the pipe)
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    deadline = self._take(json.loads(line), deadline)
            self._wait_for_exit(deadline)
        finally:
            if self._process.poll() is None:  # this thread failed: the child must not outlive it
                self.kill()
                self._process.wait()
            os.close(self._report_fd)
            self._ended = time.monotonic()
            with _running_lock:
                _running.discard(self)

    def _read(self, deadline: float) -> bytes | None:
        """What the child reported next; b"" when it ended; None once `deadline` has passed."""
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self._report_fd], [], [], remaining)
            if readable:
                return os.read(self._report_fd, 65536)
        return None

    def _take(self, message: dict[str, Any], deadline: float) -> float:
        """Records a report; returns the deadline from now on (the invoke's, once it started)."""
        if "invoke" in message:
            self._invoke_started = float(message["invoke"])
            return self._invoke_started + self._timeout_s
        self._report = message
        return deadline

    def _wait_for_exit(self, deadline: float) -> None:
        # After its last report the child ends at once (os._exit); past the deadline it is killed.
        try:
            self._process.wait(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        except subprocess.TimeoutExpired:
            self.kill()
            self._process.wait()


def start(
    function: str,
    event: Any,
    *,
    env: Mapping[str, str],
    timeout_s: float,
    output: Path | None = None,
    code_dir: Path | None = None,
    memory_mb: int = 256,
    init_timeout_s: float = INIT_TIMEOUT_S,
    python: str = sys.executable,
) -> LambdaProcess:
    """Starts one invocation of functions/<function>/handler.py (or of `code_dir`/handler.py) with `event` and
    returns at once. `env` is the function's configuration (for the offline stack: the SDK's endpoint and
    credentials, the table names, the Vonage base URL). The child's stdout and stderr go to `output` (default:
    a new file under the temporary directory, kept for reading)."""
    code = (code_dir or FUNCTIONS / function).resolve()
    if not (code / "handler.py").is_file():
        raise FileNotFoundError(f"no handler.py in {code}")
    if output is None:
        with tempfile.NamedTemporaryFile(prefix=f"lambda-{function}-", suffix=".log", delete=False) as file:
            output = Path(file.name)
    name = f"rcs-revoker-{function}"
    request_id = str(uuid.uuid4())
    read_fd, write_fd = os.pipe()
    environment = {**_lambda_environment(name, code, memory_mb, env), **env}
    command = [python, "-P", str(CHILD), str(write_fd), name, request_id, str(timeout_s), str(memory_mb)]
    try:
        with output.open("wb") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=code,
                pass_fds=(write_fd,),
            )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    _send_event(process, event)
    return LambdaProcess(
        process,
        read_fd,
        function_name=function,
        request_id=request_id,
        output_path=output,
        started=started,
        timeout_s=timeout_s,
        init_timeout_s=init_timeout_s,
    )


def invoke(
    function: str,
    event: Any,
    *,
    env: Mapping[str, str],
    timeout_s: float,
    output: Path | None = None,
    code_dir: Path | None = None,
    memory_mb: int = 256,
    init_timeout_s: float = INIT_TIMEOUT_S,
    python: str = sys.executable,
) -> LambdaProcess:
    """start(), then waits until the invocation has returned, raised, timed out or crashed."""
    run = start(
        function,
        event,
        env=env,
        timeout_s=timeout_s,
        output=output,
        code_dir=code_dir,
        memory_mb=memory_mb,
        init_timeout_s=init_timeout_s,
        python=python,
    )
    return run.wait()


def _send_event(process: subprocess.Popen[bytes], event: Any) -> None:
    assert process.stdin is not None  # noqa: S101 - stdin=PIPE
    try:
        process.stdin.write(json.dumps(event).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass  # the child died before reading it: its outcome says so


def _lambda_environment(name: str, code: Path, memory_mb: int, env: Mapping[str, str]) -> dict[str, str]:
    """What Lambda sets in a function's environment (the reserved variables a library may read), and the
    import path of the runtime: the code directory, then the layer (/opt/python). The repository's root comes
    last, for the child's own offline.lambda_context."""
    # Lambda sets both; botocore reads AWS_DEFAULT_REGION.
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-west-1"
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(str(path) for path in (code, LAYER_PYTHON, REPO_ROOT)),
        # Every log line reaches the file as written, also from a process killed the next moment.
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(code),
        "_HANDLER": "handler.lambda_handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    }
