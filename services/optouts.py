"""Each account's opt-out list: numbers that asked it to stop (a STOP reply) or that staff added.
No message from the account goes to them (the driver skips them as "opted out"). Numbers staff
write without a country code are read as numbers of settings.default_phone_region."""

from __future__ import annotations

import logging
import unicodedata

from models import Account, OptOut
from services import phones
from services.errors import InvalidInput, NotFound, Problem
from settings import get_settings

log = logging.getLogger(__name__)


def is_stop_word(text: str, words: list[str]) -> bool:
    """A reply asking to stop: one of `words`, whatever its case, spacing or trailing punctuation."""
    cleaned = "".join(c for c in text if not unicodedata.category(c).startswith(("P", "S"))).strip()
    return cleaned.casefold() in {w.casefold() for w in words}


async def opt_out(account_id: str, phone: str, reason: str) -> bool:
    """Put the number on the account's opt-out list; False if it already was."""
    _, created = await OptOut.get_or_create(
        account_id=account_id, phone_number=phone, defaults={"reason": reason}
    )
    if created:
        log.info("%s opted out of account %s (%s)", phone, account_id, reason)
    return created


async def _account_exists(account_id: str) -> None:
    if not await Account.exists(id=account_id):
        raise NotFound(f"account {account_id!r} not found")


async def list_opt_outs(account_id: str, limit: int, after: int | None) -> tuple[list[OptOut], int | None]:
    """One page in the order they were added; the cursor of the next page, or None."""
    await _account_exists(account_id)
    query = OptOut.filter(account_id=account_id)
    if after is not None:
        query = query.filter(id__gt=after)
    rows = await query.order_by("id").limit(limit + 1)
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


async def add_opt_outs(account_id: str, raw_numbers: list[str], reason: str) -> int:
    """Add numbers by hand (all or none: every number must be valid); how many were new."""
    await _account_exists(account_id)
    numbers, problems = [], []
    region = get_settings().default_phone_region
    for i, raw in enumerate(raw_numbers):
        try:
            numbers.append(phones.normalise(raw, region))
        except ValueError as exc:
            problems.append(Problem("phoneNumbers", str(exc), index=i))
    if problems:
        raise InvalidInput(f"{len(problems)} phone number(s) are invalid; nothing was added", problems)
    return sum([await opt_out(account_id, n, reason) for n in dict.fromkeys(numbers)])


async def remove_opt_out(account_id: str, raw_number: str) -> None:
    await _account_exists(account_id)
    try:
        number = phones.normalise(raw_number, get_settings().default_phone_region)
    except ValueError as exc:
        raise InvalidInput(str(exc), [Problem("phoneNumber", str(exc))]) from None
    if not await OptOut.filter(account_id=account_id, phone_number=number).delete():
        raise NotFound(f"{number} is not on the opt-out list of account {account_id!r}")
