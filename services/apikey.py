"""The API key: API_SECRET_KEY, or one generated once and kept under the data folder. Never open.

It is shown once, by the start that generated it (`key_notice`); every other start says where it
is kept, and no start logs it."""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from models.db import private_data_dir
from settings import get_settings


def key_file() -> Path:
    return get_settings().data_dir / "api_key"


def create_api_key() -> str | None:
    """Generate the key file if there is no key yet: the new key (to show once), else None."""
    if get_settings().api_secret_key:
        return None
    path = private_data_dir() / "api_key"
    if path.exists():
        return None
    key = secrets.token_urlsafe(32)
    draft = path.with_name(f".api_key.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key)
    try:
        os.link(draft, path)  # whole or not at all, and a concurrent start's key is not replaced
    except FileExistsError:
        return None
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
    return key


def key_notice() -> str:
    """What a start prints about the key: the key itself only in the run that generated it."""
    created = create_api_key()
    if created:
        return f"API key (new; kept in {key_file()}, shown only this once): {created}"
    if get_settings().api_secret_key:
        return "API key: the one set in API_SECRET_KEY"
    return f"API key: kept in {key_file()}"


@lru_cache
def api_key() -> str:
    s = get_settings()
    if s.api_secret_key:
        return s.api_secret_key
    create_api_key()
    return key_file().read_text().strip()


def is_valid(candidate: str | None) -> bool:
    """Constant-time comparison with the configured key."""
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), api_key().encode())


def in_headers(x_api_key: str | None, authorization: str | None) -> bool:
    """Whether a request carries the key, as `X-API-Key: KEY` or `Authorization: Bearer KEY`."""
    bearer = None
    if authorization and authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip()
    return is_valid(x_api_key) or is_valid(bearer)
