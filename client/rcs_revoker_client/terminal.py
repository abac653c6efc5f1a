"""A line that shows progress: rewritten in place on a terminal (a carriage return, then clear to the end of
the line), one plain line per change when the output is a file or a pipe (so a log keeps each step)."""

from __future__ import annotations

from typing import TextIO


class LiveLine:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last: str | None = None
        self._shown = False

    @property
    def is_tty(self) -> bool:
        return self._tty

    def update(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        if self._tty:
            self._stream.write("\r\x1b[K" + text)
            self._shown = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def done(self) -> None:
        """Ends the live line (the next output starts on a line of its own)."""
        if self._tty and self._shown:
            self._stream.write("\n")
            self._stream.flush()
        self._shown = False


def progress_bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"
