"""Deleting or cancelling contracts while workers send them: once the delete or cancel is
acknowledged nothing of the contract leaves any more; a delete leaves no row of it behind, a cancel
keeps its report (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from models import Account, Recipient, RecipientStatus, SandboxDelivery
from models.sql import execute
from services.contracts import CANCELLED_NOTE, recount, status_counts
from tasks.outbox import requeue_orphans
from tests.conftest import wait_until
from tests.helpers import new_account, new_contract

TABLES = ("contracts", "recipients", "contract_status_counts", "send_minutes")


async def rows_left(contract_id: str) -> dict[str, int]:
    left = {}
    for table in TABLES:
        column = "id" if table == "contracts" else "contract_id"
        rows = await execute(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?", [contract_id])
        left[table] = rows[0]["n"]
    return left


async def test_nothing_is_sent_after_a_delete_is_acknowledged_and_nothing_is_left(client, processes) -> None:
    processes("worker")
    processes("worker")
    contracts = []
    for _ in range(3):
        account = await new_account(client, useLimits=False, sandbox={"latency_s": 0.002})
        for _ in range(2):  # two contracts share each account's driver
            contract = await new_contract(client, account, n=3000)
            assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
            contracts.append(contract)

    async def sending() -> bool:
        sent = await Recipient.filter(contract_id__in=contracts, status=RecipientStatus.SENT).count()
        return sent >= 600

    await wait_until(sending, timeout=60, what="every account sending")
    message_ids = {
        c: await Recipient.filter(contract_id=c).values_list("message_id", flat=True) for c in contracts
    }

    async def delete(contract_id: str) -> datetime:
        r = await client.delete(f"/api/contracts/{contract_id}")
        assert r.status_code == 204, r.text
        return datetime.now(UTC)

    acknowledged = dict(zip(contracts, await asyncio.gather(*(delete(c) for c in contracts)), strict=True))
    await asyncio.sleep(1.5)  # anything still on its way would arrive by now
    all_ids = [i for ids in message_ids.values() for i in ids]
    assert await SandboxDelivery.filter(message_id__in=all_ids).count() >= 600
    for contract_id in contracts:
        late = await SandboxDelivery.filter(
            message_id__in=message_ids[contract_id], delivered_at__gt=acknowledged[contract_id]
        ).count()
        assert late == 0, f"{late} messages of {contract_id} left after its delete was acknowledged"
        assert await rows_left(contract_id) == dict.fromkeys(TABLES, 0)


async def test_a_cancel_stops_sending_at_once_and_keeps_the_report(client, processes) -> None:
    processes("worker")
    account = await new_account(client, useLimits=False, sandbox={"latency_s": 0.002})
    contract = await new_contract(client, account, n=3000)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def sending() -> bool:
        return await Recipient.filter(contract_id=contract, status=RecipientStatus.SENT).count() >= 200

    await wait_until(sending, timeout=60, what="the contract sending")
    r = await client.post(f"/api/contracts/{contract}/cancel")
    acknowledged = datetime.now(UTC)
    assert (r.status_code, r.json()) == (200, {"id": contract, "status": "CANCELLED"})
    await asyncio.sleep(1.5)  # anything still on its way would arrive by now
    message_ids = await Recipient.filter(contract_id=contract).values_list("message_id", flat=True)
    late = await SandboxDelivery.filter(message_id__in=message_ids, delivered_at__gt=acknowledged).count()
    assert late == 0, f"{late} messages left after the cancel was acknowledged"

    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    delivered = await SandboxDelivery.filter(message_id__in=message_ids).count()
    assert (stats["status"], stats["total"], stats["success"]) == ("CANCELLED", 3000, delivered)
    assert stats["skipped"] == 3000 - delivered and stats["remaining"] == 0, "the unsent are skipped"
    assert await status_counts(contract) == await recount(contract), "the counts equal the rows"
    unsent = await Recipient.filter(contract_id=contract, status=RecipientStatus.SKIPPED).values_list(
        "error_message", flat=True
    )
    assert set(unsent) == {"not sent: the contract was cancelled"}
    body = (await client.get(f"/api/contracts/{contract}")).json()
    assert body["completedAt"] is not None and body["createdBy"] == "admin (API key)"
    export = await client.get(f"/api/contracts/{contract}/export.csv")
    assert (
        export.status_code == 200
        and export.text.count("not sent: the contract was cancelled") == 3000 - delivered
    )
    for again in ("cancel", "start", "pause"):
        r = await client.post(f"/api/contracts/{contract}/{again}")
        assert r.status_code == 409, (again, r.text)
    assert "CANCELLED" in (await client.post(f"/api/contracts/{contract}/cancel")).json()["error"]
    await asyncio.sleep(1)
    assert await SandboxDelivery.filter(message_id__in=message_ids).count() == delivered, "none since"


async def test_only_a_contract_not_over_can_be_cancelled(client) -> None:
    account = await new_account(client)
    waiting = await new_contract(client, account, n=3)
    r = await client.post(f"/api/contracts/{waiting}/cancel")
    assert (r.status_code, r.json()["status"]) == (200, "CANCELLED"), "a contract not started yet too"
    stats = (await client.get(f"/api/contracts/{waiting}/stats")).json()
    assert (stats["skipped"], stats["success"], stats["remaining"]) == (3, 0, 0)
    done = await new_contract(client, account, n=1)
    await execute("UPDATE contracts SET status = 'COMPLETED' WHERE id = ?", [done])
    r = await client.post(f"/api/contracts/{done}/cancel")
    assert r.status_code == 409 and r.json()["error"].startswith("contract is COMPLETED")
    assert (await client.post("/api/contracts/contract_missing/cancel")).status_code == 404
    assert (await client.delete(f"/api/contracts/{done}")).status_code == 204, "a finished one is deleted"


async def test_a_row_a_dead_worker_left_sending_in_a_cancelled_contract_is_skipped_not_queued(client) -> None:
    """The worker sending it died during the cancel: the row is settled like the contract's other
    unsent ones, so a cancelled contract keeps nothing waiting (before: QUEUED for good)."""
    account_id = await new_account(client)
    contract = await new_contract(client, account_id, n=2)
    first = await Recipient.filter(contract_id=contract).order_by("id").first()
    assert first is not None
    async with in_transaction() as conn:  # claimed by a worker that then died, holding no lease
        await Recipient.change_status(
            contract,
            RecipientStatus.PENDING,
            RecipientStatus.SENDING,
            conn,
            ids=[first.id],
            account_id=account_id,
        )
    assert (await client.post(f"/api/contracts/{contract}/cancel")).status_code == 200
    assert await requeue_orphans(await Account.get(id=account_id)) == 0, "nothing is sent again"
    orphan = await Recipient.get(id=first.id)
    assert (orphan.status, orphan.error_message) == (RecipientStatus.SKIPPED, CANCELLED_NOTE)
    counts = await status_counts(contract)
    assert counts == await recount(contract)
    assert counts.get(RecipientStatus.SKIPPED) == 2 and not counts.get(RecipientStatus.QUEUED)
