"""Counts the requests that reached moto server and the Vonage simulator, so each row shows its calls per request."""

import re
import time
from dataclasses import dataclass
from pathlib import Path

from offline.moto_server import MotoServer
from offline.vonage_simulator import VonageSimulator

_MOTO_REQUEST_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3}')
SETTLE_S = 0.1
SETTLE_TRIES = 20


@dataclass
class RequestCounter:
    """Counts requests that reached moto server (from its request log) and the Vonage simulator."""

    moto_log: Path | None
    simulator: VonageSimulator
    _moto_seen: int = 0

    def take(self) -> tuple[int | None, int]:
        """(AWS calls, Vonage requests) since the last take."""
        patches = len(self.simulator.requests)
        self.simulator.clear_records()
        if self.moto_log is None or not self.moto_log.exists():
            return None, patches
        total = self._settled_count(self.moto_log)
        calls, self._moto_seen = total - self._moto_seen, total
        return calls, patches

    @staticmethod
    def _settled_count(log: Path) -> int:
        """The requests moto has logged, once its log stops growing: its server threads write each line after
        the answer, so a line can land just after the process that made the call has ended."""
        count = len(_MOTO_REQUEST_LINE.findall(log.read_text(errors="replace")))
        for _ in range(SETTLE_TRIES):
            time.sleep(SETTLE_S)
            again = len(_MOTO_REQUEST_LINE.findall(log.read_text(errors="replace")))
            if again == count:
                break
            count = again
        return count


def moto_log_path(moto: MotoServer) -> Path | None:
    log = getattr(moto, "_log", None)  # MotoServer logs every request to this file
    name = getattr(log, "name", None)
    return Path(name) if isinstance(name, str) else None
