"""One new process of a contestant running bench/probe.py under its own interpreter, timed from spawn to answer."""

import json
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contestants import MEMORY_MB, Contestant
from bench.paths import EVENT_TEMPLATE, PROBE
from bench.probe import RESULT_PREFIX

BODY = json.dumps({"region": "eu"})


class ProbeFailed(RuntimeError):
    pass


@dataclass
class ProbeRun:
    wall_ms: float
    result: dict[str, Any]
    log_lines: int


def probe(
    contestant: Contestant,
    tmp: Path,
    *,
    warm: int = 0,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    expect_accepted: bool = True,
) -> ProbeRun:
    """One new process of the contestant: imports its handler, answers one (then `warm` more) requests."""
    message_uuid = str(uuid.uuid4())
    command = [str(contestant.python), "-P", str(PROBE), "--handler-module", "handler"]
    command += ["--event", str(EVENT_TEMPLATE), "--body", BODY, "--message-uuid", message_uuid]
    command += ["--function-name", contestant.env["AWS_LAMBDA_FUNCTION_NAME"], "--memory-mb", str(MEMORY_MB)]
    if warm:
        command += ["--warm", str(warm)]
    command += extra or []
    with tempfile.TemporaryFile(dir=tmp) as stderr:
        spawned = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env or contestant.environment(),
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        result: dict[str, Any] | None = None
        answered = 0.0
        log_lines = 0
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(RESULT_PREFIX.encode()):
                    answered = time.perf_counter()
                    result = json.loads(line[len(RESULT_PREFIX) :])
                else:
                    log_lines += 1
            code = process.wait(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()  # by this Popen's own PID
                process.wait()
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    if code != 0 or result is None:
        raise ProbeFailed(f"{contestant.label}: the probe exited {code} without a result.\n{errors[-3000:]}")
    if expect_accepted and result["first_status"] != 202:
        raise ProbeFailed(
            f"{contestant.label}: the first request was answered {result['first_status']}: "
            f"{result['first_body']}\n{errors[-2000:]}"
        )
    result["stderr_tail"] = errors[-500:]
    return ProbeRun((answered - spawned) * 1000, result, log_lines)


def preflight(contestants: list[Contestant], tmp: Path) -> None:
    for contestant in contestants:
        probe(contestant, tmp)
