"""Vonage applications: a stack serves its default application (one secret) and any others it is told to,
each named by the agents that belong to it."""

import re
from typing import Final

# A name that is safe in a Secrets Manager name (the application's secret is `<default secret>/<name>`), an
# environment variable's list and a log line.
_APPLICATION_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
APPLICATION_NAME_RULE: Final = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_application_name(value: str) -> bool:
    return _APPLICATION_NAME.fullmatch(value) is not None


def secret_id_for(default_secret_id: str, application: str | None) -> str:
    """The one naming rule of the applications' secrets: the default application's is the stack's secret,
    application `brand-b`'s is `<that secret's name>/brand-b`."""
    return default_secret_id if application is None else f"{default_secret_id}/{application}"
