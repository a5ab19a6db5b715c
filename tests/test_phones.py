"""Phone number normalisation: the seed's format out, human spellings in, clear reasons for bad ones."""

from __future__ import annotations

import phonenumbers
import pytest

from services.phones import PARALLEL_FROM, check_chunks, check_many, normalise, read


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("79991234567", "79991234567"),
        ("+7 999 123-45-67", "79991234567"),
        ("+1 (650) 253-0000", "16502530000"),
        ("00 44 20 7946 0958", "442079460958"),
        ("390612345678", "390612345678"),  # Italian landline keeps its leading zero
        ("4930 1234567", "49301234567"),
        ("'+7 999 123-45-67", "79991234567"),  # as Excel keeps a number as text (and exports write it)
    ],
)
def test_spellings_normalise_to_digits_with_country_code(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "123", "abc", "+7999", "7999123456７", "79991234567x", "999999999999999"]
)
def test_bad_numbers_say_why(raw: str) -> None:
    with pytest.raises(ValueError, match=r"digits|phone number|country|no number"):
        normalise(raw)


def test_an_empty_cell_is_said_to_have_no_number() -> None:
    for empty in ("", "  ", "'", "( )"):
        with pytest.raises(ValueError, match=r"^no number$"):
            normalise(empty)


def test_fast_path_agrees_with_the_full_parser() -> None:
    """Every example number phonenumbers ships, for every region, normalises to its E.164 digits."""
    checked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert normalise(e164) == e164[1:], region
            checked += 1
    assert checked > 400


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("8 (915) 915-03-12", "RU", "79159150312"),  # the trunk prefix 8 for +7
        ("89992998816", "RU", "79992998816"),
        ("8 916 555-12-34", "RU", "79165551234"),
        ("916 555-12-34", "RU", "79165551234"),  # a national number without its trunk prefix
        ("030 1234567", "DE", "49301234567"),  # Germany's trunk prefix is 0
        ("0171 1234567", "DE", "491711234567"),
    ],
)
def test_a_number_without_a_country_code_is_read_as_one_of_the_region(
    raw: str, region: str, expected: str
) -> None:
    assert read(raw, region) == (expected, True)
    assert check_many([raw], region) == [(expected, None, True)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("79991234567", "79991234567"),  # the seed's format
        ("+7 999 123-45-67", "79991234567"),
        ("0079991234567", "79991234567"),
        ("+49 30 1234567", "49301234567"),
        ("8613912345678", "8613912345678"),  # China, its code starting with 8: not a Russian number
        ("819012345678", "819012345678"),  # Japan
        ("+8 (915) 915-03-12", None),  # a + says the country code follows: 8 is none
    ],
)
def test_numbers_with_a_country_code_keep_their_meaning_under_a_region(
    raw: str, expected: str | None
) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="no country has this code"):
            read(raw, "RU")
    else:
        assert read(raw, "RU") == (expected, False)


def test_without_a_region_a_number_needs_its_country_code() -> None:
    with pytest.raises(ValueError, match="no country has this code"):
        normalise("8 (915) 915-03-12")
    with pytest.raises(ValueError, match="local number of RU"):
        normalise("030 1234567", "RU")  # a German number written the German way is not Russian


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (
            "8 (915) 915-03-1",
            r"^not a phone number: neither with a country code nor as a local number of RU$",
        ),
        (
            "8 (915) 915-03-123",
            r"^not a phone number: neither with a country code nor as a local number of RU$",
        ),
        ("12", r"^not a phone number$"),
        ("8 915 абв", r"only digits"),
    ],
)
def test_a_number_still_unreadable_under_a_region_says_why(raw: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        read(raw, "RU")


async def test_the_region_travels_with_the_chunks_checked_in_other_processes() -> None:
    raws = [f"8 (916) {i // 10000:03d}-{i // 100 % 100:02d}-{i % 100:02d}" for i in range(PARALLEL_FROM)]
    checked = [result async for chunk in check_chunks(raws, "RU") for result in chunk]
    assert checked[0] == ("79160000000", None, True) and checked[-1][0] == f"7916000{PARALLEL_FROM - 1:04d}"
    assert all(rewritten for _, _, rewritten in checked)
