"""Phone numbers: accept the seed's digits-with-country-code and the usual human spellings."""

from __future__ import annotations

import re

import phonenumbers

_SPELLING = re.compile(r"[\s\-().]")


def normalise(raw: str) -> str:
    """Return the seed's format (country code and digits, no '+'), or raise ValueError saying why."""
    text = _SPELLING.sub("", raw or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        text = "+" + text
    if not text[1:].isdigit():
        raise ValueError("must contain only digits, with the country code, e.g. 79991234567")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
