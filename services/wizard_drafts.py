"""The new-contract wizard's draft: a user's choices so far (the accounts, the recipients as an
audience's id, the phone column, the region of numbers without a country code, the message, the
contract's name, the step), kept on their user row, so that a reload, or another browser, takes up
where they were. (Whoever signs in with the API key has no user row, and no draft kept.)"""

from __future__ import annotations

from typing import Any

from models import User
from services import audiences
from services.contracts import MAX_MESSAGE_CHARS

# What a draft holds, and the longest value of each that is kept (a list: its items).
LIMITS = {
    "accounts": 1000,
    "audience": 40,
    "phoneColumn": 1000,
    "region": 2,
    "template": MAX_MESSAGE_CHARS,
    "name": 500,
    "step": 20,
    "when": 6,  # the start step's choices, as strings
}


async def recall(owner: str) -> dict[str, Any]:
    draft = await User.filter(username=owner).first().values_list("wizard_draft", flat=True)
    return draft if isinstance(draft, dict) else {}


async def remember(owner: str, **values: Any) -> None:
    """Add these choices to the draft; a value longer than LIMITS allows is not kept."""
    kept = {k: v for k, v in values.items() if k in LIMITS and _fits(v, LIMITS[k])}
    if kept:
        await User.filter(username=owner).update(wizard_draft=await recall(owner) | kept)


async def forget(owner: str) -> None:
    """Start afresh: the draft and its upload (unless saved as an audience) are gone."""
    await User.filter(username=owner).update(wizard_draft=None)
    await audiences.drop_upload(owner)


def _fits(value: Any, most: int) -> bool:
    if isinstance(value, list):
        return len(value) <= most and all(isinstance(v, str) and len(v) <= 100 for v in value)
    return value is None or (isinstance(value, str) and len(value) <= most)
