"""One new process of a contestant running bench/probe.py under its own interpreter, timed from spawn to answer."""

import json
import subprocess
import tempfile
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contestants import Contestant
from bench.cpu_share import CpuLimiter
from bench.entry_events import Invocation, api_revoke, write_invocations
from bench.paths import PROBE
from bench.probe import RESULT_PREFIX


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
    invocations: list[Invocation] | None = None,
    warm: int = 0,
    cpu: CpuLimiter | None = None,
    restore: bool = False,
    expect: str = "202",
    check_first: bool = True,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ProbeRun:
    """One new process of the contestant: imports its handler, then answers the invocations (by default one
    API revoke, then `warm` more), inside the CPU share of its memory when `cpu` emulates it."""
    if invocations is None:
        invocations = [api_revoke() for _ in range(1 + warm)]
    events = write_invocations(tmp / f"events-{uuid.uuid4().hex}.jsonl", invocations)
    command = [str(contestant.python), "-P", str(PROBE), "--handler-module", "handler", "--events", str(events)]
    command += ["--expect", expect, "--function-name", contestant.env["AWS_LAMBDA_FUNCTION_NAME"]]
    command += ["--memory-mb", str(contestant.memory_mb)]
    environment = env or contestant.environment()
    if restore:
        command.append("--restore")
        # The init as SnapStart runs it: what the first request would build is built before the snapshot.
        environment = {**environment, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
    command += extra or []
    with (
        tempfile.TemporaryFile(dir=tmp) as stderr,
        cpu.process(contestant.memory_mb) if cpu else nullcontext() as join_cgroup,
    ):
        spawned = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=environment,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=join_cgroup,  # noqa: PLW1509 - os calls only (bench/cpu_share.py)
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
            code = process.wait(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()  # by this Popen's own PID
                process.wait()
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    events.unlink()
    if code != 0 or result is None:
        raise ProbeFailed(f"{contestant.label}: the probe exited {code} without a result.\n{errors[-3000:]}")
    if check_first and result["first_answer"] != expect:
        raise ProbeFailed(
            f"{contestant.label}: the first invocation was answered {result['first_answer']}, not {expect}: "
            f"{result['first_body']}\n{errors[-2000:]}"
        )
    result["stderr_tail"] = errors[-500:]
    return ProbeRun((answered - spawned) * 1000, result, log_lines)


def preflight(contestants: list[Contestant], tmp: Path) -> None:
    for contestant in contestants:
        probe(contestant, tmp)
