"""How Vonage's answers become results: Retry-After in both of its forms."""

import email.utils
import time

import pytest
import urllib3

from rcs_revoker.adapters.vonage_messages import _interpret
from rcs_revoker.domain.errors import VonageRateLimited
from rcs_revoker.domain.regions import Region


def rate_limited(retry_after: str | None) -> urllib3.HTTPResponse:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return urllib3.HTTPResponse(body=b"", headers=headers, status=429)


HTTP_DATE_IN_TWO_MINUTES = "http-date"  # made when the test runs: a date fixed at collection time goes stale


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("17", 17), (None, None), ("soon", None), (HTTP_DATE_IN_TWO_MINUTES, 120)],
)
def test_retry_after_in_seconds_or_as_an_http_date(retry_after: str | None, expected: int | None) -> None:
    if retry_after == HTTP_DATE_IN_TWO_MINUTES:
        retry_after = email.utils.formatdate(time.time() + 120, usegmt=True)

    with pytest.raises(VonageRateLimited) as raised:
        _interpret(rate_limited(retry_after), "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", Region.EU)

    if expected is None:
        assert raised.value.retry_after_s is None
    else:
        assert raised.value.retry_after_s is not None
        assert abs(raised.value.retry_after_s - expected) <= 2
