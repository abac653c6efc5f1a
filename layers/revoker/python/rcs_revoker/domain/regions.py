"""Vonage API regions and how a country or a region name maps to one."""

from enum import StrEnum

from rcs_revoker.domain.countries import COUNTRY_REGIONS


class Region(StrEnum):
    """A Vonage Messages API region: the one where the RCS agent was launched."""

    EU = "eu"
    US = "us"
    AP = "ap"

    @property
    def host(self) -> str:
        # The only hosts this service ever sends a PATCH to; nothing in a request can name another.
        return f"api-{self.value}.nexmo.com"


REGION_NAMES = ", ".join(region.value for region in Region)


def parse_region(value: str) -> Region | None:
    """The region named `value` (any case), or None when there is no such region."""
    try:
        return Region(value.lower())
    except ValueError:
        return None


def region_for_country(country: str) -> Region | None:
    """The region of an ISO 3166-1 alpha-2 code (any case), or None when the code is not assigned."""
    # ASCII first: str.upper() turns some other letters into ASCII ones ("\ufb01" -> "FI").
    if not (country.isascii() and country.isalpha()):
        return None
    region = COUNTRY_REGIONS.get(country.upper())
    return Region(region) if region else None
