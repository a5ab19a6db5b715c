"""Deleting contracts while workers send them: once the delete is acknowledged nothing of the
contract leaves any more, and no row of it is left behind (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models import Recipient, RecipientStatus, SandboxDelivery
from models.sql import execute
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
