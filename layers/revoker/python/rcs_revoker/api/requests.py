"""What API Gateway hands over, as the service reads it: the body, base64-decoded when flagged, within a
size limit, parsed as JSON. Transport only: what the JSON must hold is rcs_revoker.domain.validation's."""

import base64
import binascii
import json
from typing import Final

from rcs_revoker.domain.errors import InvalidRequest, RequestTooLarge

MAX_BODY_BYTES: Final = 8 * 1024
MAX_BATCH_BODY_BYTES: Final = 256 * 1024
# A status callback is a few hundred bytes; this leaves room for Vonage to add fields.
MAX_CALLBACK_BODY_BYTES: Final = 64 * 1024


def decode_json_body(body: str | None, *, is_base64: bool = False, max_bytes: int = MAX_BODY_BYTES) -> object:
    """The JSON value of an API Gateway body (None when absent), decoding base64 first when flagged."""
    if body is None or body == "":
        return None
    raw = raw_body(body, is_base64=is_base64, max_bytes=max_bytes)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8.") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"The request body is not valid JSON: {error.msg} at position {error.pos}.") from None
    except ValueError:  # an integer longer than Python's 4,300-digit conversion limit
        raise InvalidRequest("The request body holds a number too large to read.") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None


def raw_body(body: str | None, *, is_base64: bool = False, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The bytes of an API Gateway body as the caller sent them (what a signature's hash is over)."""
    if body is None:
        return b""
    if len(body) > max_bytes * 4 // 3 + 4:
        raise RequestTooLarge(f"The request body is larger than {max_bytes} bytes.")
    raw: bytes
    if is_base64:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("The request body is flagged as base64 but is not valid base64.") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        raise RequestTooLarge(f"The request body is larger than {max_bytes} bytes.")
    return raw
