"""Reading DynamoDB's low-level answers: attribute values and error codes, for every DynamoDB adapter."""

from typing import Any

from botocore.exceptions import ClientError


def string_attribute(item: dict[str, Any], name: str) -> str | None:
    """The string value of attribute `name` of a low-level item, or None when absent or of another type."""
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def error_code(error: Exception) -> str:
    """The AWS error code of a ClientError (e.g. ProvisionedThroughputExceededException), else the
    exception's class name (a timeout, a refused connection)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__
