"""The per-account fenced lease, held in the database so that no Redis loss can double-drive an account.

Acquiring draws a fresh owner token; every later write of the holder is conditional on that token
(`fenced_update`), so a holder that lost its lease (paused too long, partitioned) cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from models import Account, AccountStatus
from models.sql import assignments, changed, chunked, marks, returning

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker holds this account now; stop without writing."""


def expiry(now: datetime, ttl_s: float) -> datetime:
    return now + timedelta(seconds=ttl_s)


def holder_id() -> str:
    """This process, as named in the lease tokens it draws (the dashboard shows who holds what)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


def holder_of(token: str | None) -> str | None:
    return token.rsplit("/", 1)[0] if token and "/" in token else None


def unheld(now: datetime) -> Q:
    """Accounts nobody holds: never leased, released, or their lease ran out."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


async def acquire(account_id: str, now: datetime, ttl_s: float) -> str | None:
    taken = await take(account_id, now, ttl_s)
    return taken[1] if taken is not None else None


async def take(
    account_id: str, now: datetime, ttl_s: float, connected_of: Sequence[str] | None = None
) -> tuple[Account, str] | None:
    """Acquire the account's lease and read it, in one statement (a worker adopts thousands of
    accounts when their contracts start); with `connected_of`, only a connected account of one of
    those transports. None if another holds it, or it is not such an account."""
    token = f"{holder_id()}/{uuid.uuid4().hex}"
    sql = (
        "UPDATE accounts SET lease_owner = ?, lease_until = ? "
        "WHERE id = ? AND (lease_until IS NULL OR lease_until < ?)"
    )
    params: list[object] = [token, expiry(now, ttl_s), account_id, now]
    if connected_of is not None:
        sql += f" AND status = ? AND transport IN ({marks(connected_of)})"
        params += [AccountStatus.CONNECTED.value, *connected_of]
    rows = await returning(f"{sql} RETURNING *", params, connections.get("default"))
    return (Account._init_from_db(**rows[0]), token) if rows else None


async def fenced_update(
    account_id: str, token: str, conn: BaseDBAsyncClient | None = None, **values: object
) -> None:
    """Write account fields only while still holding the lease; raises LeaseLost otherwise."""
    sets, params = assignments(values)
    sql = f"UPDATE accounts SET {sets} WHERE id = ? AND lease_owner = ?"
    if not await changed(sql, [*params, account_id, token], conn):
        raise LeaseLost(account_id)


async def release(account_id: str, token: str) -> None:
    await Account.filter(id=account_id, lease_owner=token).update(lease_owner=None, lease_until=None)


async def renew(account_id: str, token: str, ttl_s: float) -> None:
    await fenced_update(account_id, token, lease_until=expiry(datetime.now(UTC), ttl_s))


async def renew_many(tokens: list[str], ttl_s: float) -> set[str]:
    """Renew many leases in a few statements (a worker driving thousands of accounts); returns the
    tokens that no longer hold their lease (another holder took it after it ran out)."""
    until = expiry(datetime.now(UTC), ttl_s)
    lost: set[str] = set()
    for chunk in chunked(tokens):
        if await Account.filter(lease_owner__in=chunk).update(lease_until=until) < len(chunk):
            held = await Account.filter(lease_owner__in=chunk).values_list("lease_owner", flat=True)
            lost |= set(chunk) - set(held)
    return lost


@contextlib.asynccontextmanager
async def kept(account_id: str, token: str, ttl_s: float) -> AsyncIterator[asyncio.Event]:
    """Renew the lease every third of its TTL while the block runs, so waits of any length (pacing
    gaps, typing, a slow network) keep it, and a holder that dies loses it within one TTL. The event
    yielded is set if another holder took the lease (the holder's fenced writes fail from then on)."""
    lost = asyncio.Event()

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(ttl_s / 3)
            try:
                await renew(account_id, token, ttl_s)
            except LeaseLost:
                lost.set()
                return
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; try again
                log.warning("could not renew the lease on %s: %s", account_id, exc)

    beat = asyncio.create_task(heartbeat())
    try:
        yield lost
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
