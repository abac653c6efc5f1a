"""Reading the service's JSON answers defensively: a field that is not what the API documents reads as empty,
never as a crash in the middle of printing an answer."""

from typing import Any


def objects_in(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The JSON objects of the list `document[name]` (a timeline, steps, rejected items); [] when it is absent or
    not a list."""
    items = document.get(name)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
