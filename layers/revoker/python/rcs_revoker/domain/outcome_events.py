"""The outcome events the service publishes: what a downstream SMS fallback subscribes to."""

from typing import Final

OUTCOME_SOURCE: Final = "rcs-revoker"
ACCEPTED_DETAIL_TYPE: Final = "RCS Revocation Accepted"
REJECTED_DETAIL_TYPE: Final = "RCS Revocation Rejected"
