"""Counts the requests that reached moto server and the Vonage simulator, so each row shows its calls per request."""

import re
from dataclasses import dataclass
from pathlib import Path

from offline.moto_server import MotoServer
from offline.vonage_simulator import VonageSimulator

_MOTO_REQUEST_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3}')


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
        total = len(_MOTO_REQUEST_LINE.findall(self.moto_log.read_text(errors="replace")))
        calls, self._moto_seen = total - self._moto_seen, total
        return calls, patches


def moto_log_path(moto: MotoServer) -> Path | None:
    log = getattr(moto, "_log", None)  # MotoServer logs every request to this file
    name = getattr(log, "name", None)
    return Path(name) if isinstance(name, str) else None
