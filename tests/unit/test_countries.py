"""Tests for the ISO 3166-1 alpha-2 -> Vonage region table."""

import pytest

from rcs_revoker.domain.countries import (
    AMERICAS_COUNTRIES,
    ASIA_PACIFIC_COUNTRIES,
    COUNTRY_REGIONS,
    EMEA_COUNTRIES,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Independent reference: every officially assigned ISO 3166-1 alpha-2 code (249), sorted.
ISO_3166_1_ALPHA_2 = _words(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
    FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN
    IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE
    YT ZA ZM ZW
    """
)

REGION_GROUPS = {"eu": EMEA_COUNTRIES, "us": AMERICAS_COUNTRIES, "ap": ASIA_PACIFIC_COUNTRIES}


def test_reference_list_is_complete() -> None:
    assert len(ISO_3166_1_ALPHA_2) == 249


def test_there_are_exactly_249_codes() -> None:
    assert len(COUNTRY_REGIONS) == 249


def test_codes_are_exactly_the_officially_assigned_ones() -> None:
    assert set(COUNTRY_REGIONS) == ISO_3166_1_ALPHA_2


@pytest.mark.parametrize("code", ["XK", "EU", "UK", "EZ", "UN", "AN", "CS", "YU"])
def test_unassigned_or_reserved_codes_are_absent(code: str) -> None:
    assert code not in COUNTRY_REGIONS


def test_every_code_is_two_ascii_upper_case_letters() -> None:
    bad = [code for code in COUNTRY_REGIONS if not (len(code) == 2 and code.isascii() and code.isupper())]
    assert bad == []


def test_every_region_is_a_known_one() -> None:
    assert set(COUNTRY_REGIONS.values()) == {"eu", "us", "ap"}


def test_no_code_is_in_two_regions() -> None:
    groups = list(REGION_GROUPS.values())
    assert len(frozenset().union(*groups)) == sum(len(group) for group in groups)
    assert not EMEA_COUNTRIES & AMERICAS_COUNTRIES
    assert not EMEA_COUNTRIES & ASIA_PACIFIC_COUNTRIES
    assert not AMERICAS_COUNTRIES & ASIA_PACIFIC_COUNTRIES


@pytest.mark.parametrize(("region", "group"), REGION_GROUPS.items())
def test_mapping_agrees_with_groups(region: str, group: frozenset[str]) -> None:
    assert {code for code, mapped in COUNTRY_REGIONS.items() if mapped == region} == group


@pytest.mark.parametrize(
    ("code", "region"),
    [
        *((code, "eu") for code in ("FR", "ES", "PT", "ZA", "NG", "NO", "SE", "NL", "AT", "DE", "GB", "IT")),
        *((code, "us") for code in ("MX", "BR", "CA")),
    ],
)
def test_product_spec_examples(code: str, region: str) -> None:
    assert COUNTRY_REGIONS[code] == region


@pytest.mark.parametrize(
    ("code", "region"),
    [
        # EMEA: Europe, Africa, Middle East, Central Asia, Iran and the southern special cases.
        ("AX", "eu"),
        ("RS", "eu"),
        ("ME", "eu"),
        ("RU", "eu"),
        ("TR", "eu"),
        ("CY", "eu"),
        ("GE", "eu"),
        ("AE", "eu"),
        ("PS", "eu"),
        ("YE", "eu"),
        ("KZ", "eu"),
        ("UZ", "eu"),
        ("IR", "eu"),
        ("EH", "eu"),
        ("SS", "eu"),
        ("SH", "eu"),
        ("RE", "eu"),
        ("YT", "eu"),
        ("BV", "eu"),
        ("TF", "eu"),
        # Americas, incl. the Caribbean, Greenland and the South Atlantic.
        ("US", "us"),
        ("GL", "us"),
        ("BM", "us"),
        ("PM", "us"),
        ("CW", "us"),
        ("SX", "us"),
        ("BQ", "us"),
        ("BL", "us"),
        ("MF", "us"),
        ("PR", "us"),
        ("FK", "us"),
        ("GS", "us"),
        ("AR", "us"),
        # Asia-Pacific, incl. Oceania and the special cases.
        ("AF", "ap"),
        ("PK", "ap"),
        ("IN", "ap"),
        ("JP", "ap"),
        ("TL", "ap"),
        ("AU", "ap"),
        ("UM", "ap"),
        ("GU", "ap"),
        ("MP", "ap"),
        ("AS", "ap"),
        ("CX", "ap"),
        ("CC", "ap"),
        ("HM", "ap"),
        ("NF", "ap"),
        ("PN", "ap"),
        ("TK", "ap"),
        ("WF", "ap"),
        ("PF", "ap"),
        ("NC", "ap"),
        ("AQ", "ap"),
        ("IO", "ap"),
    ],
)
def test_region_examples(code: str, region: str) -> None:
    assert COUNTRY_REGIONS[code] == region


def test_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        COUNTRY_REGIONS["FR"] = "us"  # type: ignore[index]
    with pytest.raises(TypeError):
        del COUNTRY_REGIONS["FR"]  # type: ignore[attr-defined]
    assert COUNTRY_REGIONS["FR"] == "eu"
