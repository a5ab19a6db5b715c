"""Sending through real taskiq worker processes: the seed's flows as an API client runs them."""

from __future__ import annotations

import itertools
import socket
from collections import Counter

from models import Recipient, RecipientStatus, SandboxDelivery, SendMinute
from services import contracts, health
from tests.conftest import wait_until
from tests.helpers import new_account, new_contract, phone


async def stats(client, contract: str, **params) -> dict:
    r = await client.get(f"/api/contracts/{contract}/stats", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_create_start_pause_resume_complete_stats_filters_delete(client, processes) -> None:
    processes("worker")
    account = await new_account(client, useLimits=False, sandbox={"latency_s": 0.01})
    contract = await new_contract(client, account, n=400)

    r = await client.post(f"/api/contracts/{contract}/start")
    assert r.status_code == 200 and r.json()["status"] in ("QUEUED", "IN_PROGRESS")

    async def some_sent() -> bool:
        return (await stats(client, contract, limit=0))["success"] >= 20

    await wait_until(some_sent, what="first sends")

    async def seen_holding_it() -> bool:
        return any(w.alive and w.accounts == ["test"] for w in await health.workers())

    await wait_until(seen_holding_it, what="the worker shown holding the account")
    assert (await client.post(f"/api/contracts/{contract}/pause")).json()["status"] == "PAUSED"
    await wait_until(lambda: _settled(client, contract), timeout=1.0, what="pause within a second")
    frozen = (await stats(client, contract, limit=0))["success"]
    assert await contracts.status_counts(contract) == await contracts.recount(contract)
    assert 0 < frozen < 400
    assert (await client.get("/api/contracts", params={"status": "PAUSED"})).json()[0]["id"] == contract
    await _idle(1.5)
    assert (await stats(client, contract, limit=0))["success"] == frozen, "a paused contract sends nothing"

    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def completed() -> bool:
        return (await stats(client, contract, limit=0))["status"] == "COMPLETED"

    await wait_until(completed, timeout=60, what="completion")
    body = await stats(client, contract)
    assert (body["total"], body["success"], body["failed"], body["successRate"]) == (400, 400, 0, "100.00%")
    assert sorted(p["phoneNumber"] for p in body["successPhoneNumbers"]) == [phone(i) for i in range(400)]
    assert all(p["sentAt"].endswith("Z") for p in body["successPhoneNumbers"])
    page = await stats(client, contract, limit=50, offset=100)
    assert [p["phoneNumber"] for p in page["successPhoneNumbers"]] == [phone(i) for i in range(100, 150)]
    assert page["success"] == 400, "counts are never paged"
    assert [c["id"] for c in (await client.get("/api/contracts", params={"status": "COMPLETED"})).json()] == [
        contract
    ]
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 409
    deliveries = Counter(
        await SandboxDelivery.filter(account_id=account).values_list("phone_number", flat=True)
    )
    assert len(deliveries) == 400 and set(deliveries.values()) == {1}
    minutes = await SendMinute.filter(contract_id=contract).values_list("sent", "failed")
    assert [sum(column) for column in zip(*minutes, strict=True)] == [400, 0], "the chart adds up"
    (worker,) = [w for w in await health.workers() if w.alive]
    assert worker.hostname == socket.gethostname() and worker.accounts == [], "no lease left held"

    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 204
    assert (await client.get(f"/api/contracts/{contract}")).status_code == 404
    assert not await SendMinute.filter(contract_id=contract).exists()


async def _settled(client, contract: str) -> bool:
    """True once nothing is in flight (SENDING) for the contract."""
    return not await Recipient.filter(contract_id=contract, status=RecipientStatus.SENDING).exists()


async def _idle(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_failures_are_classified_retried_and_reported(client, processes) -> None:
    processes("worker")
    sandbox = {
        "invalid": [phone(1)],
        "not_on_whatsapp": [phone(2)],
        "transient": [phone(3), phone(4)],
        "transient_failures": 2,
    }
    account = await new_account(client, useLimits=False, sandbox=sandbox)
    contract = await new_contract(client, account, n=6)
    await client.put(f"/api/accounts/{account}", json={"sandbox": {**sandbox, "transient": [phone(3)]}})
    await client.post(f"/api/contracts/{contract}/start")

    async def done() -> bool:
        return (await stats(client, contract, limit=0))["remaining"] == 0

    await wait_until(done, timeout=30, what="all recipients final")
    body = await stats(client, contract)
    assert body["status"] == "COMPLETED"
    assert (body["total"], body["success"], body["failed"], body["skipped"]) == (6, 4, 1, 1)
    assert body["successRate"] == "66.67%"
    assert body["failedPhoneNumbers"] == [
        {"phoneNumber": phone(1), "errorMessage": "Invalid number", "attempts": 1}
    ]
    assert body["skippedPhoneNumbers"][0]["phoneNumber"] == phone(2)
    assert await contracts.status_counts(contract) == await contracts.recount(contract)
    retried = await Recipient.get(contract_id=contract, phone_number=phone(3))
    assert (retried.status, retried.attempts) == (RecipientStatus.SENT, 3)


async def test_transient_errors_fail_after_three_attempts(client, processes) -> None:
    processes("worker")
    account = await new_account(
        client, useLimits=False, sandbox={"transient": [phone(0)], "transient_failures": 9}
    )
    contract = await new_contract(client, account, n=1)
    await client.post(f"/api/contracts/{contract}/start")

    async def failed() -> bool:
        return (await stats(client, contract, limit=0))["status"] == "FAILED"

    await wait_until(failed, timeout=30, what="contract FAILED")
    failure = (await stats(client, contract))["failedPhoneNumbers"][0]
    assert failure["attempts"] == 3
    assert "Timed out" in failure["errorMessage"]


async def test_queue_status_counts_contracts_and_messages(client, processes) -> None:
    account = await new_account(client, useLimits=False)
    waiting = await new_contract(client, account, n=2)
    body = (await client.get("/api/queues/status")).json()
    assert body == {
        "contracts": {"waiting": 1, "active": 0, "completed": 0, "failed": 0},
        "messages": {"waiting": 0, "active": 0, "completed": 0, "failed": 0},
    }
    await client.post(f"/api/contracts/{waiting}/start")
    body = (await client.get("/api/queues/status")).json()
    assert body["messages"]["waiting"] == 2
    processes("worker")

    async def done() -> bool:
        return (await client.get("/api/queues/status")).json()["contracts"]["completed"] == 1

    await wait_until(done, what="completion")
    body = (await client.get("/api/queues/status")).json()
    assert body["messages"] == {"waiting": 0, "active": 0, "completed": 2, "failed": 0}


async def test_paced_account_keeps_gaps_and_breaks(client, processes) -> None:
    pacing = {
        "GAP_MIN_S": "0.3",
        "GAP_MAX_S": "0.4",
        "DELAY_MIN_S": "0",
        "DELAY_MAX_S": "0",
        "BREAK_EVERY": "3",
        "BREAK_MIN_S": "1.5",
        "BREAK_MAX_S": "1.6",
        "TYPING_MIN_S": "0.1",
        "TYPING_MAX_S": "0.1",
    }
    processes("worker", **pacing)
    processes("worker", **pacing)
    account = await new_account(client)
    contract = await new_contract(client, account, n=7)
    await client.post(f"/api/contracts/{contract}/start")

    async def done() -> bool:
        return (await stats(client, contract, limit=0))["status"] == "COMPLETED"

    await wait_until(done, timeout=30, what="completion")
    times = sorted(
        p.timestamp() for p in await Recipient.filter(contract_id=contract).values_list("sent_at", flat=True)
    )
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for i, gap in enumerate(gaps, start=1):
        low = 1.5 if i % 3 == 0 else 0.3
        assert gap >= low + 0.1, f"gap {gap:.2f}s after send {i} is shorter than the rules allow"


async def test_workers_yield_the_cpu_to_the_web_process(processes) -> None:
    """Workers run at a lower CPU priority (WORKER_NICE, 10 by default), so the API stays responsive
    while they send flat out."""
    import psutil

    worker = processes("worker", WORKER_NICE="7")
    base = psutil.Process().nice()

    async def reniced() -> bool:
        children = psutil.Process(worker.proc.pid).children(recursive=True)
        return bool(children) and all(c.nice() == base + 7 for c in children)

    await wait_until(reniced, timeout=30, what="the worker process to lower its priority")
