"""rcs_revoker: revokes RCS messages sent through the Vonage Messages API."""

SERVICE_NAME = "rcs-revoker"
__version__ = "0.1.0"
