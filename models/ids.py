"""Opaque string ids: a readable prefix and 20 random hex characters."""

import os
import secrets

ID_LENGTH = 40  # the longest id a column takes; anything longer names nothing


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def new_message_ids(n: int) -> list[str]:
    """n WhatsApp-style message ids (the web client's 3EB0 prefix), fixed before the first send.

    One call to the OS's random source for all n: much faster than n calls for a big contract."""
    raw = os.urandom(8 * n).hex().upper()
    return ["3EB0" + raw[i : i + 16] for i in range(0, 16 * n, 16)]
