"""An event source polling on a thread of its own, as Lambda's event source mappings poll between invocations:
for `python -m offline.serve`, where the queue's worker and the streams' functions run without being asked."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import TextIO


class BackgroundPoller:
    """Calls `poll` until stopped: again at once when it reports work done (True), else after `interval_s`.

    A poll that raises is printed to `log` and tried again after `interval_s`: a local server keeps going
    when, say, moto server is briefly away, as the mapping keeps polling a source that errs."""

    def __init__(
        self,
        poll: Callable[[], bool],
        *,
        name: str,
        interval_s: float = 0.1,
        log: TextIO | None = sys.stderr,
    ) -> None:
        self._poll = poll
        self._name = name
        self._interval_s = interval_s
        self._log = log
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._name} is already polling")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Asks the thread to stop after the poll under way (an invocation is never cut short) and waits."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout_s)
        if thread.is_alive():
            raise RuntimeError(f"{self._name} did not stop within {timeout_s} s")

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self._poll()
            except Exception as error:
                if self._log is not None:
                    print(f"{self._name}: poll failed, trying again:", file=self._log)
                    print("".join(traceback.format_exception(error)).rstrip(), file=self._log, flush=True)
                busy = False
            if not busy:
                self._stopping.wait(self._interval_s)
