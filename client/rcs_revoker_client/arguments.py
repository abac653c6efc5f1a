"""The command line's own value syntax (durations, times, JSON objects), as argparse types: a value that
does not parse is a usage error before anything is sent. What the values may be (their bounds, the 24-hour
window) is the service's to say."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime
from typing import Any

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s?)?", re.ASCII)


def duration_seconds(text: str) -> int:
    """`30s`, `90`, `5m`, `2h`, `1h30m`: a whole number of seconds."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or found is None or not any(found.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 90, 5m, 2h or 1h30m")
    hours, minutes, seconds = (int(found[name] or 0) for name in ("h", "m", "s"))
    return hours * 3600 + minutes * 60 + seconds


def timestamp(text: str) -> str:
    """An ISO 8601 / RFC 3339 time with its offset, sent as RFC 3339 (2026-12-02T09:31:00+00:00)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time such as 2026-12-02T09:31:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset: add Z (UTC) or one such as +01:00")
    return moment.isoformat()


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, such as {"campaign": "black-friday"}')
    return value
