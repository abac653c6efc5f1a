"""Unit tests for rcs_revoker.domain.validation: untrusted input in, a RevocationRequest or an InvalidRequest out."""

import base64
import json
from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcs_revoker.api.requests import MAX_BODY_BYTES, decode_json_body
from rcs_revoker.domain.errors import InvalidRequest, RequestTooLarge
from rcs_revoker.domain.models import RevocationRequest
from rcs_revoker.domain.regions import Region
from rcs_revoker.domain.validation import (
    ALLOWED_FIELDS,
    MAX_AGENT_ID_LENGTH,
    parse_message_uuid,
    parse_revocation_detail,
    parse_revocation_fields,
    parse_timestamp,
    shorten,
)

UUID = "0d3c1f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
ELLIPSIS = "\u2026"
# A message must stay short whatever the caller sent: the longest fixed text plus a 64-character excerpt.
MAX_MESSAGE_LENGTH = 300


def fields(**values: object) -> RevocationRequest:
    return parse_revocation_fields(UUID, values)


def invalid(message_uuid: object, body: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_fields(message_uuid, body)
    return caught.value


# --- shorten ------------------------------------------------------------------------------------------
def test_shorten_quotes_a_short_string_as_is() -> None:
    assert shorten("eu") == "'eu'"


def test_shorten_cuts_a_long_string_at_the_limit_and_marks_the_cut() -> None:
    assert shorten("x" * 65) == repr("x" * 64 + ELLIPSIS)
    assert shorten("x" * 64) == repr("x" * 64)


def test_shorten_serializes_non_strings_as_json_before_cutting() -> None:
    assert shorten(None) == "'null'"
    assert shorten({"a": [1, True]}) == repr('{"a": [1, true]}')
    assert shorten(list(range(1000))) == repr(json.dumps(list(range(1000)))[:64] + ELLIPSIS)


def test_shorten_honours_a_custom_limit() -> None:
    assert shorten("abcdef", limit=3) == repr("abc" + ELLIPSIS)


# --- parse_message_uuid -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (UUID, UUID),
        (UUID.upper(), UUID),
        ("0D3C1F4E-5a6b-4C7D-8e9f-A0B1c2d3E4F5", UUID),
        ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"),
        ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    ],
)
def test_parse_message_uuid_accepts_canonical_uuids_and_lowercases_them(given: str, expected: str) -> None:
    assert parse_message_uuid(given) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(UUID[:-1], id="one-digit-short"),
        pytest.param(UUID + "0", id="one-digit-long"),
        pytest.param(UUID.replace("-", ""), id="no-hyphens"),
        pytest.param(UUID.replace("-", "", 1), id="one-hyphen-missing"),
        pytest.param("0d3c1f4e5-a6b-4c7d-8e9f-a0b1c2d3e4f5", id="hyphen-misplaced"),
        pytest.param("{" + UUID + "}", id="braces"),
        pytest.param("urn:uuid:" + UUID, id="urn-prefix"),
        pytest.param(UUID[:-1] + "g", id="non-hex-g"),
        pytest.param(UUID[:-1] + "\uff10", id="fullwidth-digit"),
        pytest.param(UUID[:-1] + "\u0660", id="arabic-indic-digit"),
        pytest.param(" " + UUID, id="leading-space"),
        pytest.param(UUID + "\n", id="trailing-newline"),
        pytest.param(UUID + "/", id="trailing-slash"),
        pytest.param("../x", id="path-traversal"),
        pytest.param("../" + UUID, id="path-traversal-before-uuid"),
        pytest.param("..%2F..%2Fadmin", id="url-encoded-slash"),
        pytest.param(UUID[:8] + "%2F" + UUID[9:], id="url-encoded-slash-in-uuid"),
        pytest.param(UUID.replace("-", "_"), id="underscores"),
    ],
)
def test_parse_message_uuid_rejects_non_canonical_strings(value: str) -> None:
    with pytest.raises(InvalidRequest, match="not a canonical UUID"):
        parse_message_uuid(value)


@pytest.mark.parametrize("value", [None, 123, 1.5, True, [UUID], {"uuid": UUID}, UUID.encode()])
def test_parse_message_uuid_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidRequest, match="not a canonical UUID"):
        parse_message_uuid(value)


def test_parse_message_uuid_error_quotes_the_value() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_message_uuid("../x")
    assert "'../x'" in caught.value.detail


def test_parse_message_uuid_error_does_not_echo_a_huge_value() -> None:
    # Given an attacker-sized path parameter
    value = "A" * 100_000
    # When it is rejected
    with pytest.raises(InvalidRequest) as caught:
        parse_message_uuid(value)
    # Then the message carries only a short excerpt of it
    assert len(caught.value.detail) < MAX_MESSAGE_LENGTH
    assert "A" * 64 + ELLIPSIS in caught.value.detail
    assert "A" * 65 not in caught.value.detail


# --- parse_revocation_fields: the body's shape --------------------------------------------------------
@pytest.mark.parametrize("body", [None, {}])
def test_no_body_or_an_empty_object_gives_a_request_without_selector(body: object) -> None:
    assert parse_revocation_fields(UUID, body) == RevocationRequest(message_uuid=UUID)


def test_message_uuid_is_validated_and_lowercased_with_the_fields() -> None:
    assert parse_revocation_fields(UUID.upper(), {"region": "eu"}).message_uuid == UUID
    assert "canonical UUID" in invalid("not-a-uuid", {"region": "eu"}).detail


def test_message_uuid_is_checked_before_the_body() -> None:
    # Both are wrong: the path is reported first, so the caller fixes the URL before anything else.
    assert "canonical UUID" in invalid("../x", ["not", "an", "object"]).detail


@pytest.mark.parametrize(
    ("body", "described_as"),
    [
        ([], "an array"),
        ("eu", "a string"),
        (1, "a number"),
        (1.5, "a number"),
        (True, "a boolean"),
        (False, "a boolean"),
    ],
)
def test_a_body_that_is_not_an_object_is_rejected_naming_its_json_type(body: object, described_as: str) -> None:
    error = invalid(UUID, body)
    assert f"must be a JSON object, not {described_as}." in error.detail


def test_unknown_field_is_rejected_and_named_with_the_allowed_fields() -> None:
    error = invalid(UUID, {"regoin": "eu"})
    assert "Unknown field(s): 'regoin'." in error.detail
    assert (
        "Allowed fields: region, country, agent_id, sent_at, client_ref, metadata, after_seconds, at." in error.detail
    )
    assert "Data of your own goes in metadata" in error.detail


def test_unknown_field_with_a_null_value_is_still_rejected() -> None:
    # None only makes a known field absent; a typo stays a typo.
    assert "'colour'" in invalid(UUID, {"colour": None}).detail


def test_message_uuid_in_the_body_is_an_unknown_field() -> None:
    assert "'message_uuid'" in invalid(UUID, {"message_uuid": UUID}).detail


def test_unknown_fields_are_listed_sorted() -> None:
    error = invalid(UUID, {"zeta": 1, "alpha": 2, "region": "eu", "mid": 3})
    assert "Unknown field(s): 'alpha', 'mid', 'zeta'." in error.detail


def test_unknown_fields_list_is_capped_at_five() -> None:
    # Given seven unknown fields
    body = {f"field{index}": index for index in range(7)}
    # When rejected
    error = invalid(UUID, body)
    # Then only the first five, in sorted order, are named
    assert "Unknown field(s): 'field0', 'field1', 'field2', 'field3', 'field4'." in error.detail
    assert "field5" not in error.detail
    assert "field6" not in error.detail


def test_unknown_field_names_are_cut_to_40_characters() -> None:
    error = invalid(UUID, {"k" * 10_000: 1})
    assert repr("k" * 40 + ELLIPSIS) in error.detail
    assert "k" * 41 not in error.detail
    assert len(error.detail) < MAX_MESSAGE_LENGTH


# --- exactly one selector -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"region": "eu", "country": "GB"}, "region and country"),
        ({"region": "eu", "agent_id": "agent"}, "region and agent_id"),
        ({"country": "GB", "agent_id": "agent"}, "country and agent_id"),
        ({"region": "eu", "country": "GB", "agent_id": "agent"}, "region and country and agent_id"),
    ],
)
def test_more_than_one_selector_is_rejected_naming_them(body: dict[str, object], named: str) -> None:
    error = invalid(UUID, body)
    assert "Give exactly one of region, country or agent_id" in error.detail
    assert f"got {named}." in error.detail


def test_more_than_one_selector_is_rejected_even_when_both_are_invalid() -> None:
    # The selector rule is checked before the values: "mars" and 42 are not what is reported.
    assert "got region and country." in invalid(UUID, {"region": "mars", "country": 42}).detail


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"region": "eu", "country": None}, RevocationRequest(message_uuid=UUID, region=Region.EU)),
        ({"region": None, "country": "de"}, RevocationRequest(message_uuid=UUID, country="DE")),
        ({"region": None, "country": None, "agent_id": "a1"}, RevocationRequest(message_uuid=UUID, agent_id="a1")),
        (
            {"region": None, "country": None, "agent_id": None, "sent_at": None},
            RevocationRequest(message_uuid=UUID),
        ),
    ],
)
def test_null_values_count_as_absent(body: dict[str, object], expected: RevocationRequest) -> None:
    assert parse_revocation_fields(UUID, body) == expected


# --- region -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("eu", Region.EU), ("EU", Region.EU), ("Eu", Region.EU), ("us", Region.US), ("US", Region.US), ("aP", Region.AP)],
)
def test_region_is_accepted_in_any_case(value: str, expected: Region) -> None:
    assert fields(region=value) == RevocationRequest(message_uuid=UUID, region=expected)


@pytest.mark.parametrize(
    "value",
    ["", "mars", "europe", "eu-west-1", " eu", "eu ", "api-eu.nexmo.com", 1, True, ["eu"], {"eu": 1}],
)
def test_unknown_or_non_string_region_is_rejected_listing_the_regions(value: object) -> None:
    error = invalid(UUID, {"region": value})
    assert error.detail.startswith(f"Unknown region {shorten(value)};")
    assert "expected one of eu, us, ap." in error.detail


def test_region_error_does_not_echo_a_huge_value() -> None:
    error = invalid(UUID, {"region": "r" * 100_000})
    assert len(error.detail) < MAX_MESSAGE_LENGTH
    assert "r" * 65 not in error.detail


# --- country ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [("GB", "GB"), ("gb", "GB"), ("Sg", "SG"), ("uS", "US")])
def test_country_is_accepted_in_any_case_and_upper_cased(value: str, expected: str) -> None:
    assert fields(country=value) == RevocationRequest(message_uuid=UUID, country=expected)


@pytest.mark.parametrize("value", ["", "XX", "ZZ", "G", "GBR", "UK", " GB", "G B", 44, True, ["GB"], {"GB": 1}])
def test_unassigned_or_non_string_country_is_rejected(value: object) -> None:
    error = invalid(UUID, {"country": value})
    assert error.detail.startswith(f"Unknown country {shorten(value)};")
    assert "ISO 3166-1 alpha-2" in error.detail


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("\ufb01", id="fi-ligature-upper-cases-to-FI"),
        pytest.param("\ufb06", id="st-ligature-upper-cases-to-ST"),
        pytest.param("\u0131t", id="dotless-i-upper-cases-to-IT"),
        pytest.param("\u017fe", id="long-s-upper-cases-to-SE"),
    ],
)
def test_non_ascii_lookalikes_of_a_country_code_are_rejected(value: str) -> None:
    # An ISO 3166-1 alpha-2 code is two ASCII letters; str.upper() maps some other characters onto them.
    error = invalid(UUID, {"country": value})
    assert "Unknown country" in error.detail


def test_country_error_does_not_echo_a_huge_value() -> None:
    error = invalid(UUID, {"country": "c" * 100_000})
    assert len(error.detail) < MAX_MESSAGE_LENGTH
    assert "c" * 65 not in error.detail


# --- agent_id -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    ["a", "my-agent_01", "agent.example.com", "A" * MAX_AGENT_ID_LENGTH, "!~#$%&'()*+,-./:;<=>?@[]^_`{|}"],
)
def test_agent_id_of_printable_ascii_up_to_the_limit_is_accepted_as_is(value: str) -> None:
    assert fields(agent_id=value) == RevocationRequest(message_uuid=UUID, agent_id=value)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("A" * (MAX_AGENT_ID_LENGTH + 1), id="257-chars"),
        pytest.param("my agent", id="space"),
        pytest.param(" agent", id="leading-space"),
        pytest.param("agent\t1", id="tab"),
        pytest.param("agent\n", id="newline"),
        pytest.param("agent\x00", id="nul"),
        pytest.param("agent\x7f", id="del"),
        pytest.param("agent\u00e9", id="non-ascii"),
        pytest.param("agent\u200b", id="zero-width-space"),
        pytest.param(42, id="number"),
        pytest.param(True, id="boolean"),
        pytest.param(["agent"], id="array"),
        pytest.param({"id": "agent"}, id="object"),
    ],
)
def test_invalid_agent_id_is_rejected(value: object) -> None:
    error = invalid(UUID, {"agent_id": value})
    assert error.detail == "agent_id must be 1 to 256 printable ASCII characters without spaces."


# --- sent_at ------------------------------------------------------------------------------------------
def _tz(hours: int, minutes: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T09:30:00Z", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26T09:30:00z", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26t09:30:00Z", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26 09:30:00Z", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26T09:30:00+00:00", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26T09:30:00-00:00", datetime(2026, 11, 26, 9, 30, tzinfo=UTC)),
        ("2026-11-26T09:30:00+05:30", datetime(2026, 11, 26, 9, 30, tzinfo=_tz(5, 30))),
        ("2026-11-26T09:30:00-03:00", datetime(2026, 11, 26, 9, 30, tzinfo=_tz(-3))),
        ("2026-11-26T09:30:00.5Z", datetime(2026, 11, 26, 9, 30, 0, 500_000, tzinfo=UTC)),
        ("2026-11-26T09:30:00.123Z", datetime(2026, 11, 26, 9, 30, 0, 123_000, tzinfo=UTC)),
        ("2026-11-26T09:30:00.123456Z", datetime(2026, 11, 26, 9, 30, 0, 123_456, tzinfo=UTC)),
        ("2026-11-26T09:30:00.1234567+01:00", datetime(2026, 11, 26, 9, 30, 0, 123_456, tzinfo=_tz(1))),
        ("2026-11-26T09:30:00.123456789Z", datetime(2026, 11, 26, 9, 30, 0, 123_456, tzinfo=UTC)),
        ("2026-11-26 09:30:00.999999999z", datetime(2026, 11, 26, 9, 30, 0, 999_999, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_rfc3339_sent_at_is_accepted_with_its_offset(value: str, expected: datetime) -> None:
    sent_at = fields(sent_at=value).sent_at
    assert sent_at == expected
    assert sent_at is not None
    assert sent_at.utcoffset() == expected.utcoffset()


def test_sent_at_goes_with_a_selector() -> None:
    assert fields(region="us", sent_at="2026-11-26T09:30:00Z") == RevocationRequest(
        message_uuid=UUID, region=Region.US, sent_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-11-26T09:30:00", id="no-offset"),
        pytest.param("2026-11-26T09:30:00.5", id="fraction-no-offset"),
        pytest.param("2026-11-26", id="date-only"),
        pytest.param("09:30:00Z", id="time-only"),
        pytest.param("20261126T093000Z", id="basic-iso"),
        pytest.param("2026-11-26T093000Z", id="basic-time"),
        pytest.param("2026-W48-4T09:30:00Z", id="week-date"),
        pytest.param("2026-W48-4", id="week-date-only"),
        pytest.param("2026-330T09:30:00Z", id="ordinal-date"),
        pytest.param("2026-11-26T09:30Z", id="no-seconds"),
        pytest.param("2026-11-26T09:30:00.1234567890Z", id="ten-fraction-digits"),
        pytest.param("2026-11-26T09:30:00.Z", id="empty-fraction"),
        pytest.param("2026-11-26T09:30:00,5Z", id="comma-fraction"),
        pytest.param("2026-11-26T09:30:00+0530", id="basic-offset"),
        pytest.param("2026-11-26T09:30:00+05", id="hour-offset"),
        pytest.param("2026-11-26T09:30:00UTC", id="named-zone"),
        pytest.param("2026-11-26T09:30:00+24:00", id="offset-out-of-range"),
        pytest.param("2026-13-01T09:30:00Z", id="month-13"),
        pytest.param("2026-02-30T09:30:00Z", id="february-30"),
        pytest.param("2026-11-26T25:30:00Z", id="hour-25"),
        pytest.param("2026-11-26T09:30:00Z\n", id="trailing-newline"),
        pytest.param(" 2026-11-26T09:30:00Z", id="leading-space"),
        pytest.param("\uff12026-11-26T09:30:00Z", id="fullwidth-digit"),
        pytest.param("", id="empty"),
        pytest.param(1_764_149_400, id="epoch-int"),
        pytest.param(1_764_149_400.5, id="epoch-float"),
        pytest.param(True, id="boolean"),
        pytest.param(["2026-11-26T09:30:00Z"], id="array"),
        pytest.param({"at": "2026-11-26T09:30:00Z"}, id="object"),
    ],
)
def test_sent_at_that_is_not_rfc3339_with_an_offset_is_rejected(value: object) -> None:
    error = invalid(UUID, {"sent_at": value})
    assert error.detail.startswith(f"sent_at {shorten(value)} is not an RFC 3339 timestamp with an offset")


# A leap second: 23:59:60 UTC, read as 23:59:59.999999 (datetime has no second 60).
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-06-30T23:59:60Z", datetime(2026, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2016-12-31T23:59:60z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2016-12-31 23:59:60.5Z", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2016-12-31T23:59:60+00:00", datetime(2016, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        # RFC 3339's own example (section 5.8): the same leap second, in Pacific Standard Time.
        ("1990-12-31T15:59:60-08:00", datetime(1990, 12, 31, 15, 59, 59, 999_999, tzinfo=_tz(-8))),
        ("2026-07-01T01:59:60+02:00", datetime(2026, 7, 1, 1, 59, 59, 999_999, tzinfo=_tz(2))),
        ("2026-07-01T05:29:60.123456789+05:30", datetime(2026, 7, 1, 5, 29, 59, 999_999, tzinfo=_tz(5, 30))),
    ],
)
def test_a_leap_second_is_accepted_as_the_last_microsecond_of_the_second_before(value: str, expected: datetime) -> None:
    sent_at = fields(sent_at=value).sent_at
    assert sent_at == expected
    assert sent_at is not None
    assert sent_at.utcoffset() == expected.utcoffset()


def test_a_leap_second_comes_after_every_time_of_its_day_and_before_the_next_day() -> None:
    leap, before, after = (
        parse_timestamp(value) or pytest.fail(f"{value} refused")
        for value in ("2026-06-30T23:59:60Z", "2026-06-30T23:59:59.999998Z", "2026-07-01T00:00:00Z")
    )
    assert before < leap < after


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-06-30T23:59:61Z", id="second-61"),
        pytest.param("2026-06-30T23:59:99Z", id="second-99"),
        pytest.param("2026-06-30T12:00:60Z", id="leap-second-at-noon"),
        pytest.param("2026-06-30T23:58:60Z", id="leap-second-a-minute-early"),
        pytest.param("2026-06-30T00:00:60Z", id="leap-second-after-midnight"),
        # 23:59:60 in an offset other than UTC's is another instant (21:59:60 UTC here): no leap second then.
        pytest.param("2026-06-30T23:59:60+02:00", id="leap-second-in-local-time"),
        pytest.param("1990-12-31T15:59:60-07:00", id="leap-second-in-the-wrong-offset"),
        pytest.param("2026-06-31T23:59:60Z", id="leap-second-on-june-31"),
        pytest.param("2026-06-30T23:59:60", id="leap-second-without-offset"),
    ],
)
def test_a_seconds_value_of_60_anywhere_but_at_23_59_utc_is_rejected(value: str) -> None:
    error = invalid(UUID, {"sent_at": value})
    assert error.detail.startswith(f"sent_at {shorten(value)} is not an RFC 3339 timestamp with an offset")


@settings(max_examples=300, deadline=None)
@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    offset_minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_a_leap_second_is_accepted_exactly_when_it_is_23_59_60_in_utc(
    hour: int, minute: int, offset_minutes: int
) -> None:
    sign, magnitude = ("-" if offset_minutes < 0 else "+"), abs(offset_minutes)
    value = f"2026-06-30T{hour:02d}:{minute:02d}:60{sign}{magnitude // 60:02d}:{magnitude % 60:02d}"

    parsed = parse_timestamp(value)

    in_utc = (hour * 60 + minute - offset_minutes) % (24 * 60)
    assert (parsed is not None) == (in_utc == 23 * 60 + 59), value
    if parsed is not None:
        assert parsed.astimezone(UTC).time() == time(23, 59, 59, 999_999)


def test_sent_at_error_does_not_echo_a_huge_value() -> None:
    error = invalid(UUID, {"sent_at": "2026-11-26T09:30:00Z" * 10_000})
    assert len(error.detail) < MAX_MESSAGE_LENGTH


# --- parse_revocation_detail --------------------------------------------------------------------------
def test_detail_with_message_uuid_and_selector_is_parsed_like_a_body() -> None:
    detail = {"message_uuid": UUID.upper(), "country": "sg", "sent_at": "2026-11-26T09:30:00Z"}
    assert parse_revocation_detail(detail) == RevocationRequest(
        message_uuid=UUID, country="SG", sent_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    )


def test_detail_with_only_message_uuid_has_no_selector() -> None:
    assert parse_revocation_detail({"message_uuid": UUID}) == RevocationRequest(message_uuid=UUID)


@pytest.mark.parametrize(
    ("detail", "described_as"),
    [(None, "null"), ([UUID], "an array"), (UUID, "a string"), (7, "a number"), (False, "a boolean")],
)
def test_detail_that_is_not_an_object_is_rejected(detail: object, described_as: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_detail(detail)
    assert caught.value.detail == f"The event detail must be a JSON object, not {described_as}."


def test_detail_without_message_uuid_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_detail({"region": "eu"})
    assert caught.value.detail == "The event detail has no message_uuid."


@pytest.mark.parametrize("message_uuid", [None, "../x", 42, UUID.replace("-", "")])
def test_detail_with_an_invalid_message_uuid_is_rejected(message_uuid: object) -> None:
    with pytest.raises(InvalidRequest, match="not a canonical UUID"):
        parse_revocation_detail({"message_uuid": message_uuid, "region": "eu"})


@pytest.mark.parametrize(
    ("detail", "fragment"),
    [
        ({"message_uuid": UUID, "region": "eu", "country": "GB"}, "got region and country"),
        ({"message_uuid": UUID, "priority": "high"}, "Unknown field(s): 'priority'"),
        ({"message_uuid": UUID, "sent_at": "yesterday"}, "not an RFC 3339 timestamp"),
        ({"message_uuid": UUID, "region": "mars"}, "Unknown region 'mars'"),
    ],
)
def test_detail_follows_the_body_rules(detail: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_detail(detail)
    assert fragment in caught.value.detail


@pytest.mark.parametrize(
    ("message_uuid", "attached"),
    [(UUID, UUID), ("not-a-uuid", "not-a-uuid"), ("x" * 1000, "x" * 64), (42, None), (None, None)],
)
def test_detail_rejection_says_which_message_it_was(message_uuid: object, attached: str | None) -> None:
    # Given a detail whose fields are wrong: whoever reads the rejection needs the message it named
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_detail({"message_uuid": message_uuid, "region": "mars"})
    # Then a string message_uuid is attached (cut to 64 characters), anything else is not
    assert caught.value.message_uuid == attached


# --- decode_json_body (rcs_revoker.api.requests) ----------------------------------------------------------------------
def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


@pytest.mark.parametrize("is_base64", [False, True])
@pytest.mark.parametrize("body", [None, ""])
def test_absent_body_decodes_to_none(body: str | None, is_base64: bool) -> None:
    assert decode_json_body(body, is_base64=is_base64) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"region": "eu"}', {"region": "eu"}),
        ("[1, 2]", [1, 2]),
        ('"text"', "text"),
        ("null", None),
        (' {"a": "\\u00e9"} ', {"a": "\u00e9"}),
        ('{"a": "\u00e9"}', {"a": "\u00e9"}),
    ],
)
def test_plain_body_is_decoded_as_json(body: str, expected: object) -> None:
    assert decode_json_body(body) == expected
    assert decode_json_body(body, is_base64=False) == expected


def test_base64_body_is_decoded_before_json() -> None:
    assert decode_json_body(b64('{"country": "gb", "a": "\u00e9"}'), is_base64=True) == {
        "country": "gb",
        "a": "\u00e9",
    }


def test_base64_text_is_not_decoded_when_not_flagged() -> None:
    # Without the flag, base64 text is just invalid JSON.
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        decode_json_body(b64('{"region": "eu"}'))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not base64!", id="punctuation"),
        pytest.param("eyJ", id="bad-padding"),
        pytest.param(b64('{"region": "eu"}')[:8] + "\n" + b64('{"region": "eu"}')[8:], id="embedded-newline"),
        pytest.param('{"region": "eu"}', id="plain-json"),
        pytest.param("\u00e9\u00e9\u00e9\u00e9", id="non-ascii"),
    ],
)
def test_invalid_base64_is_rejected(body: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_json_body(body, is_base64=True)
    assert caught.value.detail == "The request body is flagged as base64 but is not valid base64."
    assert type(caught.value) is InvalidRequest


@pytest.mark.parametrize(
    ("body", "is_base64"),
    [
        pytest.param(b64(b'{"a": "\xff\xfe"}'), True, id="base64-of-invalid-utf8"),
        pytest.param(b64(b"\xc3\x28"), True, id="base64-of-truncated-sequence"),
        pytest.param('{"a": "\ud800"}', False, id="lone-surrogate"),
    ],
)
def test_invalid_utf8_is_rejected(body: str, is_base64: bool) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_json_body(body, is_base64=is_base64)
    assert caught.value.detail == "The request body is not valid UTF-8."


@pytest.mark.parametrize(
    ("body", "position"),
    [('{"region": }', 11), ("{", 1), ("not json", 0), ('{"a": 1} trailing', 9), ("\ufeff{}", 0)],
)
def test_invalid_json_is_rejected_with_the_error_position(body: str, position: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_json_body(body)
    assert caught.value.detail.startswith("The request body is not valid JSON: ")
    assert caught.value.detail.endswith(f" at position {position}.")


def test_invalid_json_in_base64_is_rejected_with_the_error_position() -> None:
    with pytest.raises(InvalidRequest, match=r"not valid JSON: Expecting value at position 11\."):
        decode_json_body(b64('{"region": }'), is_base64=True)


def _json_string_of_bytes(size: int) -> str:
    """A JSON string literal exactly `size` bytes long."""
    return '"' + "a" * (size - 2) + '"'


@pytest.mark.parametrize("is_base64", [False, True])
def test_body_of_exactly_the_limit_is_accepted(is_base64: bool) -> None:
    text = _json_string_of_bytes(MAX_BODY_BYTES)
    body = b64(text) if is_base64 else text
    assert decode_json_body(body, is_base64=is_base64) == "a" * (MAX_BODY_BYTES - 2)


@pytest.mark.parametrize("is_base64", [False, True])
def test_body_one_byte_over_the_limit_is_too_large(is_base64: bool) -> None:
    text = _json_string_of_bytes(MAX_BODY_BYTES + 1)
    body = b64(text) if is_base64 else text
    with pytest.raises(RequestTooLarge) as caught:
        decode_json_body(body, is_base64=is_base64)
    assert caught.value.detail == "The request body is larger than 8192 bytes."


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    # Given 4,098 characters that are 8,194 bytes in UTF-8
    body = '"' + "\u00e9" * 4096 + '"'
    assert len(body) < MAX_BODY_BYTES
    # Then the body is too large
    with pytest.raises(RequestTooLarge):
        decode_json_body(body)


@pytest.mark.parametrize("is_base64", [False, True])
def test_huge_body_is_too_large_before_any_decoding(is_base64: bool) -> None:
    # Not valid base64 nor JSON: the size alone decides.
    with pytest.raises(RequestTooLarge):
        decode_json_body("!" * 1_000_000, is_base64=is_base64)


def test_too_large_is_a_kind_of_invalid_request() -> None:
    assert issubclass(RequestTooLarge, InvalidRequest)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000, id="100k-brackets"),
        pytest.param("[" * MAX_BODY_BYTES, id="brackets-within-the-size-limit"),
        pytest.param('{"a":' * (MAX_BODY_BYTES // 5), id="objects-within-the-size-limit"),
    ],
)
def test_deeply_nested_json_is_an_invalid_request_not_a_recursion_error(body: str) -> None:
    with pytest.raises(InvalidRequest):
        decode_json_body(body)


def test_decoder_recursion_error_becomes_an_invalid_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a JSON decoder that runs out of stack (as CPython's does on deep input, at a depth that varies by version)
    def exhausted(*_args: object, **_kwargs: object) -> object:
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")

    monkeypatch.setattr("rcs_revoker.api.requests.json.loads", exhausted)
    # When a body is decoded
    with pytest.raises(InvalidRequest) as caught:
        decode_json_body("[[[[]]]]")
    # Then the caller is told what is wrong
    assert caught.value.detail == "The request body is nested too deeply."


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("1" * 5_000, id="bare-integer"),
        pytest.param('{"sent_at": ' + "9" * 5_000 + "}", id="integer-field"),
    ],
)
def test_integer_longer_than_pythons_conversion_limit_is_an_invalid_request(body: str) -> None:
    # Given a body under 8 KiB holding an integer of more than 4,300 digits, which json.loads
    # refuses with a plain ValueError (Python's integer string conversion limit)
    assert len(body.encode()) <= MAX_BODY_BYTES
    # Then it is an invalid request (400), not an unexpected error (500)
    with pytest.raises(InvalidRequest):
        decode_json_body(body)


# --- properties ---------------------------------------------------------------------------------------
PLAUSIBLE_STRINGS = [
    "eu",
    "US",
    "aP",
    "mars",
    "gb",
    "SG",
    "XX",
    "agent-1",
    "bad agent",
    "2026-11-26T09:30:00Z",
    "2026-11-26T09:30:00.123456789+05:30",
    "2026-11-26",
    "",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(PLAUSIBLE_STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
# Mostly objects keyed by the allowed fields, so that the property reaches every field's rules.
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(ALLOWED_FIELDS), json_values, max_size=4),
    st.dictionaries(st.sampled_from(ALLOWED_FIELDS) | st.text(max_size=10), json_values, max_size=4),
)
message_uuids = st.one_of(
    st.text(),
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    json_scalars,
)


@settings(max_examples=200, deadline=None)
@given(message_uuid=message_uuids, body=bodies)
def test_parse_revocation_fields_returns_a_request_or_raises_invalid_request(
    message_uuid: object, body: object
) -> None:
    outcome: RevocationRequest | InvalidRequest
    try:
        outcome = parse_revocation_fields(message_uuid, body)
    except InvalidRequest as error:
        outcome = error
    if isinstance(outcome, InvalidRequest):
        assert outcome.detail
        return
    request = outcome
    # A request that passes is normalized and names at most one way to find the region.
    assert isinstance(request, RevocationRequest)
    assert isinstance(message_uuid, str)
    assert request.message_uuid == message_uuid.lower()
    assert sum(value is not None for value in (request.region, request.country, request.agent_id)) <= 1
    assert request.sent_at is None or request.sent_at.utcoffset() is not None


raw_bodies = st.one_of(
    st.text(),
    json_values.map(json.dumps),
    st.text().map(lambda text: b64(text.encode("utf-8", errors="surrogatepass"))),
    json_values.map(lambda value: b64(json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))),
    st.binary().map(b64),
)


@settings(max_examples=200, deadline=None)
@given(body=raw_bodies, is_base64=st.booleans())
def test_decode_json_body_returns_a_value_or_raises_invalid_request(body: str, is_base64: bool) -> None:
    refusal: InvalidRequest | None = None
    try:
        decode_json_body(body, is_base64=is_base64)
    except InvalidRequest as error:  # RequestTooLarge included
        refusal = error
    assert refusal is None or refusal.detail


# --- client_ref and metadata ----------------------------------------------------------------------------
def test_client_ref_and_metadata_are_kept_as_given() -> None:
    request = fields(region="eu", client_ref="order-42", metadata={"campaign": "black-friday", "n": 1.5})
    assert (request.client_ref, request.metadata) == ("order-42", {"campaign": "black-friday", "n": 1.5})


@pytest.mark.parametrize("value", ["", "x" * 101, 42, ["order"]])
def test_a_client_ref_that_is_not_1_to_100_characters_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequest, match="client_ref must be a string of 1 to 100 characters"):
        fields(client_ref=value)


@pytest.mark.parametrize("value", ["text", [1, 2], 7])
def test_metadata_that_is_not_an_object_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequest, match="metadata must be a JSON object"):
        fields(metadata=value)


def test_metadata_up_to_1_kib_is_kept_and_larger_is_refused() -> None:
    kept = {"k": "a" * (1024 - len('{"k":""}'))}
    assert fields(metadata=kept).metadata == kept
    with pytest.raises(InvalidRequest, match="metadata is 1025 bytes as JSON; at most 1024"):
        fields(metadata={"k": "a" * (1025 - len('{"k":""}'))})


def test_a_refusal_of_the_fields_names_the_message_of_a_valid_uuid() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_fields(UUID.upper(), {"region": "mars"})
    assert caught.value.message_uuid == UUID


def test_a_refusal_of_the_uuid_names_no_message() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_revocation_fields("not-a-uuid", {"region": "mars"})
    assert caught.value.message_uuid is None
