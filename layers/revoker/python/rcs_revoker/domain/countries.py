"""ISO 3166-1 alpha-2 country code -> Vonage API region ("eu", "us", "ap") where an RCS agent was launched.

Rule, based on the UN M49 geoscheme: Europe, Africa, Western Asia and Central Asia, plus Iran, are EMEA
-> "eu"; the Americas, incl. the Caribbean, Central America and Greenland, -> "us"; Southern, Eastern and
South-eastern Asia and Oceania -> "ap". Special cases: Antarctica (AQ) and British Indian Ocean Territory
(IO) -> "ap"; Bouvet Island (BV) and French Southern Territories (TF) -> "eu". Covers all 249 assigned codes.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["AMERICAS_COUNTRIES", "ASIA_PACIFIC_COUNTRIES", "COUNTRY_REGIONS", "EMEA_COUNTRIES"]


def _codes(*groups: str) -> frozenset[str]:
    """Joins whitespace-separated groups of codes into one set."""
    return frozenset(code for group in groups for code in group.split())


EMEA_COUNTRIES: Final[frozenset[str]] = _codes(
    # Northern Europe
    "AX DK EE FI FO GB GG IE IM IS JE LT LV NO SE SJ",
    # Western Europe
    "AT BE CH DE FR LI LU MC NL",
    # Eastern Europe (incl. Russia)
    "BG BY CZ HU MD PL RO RU SK UA",
    # Southern Europe
    "AD AL BA ES GI GR HR IT ME MK MT PT RS SI SM VA",
    # Western Asia (Middle East, incl. Turkey, Cyprus and the Caucasus)
    "AE AM AZ BH CY GE IL IQ JO KW LB OM PS QA SA SY TR YE",
    # Central Asia
    "KG KZ TJ TM UZ",
    # Southern Asia, handled as Middle East
    "IR",
    # Northern Africa
    "DZ EG EH LY MA SD TN",
    # Eastern Africa (incl. Réunion and Mayotte)
    "BI DJ ER ET KE KM MG MU MW MZ RE RW SC SO SS TZ UG YT ZM ZW",
    # Middle Africa
    "AO CD CF CG CM GA GQ ST TD",
    # Southern Africa
    "BW LS NA SZ ZA",
    # Western Africa (incl. Saint Helena)
    "BF BJ CI CV GH GM GN GW LR ML MR NE NG SH SL SN TG",
    # Special cases: Bouvet Island, French Southern Territories
    "BV TF",
)

AMERICAS_COUNTRIES: Final[frozenset[str]] = _codes(
    # Northern America (incl. Bermuda, Greenland, Saint Pierre and Miquelon)
    "BM CA GL PM US",
    # Caribbean
    "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI",
    # Central America
    "BZ CR GT HN MX NI PA SV",
    # South America (incl. Falklands, South Georgia)
    "AR BO BR CL CO EC FK GF GS GY PE PY SR UY VE",
)

ASIA_PACIFIC_COUNTRIES: Final[frozenset[str]] = _codes(
    # Southern Asia (Iran is in EMEA)
    "AF BD BT IN LK MV NP PK",
    # Eastern Asia
    "CN HK JP KP KR MN MO TW",
    # South-eastern Asia
    "BN ID KH LA MM MY PH SG TH TL VN",
    # Australia and New Zealand (incl. Christmas, Cocos, Heard and McDonald, Norfolk)
    "AU CC CX HM NF NZ",
    # Melanesia
    "FJ NC PG SB VU",
    # Micronesia (incl. Guam, Northern Mariana, US Minor Outlying Islands)
    "FM GU KI MH MP NR PW UM",
    # Polynesia
    "AS CK NU PF PN TK TO TV WF WS",
    # Special cases: Antarctica, British Indian Ocean Territory
    "AQ IO",
)

COUNTRY_REGIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        code: region
        for region, codes in (
            ("eu", EMEA_COUNTRIES),
            ("us", AMERICAS_COUNTRIES),
            ("ap", ASIA_PACIFIC_COUNTRIES),
        )
        for code in sorted(codes)
    }
)
