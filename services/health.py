"""Health of what the product depends on: the database and Redis; and which workers are alive."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis
from tortoise import connections

from models import Account, Worker
from models.sql import execute
from services.lease import holder_of
from services.queue import broker

ALIVE_WITHIN = timedelta(seconds=10)


@dataclass
class WorkerHealth:
    id: str
    hostname: str
    pid: int
    started_at: datetime
    seen_at: datetime
    alive: bool
    accounts: list[str] = field(default_factory=list)  # names (or ids) of the accounts it holds now


async def workers(now: datetime | None = None) -> list[WorkerHealth]:
    """Workers seen in the last hour, newest first, each with the accounts whose lease it holds."""
    now = now or datetime.now(UTC)
    held: dict[str, list[str]] = defaultdict(list)
    leases = await Account.filter(lease_until__gt=now).values_list("lease_owner", "name", "id")
    for owner, name, account_id in leases:
        holder = holder_of(owner)
        if holder:
            held[holder].append(name or account_id)
    rows = await Worker.filter(seen_at__gt=now - timedelta(hours=1)).order_by("-seen_at")
    return [
        WorkerHealth(
            w.id, w.hostname, w.pid, w.started_at, w.seen_at, now - w.seen_at < ALIVE_WITHIN, held[w.id]
        )
        for w in rows
    ]


async def _database() -> str:
    conn = connections.get("default")
    if conn.capabilities.dialect == "sqlite":
        await asyncio.to_thread(_sqlite_reads, conn.filename)  # type: ignore[attr-defined]
    else:
        await execute("SELECT 1", [], conn)
    return "ok"


def _sqlite_reads(path: str) -> None:
    """A read on a connection of its own. The process's one SQLite connection is held by whatever
    transaction runs on it, for as long as it runs (a write waiting for another process's lock, a
    million-row import committing): health asked there would wait with it. In WAL mode a read
    waits for no writer."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1)) as db:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()


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
