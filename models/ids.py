"""Opaque string ids: a readable prefix and 20 random hex characters."""

import os
import re
import secrets

ID_LENGTH = 40  # the longest id a column takes; anything longer names nothing
_ID = re.compile(rf"[A-Za-z0-9_.-]{{1,{ID_LENGTH}}}")


def could_be_id(text: str) -> bool:
    """Whether `text` could name a stored id: anything else (a NUL, spaces, markup) names nothing
    and is never sent to the database, which may refuse it with an error of its own."""
    return _ID.fullmatch(text) is not None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def new_message_ids(n: int) -> list[str]:
    """n WhatsApp-style message ids (the web client's 3EB0 prefix), fixed before the first send.

    One call to the OS's random source for all n: much faster than n calls for a big contract."""
    raw = os.urandom(8 * n).hex().upper()
    return ["3EB0" + raw[i : i + 16] for i in range(0, 16 * n, 16)]
