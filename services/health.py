"""Health of what the product depends on: the database and Redis."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from models.sql import execute
from tasks.broker import broker


async def _database() -> str:
    await execute("SELECT 1", [])
    return "ok"


async def _redis() -> str:
    async with Redis(connection_pool=broker.connection_pool) as redis:
        await redis.ping()
    return "ok"


async def check(timeout_s: float = 2) -> dict[str, str]:
    """{"database": "ok" | error, "redis": "ok" | error}, each probed within `timeout_s`."""
    results = {}
    for name, probe in (("database", _database), ("redis", _redis)):
        try:
            results[name] = await asyncio.wait_for(probe(), timeout_s)
        except Exception as exc:  # noqa: BLE001  (any failure is the answer here)
            results[name] = f"error: {type(exc).__name__}: {exc}"[:200]
    return results
