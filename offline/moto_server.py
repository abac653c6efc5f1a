"""moto in server mode: a real HTTP server on 127.0.0.1 that stands in for AWS, in its own process."""

import contextlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3
import urllib3

_LISTENING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")


class MotoServer:
    """Starts moto's server (offline.moto_main) on a free loopback port and stops it (by its PID) at the end."""

    def __init__(self, startup_timeout_s: float = 60.0) -> None:
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("moto server is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        # The server logs every request: to a file, so that a full pipe can never block it.
        self._log = tempfile.NamedTemporaryFile(prefix="moto-server-", suffix=".log", delete=False)  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "offline.moto_main", "-H", "127.0.0.1", "-p", "0"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.port = self._wait_for_port(Path(self._log.name))
        return self

    def client(self, service_name: str) -> Any:
        """A boto3 client of this server, with the test credentials moto accepts (whatever the environment says)."""
        return boto3.client(
            service_name,
            endpoint_url=self.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's
        )

    def reset(self) -> None:
        """Forgets every resource, as a new account would have none."""
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(self._death_notice())
        response = urllib3.request("POST", f"{self.endpoint_url}/moto-api/reset", timeout=10, retries=False)
        if response.status != 200:
            raise RuntimeError(f"moto server reset failed: {response.status}")

    def stop(self) -> None:
        """Stops the server and deletes its log; RuntimeError (after cleaning up) when it had already ended by
        itself: every request after that was refused, and the failures it caused said only "connection
        refused", so its exit status and last log lines are given here, before the log is deleted."""
        died = self._death_notice() if self._process is not None and self._process.poll() is not None else None
        if died is not None and self._process is not None and self._process.returncode == 0:
            # Ended by a signal it handles (moto exits 0 on SIGINT or SIGTERM: a Ctrl-C to `make serve`'s process
            # group reaches it too): said, not raised.
            print(died, file=sys.stderr)
            died = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None
        self.port = None
        if died is not None:
            raise RuntimeError(died)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _death_notice(self) -> str:
        assert self._process is not None  # noqa: S101 - the caller checks
        tail = Path(self._log.name).read_text(errors="replace")[-3000:] if self._log is not None else ""
        return f"moto server (pid {self._process.pid}) exited early, status {self._process.returncode}:\n{tail}"

    def _wait_for_port(self, log_path: Path) -> int:
        assert self._process is not None  # noqa: S101 - start() set it
        give_up = time.monotonic() + self._startup_timeout_s
        while time.monotonic() < give_up:
            if (match := _LISTENING.search(log_path.read_text(errors="replace"))) is not None:
                return int(match.group(1))
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        output = log_path.read_text(errors="replace")[-2000:]
        with contextlib.suppress(RuntimeError):  # "exited early": said below, with the start-up's output
            self.stop()
        raise RuntimeError(f"moto server did not start:\n{output}")
