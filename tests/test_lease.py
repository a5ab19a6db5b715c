"""The account lease: one holder at a time, kept through long waits, lost by a holder that stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from models import Account
from services import lease


async def test_a_kept_lease_survives_waits_longer_than_its_ttl(db) -> None:
    account = await Account.create(name="a")
    token = await lease.acquire(account.id, datetime.now(UTC), ttl_s=0.6)
    assert token is not None
    async with lease.kept(account.id, token, ttl_s=0.6):
        await asyncio.sleep(1.5)  # two and a half TTLs
        assert await lease.acquire(account.id, datetime.now(UTC), ttl_s=0.6) is None
    await lease.fenced_update(account.id, token, name="still mine")


async def test_a_holder_that_stops_renewing_loses_the_lease_after_one_ttl(db) -> None:
    account = await Account.create(name="a")
    first = await lease.acquire(account.id, datetime.now(UTC), ttl_s=0.5)
    assert first is not None
    await asyncio.sleep(0.6)
    second = await lease.acquire(account.id, datetime.now(UTC), ttl_s=0.5)
    assert second is not None and second != first
    with pytest.raises(lease.LeaseLost):
        await lease.fenced_update(account.id, first, name="stale writer")
    with pytest.raises(lease.LeaseLost):
        await lease.renew(account.id, first, ttl_s=0.5)
