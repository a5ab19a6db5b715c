"""Group commit: paced drivers record their outcomes together, one transaction per tick, and each
still gets its own result (its lease lost, the database away)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models import Account, PoolMember, Recipient, RecipientStatus, SendMinute, StatusCount
from models.group_commit import GroupCommit
from services import lease
from tasks import outbox
from tests.helpers import new_account, new_contract, recipients


async def test_writes_waiting_together_are_made_in_one_call_and_each_gets_its_own_result() -> None:
    calls: list[list[int]] = []

    async def write_all(items: list[int]) -> list[BaseException | None]:
        calls.append(items)
        return [ValueError(i) if i == 2 else None for i in items]

    group = GroupCommit(write_all, linger_s=0.05)
    results = await asyncio.gather(*(group(i) for i in range(4)), return_exceptions=True)
    assert calls == [[0, 1, 2, 3]]
    assert [type(r) for r in results] == [type(None), type(None), ValueError, type(None)]
    await group(9)
    assert calls[-1] == [9], "a write after the batch waits for the next one"


async def test_a_batch_that_fails_is_written_item_by_item_so_one_bad_item_fails_alone() -> None:
    written: list[int] = []

    async def write_all(items: list[int]) -> list[BaseException | None]:
        if 13 in items:
            raise RuntimeError("deadlock detected")
        written.extend(items)
        return [None] * len(items)

    group = GroupCommit(write_all, linger_s=0.05)
    results = await asyncio.gather(*(group(i) for i in (12, 13, 14)), return_exceptions=True)
    assert [type(r) for r in results] == [type(None), RuntimeError, type(None)]
    assert written == [12, 14]


async def test_most_waiting_are_written_at_once_without_the_linger() -> None:
    async def write_all(items: list[int]) -> list[BaseException | None]:
        return [None] * len(items)

    group = GroupCommit(write_all, linger_s=60, most=3)
    await asyncio.wait_for(asyncio.gather(*(group(i) for i in range(3))), timeout=5)


async def claimed(client, n_accounts: int) -> list[tuple[str, str, int]]:
    """Accounts that each hold their lease and one recipient SENDING: (account, token, recipient)."""
    held = []
    for _ in range(n_accounts):
        account = await new_account(client, transport="sandbox")
        contract = await new_contract(client, account, n=2)
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
        token = await lease.acquire(account, datetime.now(UTC), ttl_s=60)
        assert token is not None
        running = await outbox.active_contracts(account)
        (row,) = (await outbox.claim(account, running, datetime.now(UTC), 1)).rows
        held.append((account, token, row.id))
    return held


async def test_records_of_many_accounts_in_one_transaction_and_a_lost_lease_writes_nothing_of_its_own(
    client,
) -> None:
    (a, token_a, ra), (b, _, rb), (c, token_c, rc) = await claimed(client, 3)
    at = datetime.now(UTC)
    records = [
        outbox.Record(a, token_a, [outbox.Outcome("x", ra, RecipientStatus.SENT)], at, {"sent": 1}),
        outbox.Record(b, "another's token", [outbox.Outcome("x", rb, RecipientStatus.SENT)], at, {"sent": 9}),
        outbox.Record(
            c, token_c, [outbox.Outcome("x", rc, RecipientStatus.FAILED, "Invalid number")], at, {"sent": 2}
        ),
    ]
    results = dict(zip((a, b, c), await outbox.record_all(records), strict=True))
    assert results[a] is None and results[c] is None
    assert isinstance(results[b], lease.LeaseLost)

    rows = dict(await Recipient.filter(id__in=[ra, rb, rc]).values_list("id", "status"))
    assert rows == {ra: RecipientStatus.SENT, rb: RecipientStatus.SENDING, rc: RecipientStatus.FAILED}
    assert (await Recipient.get(id=ra)).sent_at is not None
    assert (await Recipient.get(id=rc)).error_message == "Invalid number"
    assert (await Account.get(id=a)).pacing_state == {"sent": 1}
    assert (await Account.get(id=b)).pacing_state != {"sent": 9}, "a lost lease writes no pacing either"
    for account, (sent, failed) in {a: (1, 0), b: (0, 0), c: (0, 1)}.items():
        (contract,) = await PoolMember.filter(account_id=account).values_list("contract_id", flat=True)
        counts = dict(await StatusCount.filter(contract_id=contract).values_list("status", "n"))
        assert (counts["SENT"], counts["FAILED"], counts["SENDING"]) == (sent, failed, 1 - sent - failed)
        pool = await PoolMember.get(account_id=account)
        assert (pool.sent, pool.failed) == (sent, failed)
        minutes = await SendMinute.filter(account_id=account).values_list("sent", "failed")
        assert minutes == ([(sent, failed)] if sent or failed else [])


async def test_claims_made_together_give_a_pools_accounts_rows_of_their_own_and_none_of_a_paused_contract(
    client,
) -> None:
    a, b, c = [await new_account(client, transport="sandbox") for _ in range(3)]
    body = {"accountIds": [a, b], "name": "pool", "recipients": recipients(3)}
    pool = (await client.post("/api/contracts", json=body)).json()["id"]
    alone = await new_contract(client, c)
    for contract in (pool, alone):
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    listed = {account: await outbox.active_contracts(account) for account in (a, b, c)}
    assert (await client.post(f"/api/contracts/{alone}/pause")).status_code == 200

    now = datetime.now(UTC)
    got_a, got_b, got_c = await asyncio.gather(
        *(outbox.claim(account, listed[account], now, 2, grouped=True) for account in (a, b, c))
    )
    ids_a, ids_b = {r.id for r in got_a.rows}, {r.id for r in got_b.rows}
    assert len(ids_a) + len(ids_b) == 3 and not ids_a & ids_b, "each row claimed by one account"
    assert got_c.rows == [] and listed[c] == [], "the paused contract is dropped from the list"
    owners = dict(await Recipient.filter(contract_id=pool).values_list("id", "account_id"))
    assert owners == {**dict.fromkeys(ids_a, a), **dict.fromkeys(ids_b, b)}
    counts = dict(await StatusCount.filter(contract_id=pool).values_list("status", "n"))
    assert (counts["QUEUED"], counts["SENDING"]) == (0, 3)


async def test_running_checks_asked_together_answer_each_driver_for_its_own_contract(client) -> None:
    account = await new_account(client, transport="sandbox")
    started, paused, pending = [await new_contract(client, account) for _ in range(3)]
    for contract in (started, paused):
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    assert (await client.post(f"/api/contracts/{paused}/pause")).status_code == 200

    asked = [started, paused, started, pending, "no such contract"]
    answers = await asyncio.gather(*(outbox.is_running(c, grouped=True) for c in asked))
    assert answers == [True, False, True, False, False]


async def test_a_cancelled_writer_unwinds_only_once_its_item_is_written() -> None:
    """A driver stopped while its record waits: what it sent is recorded before it lets go of its
    lease."""
    written: list[int] = []

    async def write_all(items: list[int]) -> list[BaseException | None]:
        await asyncio.sleep(0.05)
        written.extend(items)
        return [None] * len(items)

    group = GroupCommit(write_all, linger_s=60)
    writer = asyncio.create_task(group(1))
    await asyncio.sleep(0.01)
    writer.cancel()
    (result,) = await asyncio.gather(writer, return_exceptions=True)
    assert isinstance(result, asyncio.CancelledError)
    assert written == [1], "written at once, not after the linger, and before the writer unwound"


async def test_with_undo_a_cancelled_item_is_dropped_while_it_waits_and_undone_once_being_written() -> None:
    """A driver stopped while its claim waits claims nothing; one stopped while its claim is being
    made has the rows put back."""
    written: list[int] = []
    undone: list[tuple[int, str]] = []

    async def write_all(items: list[int]) -> list[str | BaseException]:
        await asyncio.sleep(0.05)
        written.extend(items)
        return [f"rows of {i}" for i in items]

    async def undo(item: int, result: str) -> None:
        undone.append((item, result))

    group = GroupCommit(write_all, linger_s=0.05, undo=undo)
    dropped, kept = asyncio.create_task(group(1)), asyncio.create_task(group(2))
    await asyncio.sleep(0.01)
    dropped.cancel()
    await asyncio.sleep(0.07)  # the write of 2 is under way
    kept.cancel()
    results = await asyncio.gather(dropped, kept, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert written == [2] and undone == [(2, "rows of 2")]
