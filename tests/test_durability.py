"""Crashes while a contract sends: kill -9 of workers, all workers at once, a Redis restart.

Afterwards every recipient is SENT exactly once in the stats, and the sandbox network (which
de-duplicates by message id and logs every delivery in the database) delivered each number once.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from models import Contract, ContractStatus, Recipient, RecipientStatus, SandboxDelivery
from services import contracts
from tests.conftest import wait_until
from tests.helpers import kill_repeatedly, new_account, new_contract, phone

N = 3000


async def sent_count(contract: str) -> int:
    return await Recipient.filter(contract_id=contract, status=RecipientStatus.SENT).count()


async def assert_each_recipient_sent_exactly_once(client, account: str, contract: str) -> None:
    r = await client.get(f"/api/contracts/{contract}/stats")
    body = r.json()
    assert body["status"] == "COMPLETED"
    assert (body["total"], body["success"], body["failed"]) == (N, N, 0)
    numbers = [p["phoneNumber"] for p in body["successPhoneNumbers"]]
    assert sorted(numbers) == sorted(phone(i) for i in range(N)), "each recipient once in the stats"
    deliveries = Counter(
        await SandboxDelivery.filter(account_id=account).values_list("phone_number", flat=True)
    )
    assert len(deliveries) == N
    assert max(deliveries.values()) == 1, "no number delivered twice"
    assert await contracts.status_counts(contract) == await contracts.recount(contract), "kept counts drifted"


async def start_contract(client) -> tuple[str, str]:
    account = await new_account(client, useLimits=False, sandbox={"latency_s": 0.003})
    contract = await new_contract(client, account, n=N)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    return account, contract


async def completed(contract: str) -> bool:
    return await Contract.filter(id=contract, status=ContractStatus.COMPLETED).exists()


async def test_repeated_kill_9_of_workers_loses_and_duplicates_nothing(client, processes) -> None:
    workers = [processes("worker"), processes("worker")]
    account, contract = await start_contract(client)
    kills = await kill_repeatedly(workers, lambda: completed(contract), seed=3, pause_s=(0.7, 1.5), most=12)
    assert kills >= 4, "the run must last long enough to be interrupted several times"
    assert await sent_count(contract) < N or kills > 4
    await wait_until(lambda: completed(contract), timeout=120, what="completion after the kills")
    await assert_each_recipient_sent_exactly_once(client, account, contract)


async def test_all_workers_killed_at_once_and_restarted_with_nothing_else_happening(
    client, processes
) -> None:
    workers = [processes("worker"), processes("worker")]
    account, contract = await start_contract(client)
    await wait_until(lambda: _more_than(contract, N // 5), what="sending under way")
    for w in workers:
        w.kill9()
    stalled = await sent_count(contract)
    await asyncio.sleep(1)
    assert await sent_count(contract) == stalled < N
    for w in workers:
        w.start()
    await wait_until(lambda: completed(contract), timeout=120, what="completion with no new kicks")
    await assert_each_recipient_sent_exactly_once(client, account, contract)


async def test_redis_restart_mid_run(client, processes, redis_server) -> None:
    processes("worker")
    processes("worker")
    account, contract = await start_contract(client)
    await wait_until(lambda: _more_than(contract, N // 5), what="sending under way")
    redis_server.restart()
    assert await sent_count(contract) < N
    await wait_until(lambda: completed(contract), timeout=120, what="completion after the Redis restart")
    await assert_each_recipient_sent_exactly_once(client, account, contract)


async def _more_than(contract: str, n: int) -> bool:
    return await sent_count(contract) > n


async def test_a_contract_started_while_redis_is_down_is_sent_once_it_is_back(
    client, processes, redis_server
) -> None:
    processes("worker")
    account = await new_account(client, useLimits=False)
    contract = await new_contract(client, account, n=50)
    redis_server.kill()
    try:
        r = await client.post(f"/api/contracts/{contract}/start")
        assert r.status_code == 200, "the database says what to send; the kick can wait"
        assert r.json()["status"] == "QUEUED"
    finally:
        redis_server.start()

    async def all_sent() -> bool:
        return await sent_count(contract) == 50

    await wait_until(all_sent, timeout=60, what="sending after Redis came back")
    # The driver that sent the last of them closes the contract on its next pass (or its continuation).
    await wait_until(lambda: completed(contract), timeout=10, what="the contract closed")
