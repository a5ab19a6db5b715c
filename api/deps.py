"""Shared route dependencies: the API key."""

from __future__ import annotations

from fastapi import Header, HTTPException, status

from services.apikey import in_headers

MISSING_KEY = "missing or wrong API key: send X-API-Key or Authorization: Bearer"


async def require_api_key(
    x_api_key: str | None = Header(default=None),
    authorization: str | None = Header(default=None),
) -> None:
    """Accept `X-API-Key: KEY` or `Authorization: Bearer KEY`; 401 otherwise."""
    if not in_headers(x_api_key, authorization):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            MISSING_KEY,
            headers={"WWW-Authenticate": "Bearer"},
        )
