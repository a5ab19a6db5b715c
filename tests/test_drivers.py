"""A worker drives many paced accounts at once: what they wait through (gaps, typing) holds none of
taskiq's task slots, their leases are renewed together, and a lease taken by another worker stops
the driver that lost it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models import Account
from services import contracts, lease
from tasks.drivers import Drivers
from tests.conftest import wait_until
from tests.helpers import new_account, new_contract

TASKIQ_SLOTS = 100  # taskiq's default max_async_tasks per worker process


async def test_one_worker_drives_more_paced_accounts_at_once_than_it_has_task_slots(
    client, processes
) -> None:
    n = TASKIQ_SLOTS + 50
    accounts = [await new_account(client, name=f"paced {i}") for i in range(n)]
    made = [await new_contract(client, account, n=10) for account in accounts]
    processes("worker")
    for contract in made:
        await contracts.start_contract(contract)

    async def driven_at_once() -> bool:
        return await Account.filter(lease_until__gt=datetime.now(UTC)).count() > TASKIQ_SLOTS + 20

    await wait_until(driven_at_once, timeout=60, what="more accounts leased at once than task slots")


async def test_leases_are_renewed_together_and_a_lost_one_is_named(db) -> None:
    mine = [await Account.create(name=f"a{i}") for i in range(3)]
    tokens = [await lease.acquire(a.id, datetime.now(UTC), ttl_s=0.5) for a in mine]
    assert all(tokens)
    await asyncio.sleep(0.6)
    thief = await lease.acquire(mine[1].id, datetime.now(UTC), ttl_s=30)  # ran out: taken over
    assert thief is not None
    assert await lease.renew_many(tokens, ttl_s=30) == {tokens[1]}
    assert await lease.acquire(mine[0].id, datetime.now(UTC), ttl_s=30) is None, "renewed"
    assert await lease.acquire(mine[2].id, datetime.now(UTC), ttl_s=30) is None, "renewed"


async def test_a_driver_whose_lease_was_taken_is_stopped(db) -> None:
    account = await Account.create(name="a")
    drivers = Drivers()
    token = await lease.acquire(account.id, datetime.now(UTC), ttl_s=30)
    assert token is not None
    asleep = asyncio.create_task(asyncio.sleep(3600))  # stands for a driver waiting through a gap
    drivers.tokens[account.id], drivers.running[account.id] = token, asleep
    await Account.filter(id=account.id).update(lease_owner="another-worker/1")
    keeper = asyncio.create_task(drivers.keep_leases(ttl_s=0.3))
    try:
        await wait_until(lambda: _done(asleep), timeout=5, what="the driver stopped")
        assert asleep.cancelled()
    finally:
        keeper.cancel()


async def _done(task: asyncio.Task) -> bool:
    return task.done()
