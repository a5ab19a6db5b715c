"""Shared route dependencies: the API key."""

from __future__ import annotations

from fastapi import Header, HTTPException, status

from services.apikey import is_valid


async def require_api_key(
    x_api_key: str | None = Header(default=None),
    authorization: str | None = Header(default=None),
) -> None:
    """Accept `X-API-Key: KEY` or `Authorization: Bearer KEY`; 401 otherwise."""
    bearer = None
    if authorization and authorization[:7].lower() == "bearer ":
        bearer = authorization[7:].strip()
    if not (is_valid(x_api_key) or is_valid(bearer)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API key: send X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": "Bearer"},
        )
