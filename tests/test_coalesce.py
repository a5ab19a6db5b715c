"""Identical reads in flight share one answer (api/coalesce.py), without ever hiding a write."""

from __future__ import annotations

import asyncio

import services.queues
from api.routes import contracts as contract_routes
from tests.helpers import new_account, new_contract


async def test_identical_reads_in_flight_run_once(client, monkeypatch) -> None:
    calls = 0
    release = asyncio.Event()
    real = services.queues.queue_status

    async def counted() -> dict:
        nonlocal calls
        calls += 1
        await release.wait()
        return await real()

    monkeypatch.setattr("api.routes.system.queue_status", counted)
    reads = [asyncio.create_task(client.get("/api/queues/status")) for _ in range(20)]
    await asyncio.sleep(0.2)
    release.set()
    answers = await asyncio.gather(*reads)
    assert calls == 1
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    assert (await client.anon.get("/api/queues/status")).status_code == 401, "no sharing across keys"


async def test_a_read_after_a_write_never_joins_a_read_from_before_it(client, monkeypatch) -> None:
    contract = await new_contract(client, await new_account(client), n=3)
    release = asyncio.Event()
    real = contract_routes.contracts.get_contract
    slow_once = True

    async def get_contract(contract_id: str):
        nonlocal slow_once
        found = await real(contract_id)
        if slow_once:
            slow_once = False
            await release.wait()  # this read saw the contract before the write below
        return found

    monkeypatch.setattr(contract_routes.contracts, "get_contract", get_contract)
    before = asyncio.create_task(client.get(f"/api/contracts/{contract}"))
    await asyncio.sleep(0.2)
    assert (await client.post(f"/api/contracts/{contract}/start")).json()["status"] == "QUEUED"
    after = await asyncio.wait_for(client.get(f"/api/contracts/{contract}"), 10)
    assert after.json()["status"] == "QUEUED", "the read after the write sees it"
    assert not before.done(), "it did not wait for the read from before the write"
    release.set()
    assert (await before).json()["status"] == "PENDING"


async def test_streamed_exports_are_not_held_to_be_shared(client) -> None:
    contract = await new_contract(client, await new_account(client), n=3)
    exports = await asyncio.gather(*(client.get(f"/api/contracts/{contract}/export.csv") for _ in range(5)))
    assert {len(r.text.splitlines()) for r in exports} == {4}
