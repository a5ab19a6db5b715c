"""Phone number normalisation: the seed's format out, human spellings in, clear reasons for bad ones."""

from __future__ import annotations

import phonenumbers
import pytest

from services.phones import normalise


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
