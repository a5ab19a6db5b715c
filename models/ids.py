"""Opaque string ids: a readable prefix and 20 random hex characters."""

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def new_message_id() -> str:
    """A WhatsApp-style message id (the web client's 3EB0 prefix), fixed before the first send."""
    return "3EB0" + secrets.token_hex(8).upper()
