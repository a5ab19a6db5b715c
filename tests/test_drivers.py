"""A worker drives many paced accounts at once: what they wait through (gaps, typing, breaks) holds
none of taskiq's task slots, their leases are renewed together, a lease taken by another worker
stops the driver that lost it, and a driver learns of a contract started or a log-out without
re-reading its account on a timer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models import Account, Recipient, RecipientStatus, SandboxDelivery
from services import contracts, lease, session_events
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


QUICK_PACE = {"GAP_MIN_S": "0.3", "GAP_MAX_S": "0.6", "BREAK_EVERY": "1000", "TYPING_MAX_S": "1"}


async def sent_by(account_id: str) -> int:
    return await SandboxDelivery.filter(account_id=account_id).count()


async def test_a_paced_driver_takes_up_a_contract_started_while_it_sends_another(client, processes) -> None:
    processes("worker", **QUICK_PACE)
    account = await new_account(client, name="busy")
    first = await new_contract(client, account, n=200)
    await contracts.start_contract(first)
    await wait_until(lambda: _sent(first, 3), timeout=30, what="the first contract under way")
    second = await new_contract(client, account, n=5)
    await contracts.start_contract(second)  # kicks the account: its driver re-reads its contracts
    await wait_until(lambda: _sent(second, 1), timeout=15, what="the second contract's first send")


async def test_a_paced_driver_stops_at_its_next_claim_once_its_account_is_logged_out(
    client, processes
) -> None:
    processes("worker", **QUICK_PACE)
    leaving, staying = [await new_account(client, name=name) for name in ("leaving", "staying")]
    contract = await new_contract(client, leaving, n=14, accountIds=[leaving, staying])
    await contracts.start_contract(contract)
    await wait_until(lambda: _sent(contract, 6), timeout=30, what="sending under way")
    assert (await client.post(f"/api/accounts/{leaving}/logout")).json()["status"] == "LOGGED_OUT"
    at_logout = await sent_by(leaving)
    await wait_until(lambda: _sent(contract, 14), timeout=90, what="the rest of the pool sending all")
    assert await sent_by(leaving) <= at_logout + 1, "at most the message being typed left after"
    assert await sent_by(leaving) + await sent_by(staying) == 14, "each recipient sent once"


async def test_a_driver_paused_by_a_health_rule_leaves_what_it_claimed_to_the_pool(client, processes) -> None:
    processes("worker", **QUICK_PACE)
    resting, working = [await new_account(client, name=name) for name in ("resting", "working")]
    contract = await new_contract(client, resting, n=14, accountIds=[resting, working])
    await contracts.start_contract(contract)
    await wait_until(lambda: _sent(contract, 6), timeout=30, what="sending under way")
    await session_events.rest(resting, "simulated: too many failures", seconds=3600)
    at_pause = await sent_by(resting)
    await wait_until(lambda: _sent(contract, 14), timeout=90, what="the other account sending the rest")
    assert await sent_by(resting) <= at_pause + 1, "at most the message being typed left after"


async def _sent(contract_id: str, n: int) -> bool:
    return await Recipient.filter(contract_id=contract_id, status=RecipientStatus.SENT).count() >= n
