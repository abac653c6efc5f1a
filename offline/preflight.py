"""`python -m offline.demo` / `python -m offline.serve` run by hand: a clear message, before anything starts,
when the interpreter is not the project's environment.

Only the standard library is imported here (find_spec does not import what it looks for), so that it can run
first, before the imports that would fail with a bare ModuleNotFoundError half-way through.
"""

import importlib.util
import sys
from typing import Final

# What the offline stack imports that a bare Python lacks (one per lock that provides it: the layer's runtime
# packages and the dev tools).
REQUIRED: Final = ("boto3", "aws_lambda_powertools", "urllib3", "jwt", "cryptography", "moto", "yaml")
MINIMUM_PYTHON: Final = (3, 11)


def missing_modules() -> list[str]:
    """The required modules this interpreter cannot import."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def require_environment(make_target: str, module: str) -> None:
    """Exits with status 3 and what to run instead when the interpreter is too old or lacks the packages."""
    problems = []
    if sys.version_info < MINIMUM_PYTHON:
        problems.append(f"Python {'.'.join(map(str, MINIMUM_PYTHON))}+ is needed (this is {sys.version.split()[0]})")
    elif missing := missing_modules():
        problems.append(f"this Python ({sys.executable}) lacks {', '.join(missing)}")
    if problems:
        print(
            f"python -m {module}: {'; '.join(problems)}.\n"
            f"Run `make {make_target}` (it sets up .venv from the locks first), or `make setup` once and then "
            f"`.venv/bin/python -m {module}`.",
            file=sys.stderr,
        )
        raise SystemExit(3)
