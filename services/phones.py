"""Phone numbers: accept the seed's digits-with-country-code and the usual human spellings."""

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
from texts import say

_SPELLING = re.compile(r"[\s\-().]")
# phonenumbers' reasons, told as people would (its own read "(0) Could not interpret numbers…").
PARSE_FAULTS = {
    NumberParseException.INVALID_COUNTRY_CODE: say("no country has this code; start with it, e.g. 7 or 49"),
    NumberParseException.TOO_SHORT_NSN: say("too short for a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: say("too short for a phone number"),
    NumberParseException.TOO_LONG: say("too long for a phone number"),
}
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


def normalise(raw: str) -> str:
    """Return the seed's format (country code and digits, no '+'), or raise ValueError saying why."""
    text = _SPELLING.sub("", raw or "").removeprefix("'")  # Excel's mark of a number kept as text
    if not text:
        raise ValueError(say("no number"))
    if text.startswith("00"):
        text = text[2:]
    text = text.removeprefix("+")
    if not text.isdigit() or not text.isascii():
        raise ValueError(say("must contain only digits, with the country code, e.g. 79991234567"))
    if _valid_digits(text):
        return text
    try:
        number = phonenumbers.parse("+" + text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(PARSE_FAULTS.get(exc.error_type, say("not a phone number"))) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(say("not a valid phone number for its country code"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def check_many(raws: list[str]) -> list[tuple[str | None, str | None]]:
    """(normalised, None) or (None, reason) for each number."""
    out: list[tuple[str | None, str | None]] = []
    for raw in raws:
        try:
            out.append((normalise(raw), None))
        except ValueError as exc:
            out.append((None, exc.args[0]))  # a Text: the dashboard says it in the user's language
    return out


@lru_cache
def _pool() -> ProcessPoolExecutor:
    # spawn, not fork: the web process runs threads that a fork would copy mid-flight. The pool
    # starts its processes from whichever thread submits, so they watch for their parent's end
    # themselves (services/lifeline.py): a web process killed with -9 takes them along.
    return ProcessPoolExecutor(
        mp_context=multiprocessing.get_context("spawn"), initializer=lifeline.watch_parent
    )


async def check_chunks(raws: list[str]) -> AsyncIterator[list[tuple[str | None, str | None]]]:
    """check_many over any number of numbers, yielded chunk by chunk in order.

    Large lists go to a process pool: that uses every core, keeps the web process's event loop
    answering during a million-number import, and lets the caller store chunk k while the next
    ones are checked. Only a few chunks are in flight at a time, so the results of a million
    numbers never sit in memory together."""
    if len(raws) < PARALLEL_FROM:
        yield check_many(raws)
        return
    loop = asyncio.get_running_loop()
    starts = iter(range(0, len(raws), CHUNK))
    in_flight: collections.deque[asyncio.Future] = collections.deque()

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            in_flight.append(loop.run_in_executor(_pool(), check_many, raws[start : start + CHUNK]))

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
