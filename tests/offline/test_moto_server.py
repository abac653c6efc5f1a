"""MotoServer: when moto's process dies under a test, the next use says so, with its exit status and last log
lines, instead of every AWS call failing with "connection refused"."""

import signal

import pytest

from offline.moto_server import MotoServer


def test_a_moto_server_that_died_says_how_when_next_used() -> None:
    server = MotoServer().start()
    try:
        assert server._process is not None
        server._process.send_signal(signal.SIGKILL)
        server._process.wait()

        with pytest.raises(RuntimeError, match=r"moto server \(pid \d+\) exited early, status -9"):
            server.reset()
    finally:
        # Stopping it says so too (at the end of a test session: an error in pytest's report), and cleans up.
        with pytest.raises(RuntimeError, match="exited early"):
            server.stop()
    assert server.port is None
