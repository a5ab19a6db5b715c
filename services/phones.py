"""Phone numbers: accept the seed's digits-with-country-code, the usual human spellings, and numbers
written without a country code the way people of a region write them (`8 (915) 915-03-12` in
Russia, `030 1234567` in Germany), read as numbers of that region (settings.default_phone_region,
or the one chosen in the wizard).

A number written without `+` or `00` is read, for a region:
(a) when it starts with the region's trunk prefix (8 in Russia, 0 in Germany), as a national number
    of the region: the prefix replaced by the country code;
(b) else as digits with a country code (the seed's format), as without a region;
(c) else as a national number of the region written without its trunk prefix (`9161234567`).
So an 11-digit number starting with 8 is Russian under RU when it is a valid Russian number, and
the seed's format keeps its meaning unless it is also a valid national number of the region: a
Vietnamese 84… number of 11 digits, say, must then be written with `+` or `00`."""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import re
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException, PhoneNumber

from services import lifeline
from texts import N_, say

_SPELLING = re.compile(r"[\s\-().]")
# phonenumbers' reasons, told as people would (its own read "(0) Could not interpret numbers…").
PARSE_FAULTS = {
    NumberParseException.INVALID_COUNTRY_CODE: say("no country has this code; start with it, e.g. 7 or 49"),
    NumberParseException.TOO_SHORT_NSN: say("too short for a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: say("too short for a phone number"),
    NumberParseException.TOO_LONG: say("too long for a phone number"),
}
NOT_OF_REGION = N_("not a phone number: neither with a country code nor as a local number of {region}")
PARALLEL_FROM = 5_000
CHUNK = 10_000


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


# (normalised, None, rewritten) or (None, reason, False): `rewritten` when read through the region.
Checked = tuple[str | None, str | None, bool]


@lru_cache
def national_codes(region: str) -> tuple[str, str]:
    """The region's country code and trunk prefix ("7", "8" for RU; "39", "" for IT), or ValueError."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        raise ValueError(f"unknown region {region!r}: use a two-letter code such as RU or DE")
    return str(meta.country_code), meta.national_prefix or ""


def normalise(raw: str, region: str = "") -> str:
    """Return the seed's format (country code and digits, no '+'), or raise ValueError saying why.
    `region`: whose national numbers a number without a country code is (none if "")."""
    return read(raw, region)[0]


def read(raw: str, region: str = "") -> tuple[str, bool]:
    """normalise(), and whether the number was read as a national number of `region` (rewritten)."""
    text = _SPELLING.sub("", raw or "").removeprefix("'")  # Excel's mark of a number kept as text
    if not text:
        raise ValueError(say("no number"))
    international = text.startswith(("00", "+"))
    if text.startswith("00"):
        text = text[2:]
    text = text.removeprefix("+")
    if not text.isdigit() or not text.isascii():
        raise ValueError(say("must contain only digits, with the country code, e.g. 79991234567"))
    code, trunk = ("", "") if international or not region else national_codes(region)
    if trunk and text.startswith(trunk) and _valid_digits(national := code + text[len(trunk) :]):
        return national, national != text  # (a)
    if _valid_digits(text):
        return text, False  # (b)
    if code and _valid_digits(code + text):
        return code + text, True  # (c)
    return _parsed(text, region if code else ""), False  # (b), spellings the fast check does not know


def _parsed(text: str, region: str) -> str:
    """Digits with a country code read by phonenumbers' own parser, or ValueError saying why."""
    try:
        number = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException as exc:
        if region and exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise ValueError(say(NOT_OF_REGION, region=region)) from None
        raise ValueError(PARSE_FAULTS.get(exc.error_type, say("not a phone number"))) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(say("not a valid phone number for its country code"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


@lru_cache
def calling_codes() -> dict[str, str]:
    """Each region a number may be read as one of, with its calling code: {"RU": "+7", …}."""
    return {r: f"+{national_codes(r)[0]}" for r in sorted(phonenumbers.SUPPORTED_REGIONS)}


def shown(digits: str) -> str:
    """A normalised number as people read it: `+7 915 915-03-12`."""
    return phonenumbers.format_number(
        phonenumbers.parse("+" + digits), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def check_many(raws: list[str], region: str = "") -> list[Checked]:
    """(normalised, None, rewritten) or (None, reason, False) for each number (see `read`)."""
    out: list[Checked] = []
    for raw in raws:
        try:
            number, rewritten = read(raw, region)
            out.append((number, None, rewritten))
        except ValueError as exc:
            out.append((None, exc.args[0], False))  # a Text: the dashboard says it in the user's language
    return out


@lru_cache
def _pool() -> ProcessPoolExecutor:
    # spawn, not fork: the web process runs threads that a fork would copy mid-flight. The pool
    # starts its processes from whichever thread submits, so they watch for their parent's end
    # themselves (services/lifeline.py): a web process killed with -9 takes them along.
    return ProcessPoolExecutor(
        mp_context=multiprocessing.get_context("spawn"), initializer=lifeline.watch_parent
    )


async def check_chunks(raws: list[str], region: str = "") -> AsyncIterator[list[Checked]]:
    """check_many over any number of numbers, yielded chunk by chunk in order.

    Large lists go to a process pool: that uses every core, keeps the web process's event loop
    answering during a million-number import, and lets the caller store chunk k while the next
    ones are checked. Only a few chunks are in flight at a time, so the results of a million
    numbers never sit in memory together."""
    if len(raws) < PARALLEL_FROM:
        yield check_many(raws, region)
        return
    loop = asyncio.get_running_loop()
    starts = iter(range(0, len(raws), CHUNK))
    in_flight: collections.deque[asyncio.Future] = collections.deque()

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            in_flight.append(loop.run_in_executor(_pool(), check_many, raws[start : start + CHUNK], region))

    for _ in range((os.cpu_count() or 1) + 2):
        submit()
    try:
        while in_flight:
            results = await in_flight.popleft()
            submit()
            yield results
    finally:
        for future in in_flight:
            future.cancel()


async def warm_up() -> None:
    """Start the pool's processes now (spawning costs ~0.5 s), not on the first large contract."""
    loop = asyncio.get_running_loop()
    pool = _pool()
    await asyncio.gather(
        *(loop.run_in_executor(pool, check_many, ["79991234567"]) for _ in range(os.cpu_count() or 1))
    )


def shut_down() -> None:
    """Stop the pool's processes, if they were started (the web process's normal stop)."""
    if _pool.cache_info().currsize:
        _pool().shutdown(wait=True, cancel_futures=True)
        _pool.cache_clear()
