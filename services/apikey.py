"""The API key: API_SECRET_KEY, or one generated once and kept under the data folder. Never open."""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache

from settings import get_settings


@lru_cache
def api_key() -> str:
    s = get_settings()
    if s.api_secret_key:
        return s.api_secret_key
    path = s.data_dir / "api_key"
    if not path.exists():
        s.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def is_valid(candidate: str | None) -> bool:
    """Constant-time comparison with the configured key."""
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), api_key().encode())
