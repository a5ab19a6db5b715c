"""The per-account fenced lease, held in the database so that no Redis loss can double-drive an account.

Acquiring draws a fresh owner token; every later write of the holder is conditional on that token
(`fenced_update`), so a holder that lost its lease (paused too long, partitioned) cannot write.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from models import Account


class LeaseLost(Exception):
    """Another worker holds this account now; stop without writing."""


def expiry(now: datetime, ttl_s: float) -> datetime:
    return now + timedelta(seconds=ttl_s)


async def acquire(account_id: str, now: datetime, ttl_s: float) -> str | None:
    token = uuid.uuid4().hex
    taken = await Account.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now), id=account_id).update(
        lease_owner=token, lease_until=expiry(now, ttl_s)
    )
    return token if taken else None


async def fenced_update(
    account_id: str, token: str, conn: BaseDBAsyncClient | None = None, **values: object
) -> None:
    """Write account fields only while still holding the lease; raises LeaseLost otherwise."""
    updated = await Account.filter(id=account_id, lease_owner=token).using_db(conn).update(**values)
    if not updated:
        raise LeaseLost(account_id)


async def release(account_id: str, token: str) -> None:
    await Account.filter(id=account_id, lease_owner=token).update(lease_owner=None, lease_until=None)
