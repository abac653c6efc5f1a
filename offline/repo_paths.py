"""`python -m offline.demo` and `python -m offline.serve` without make: the import paths the Makefile's
PYTHONPATH gives, set up by the program itself. The shared package ships in a layer (layers/revoker/python,
which Lambda puts on sys.path); the functions and offline tools import from the repository's root."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_PYTHON = REPO_ROOT / "layers" / "revoker" / "python"


def use_repo_import_paths() -> None:
    """Puts the layer and the repository's root on sys.path, once each, before anything imports from them."""
    present = {Path(entry or ".").resolve() for entry in sys.path}
    for path in (REPO_ROOT, LAYER_PYTHON):
        if path not in present:
            sys.path.insert(0, str(path))
