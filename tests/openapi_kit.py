"""docs/openapi.yaml as the tests read it: the document tests (tests/infrastructure) and the examples run through
the handlers (tests/integration) share one loader and one $ref rule."""

from pathlib import Path
from typing import Any

import yaml

from offline.repo_paths import REPO_ROOT

DOCUMENT_PATH = REPO_ROOT / "docs" / "openapi.yaml"


def load(path: Path = DOCUMENT_PATH) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


DOCUMENT = load()


def resolved(node: Any) -> Any:
    """`node`, or what its $ref names in the document (components other than schemas, which jsonschema
    resolves itself)."""
    while isinstance(node, dict) and "$ref" in node and not node["$ref"].startswith("#/components/schemas"):
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
