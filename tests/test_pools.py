"""Many numbers, one campaign: a contract sent by a pool of accounts, through the API and real workers.

Whichever account is due next takes the next recipient; a recipient is sent by one account only; an
account that is banned or logged out gives its unsent recipients to the rest of the pool; a
rate-limited one rests and comes back; an account serving two contracts serves them in turns.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from models import Contract, ContractStatus, Recipient, RecipientStatus, SandboxDelivery
from models.enums import ACTIVE_CONTRACT
from services import contracts
from tests.conftest import wait_until
from tests.helpers import kill_repeatedly, new_account, new_contract, phone, recipients


async def completed(contract: str) -> bool:
    return await Contract.filter(id=contract, status=ContractStatus.COMPLETED).exists()


async def pool_contract(client, pool: list[str], n: int) -> str:
    r = await client.post(
        "/api/contracts", json={"accountIds": pool, "name": "pool", "recipients": recipients(n)}
    )
    assert r.status_code == 201, r.text
    contract = r.json()["id"]
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    return contract


async def assert_each_sent_once_by_one_account(client, contract: str, n: int) -> dict[str, int]:
    """Every recipient SENT, delivered once by the network, and counted for the account that took
    it; returns the sends per account."""
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["status"], stats["success"], stats["failed"]) == ("COMPLETED", n, 0)
    deliveries = await SandboxDelivery.all().values_list("phone_number", "account_id", "attempts")
    assert sorted(p for p, _, _ in deliveries) == [phone(i) for i in range(n)], "each number delivered once"
    taken = Counter(await Recipient.filter(contract_id=contract).values_list("account_id", flat=True))
    assert Counter(a for _, a, _ in deliveries) == taken, "delivered by the account that took it"
    by_account = {a["accountId"]: a["sent"] for a in stats["accounts"]}
    assert by_account == {a: taken.get(a, 0) for a in by_account}
    assert await contracts.status_counts(contract) == await contracts.recount(contract)
    return by_account


async def test_a_pool_spreads_a_contract_over_its_accounts(client, processes) -> None:
    processes("worker")
    pool = [await new_account(client, name=f"n{i}", useLimits=False) for i in range(3)]
    contract = await pool_contract(client, pool, 600)
    body = (await client.get(f"/api/contracts/{contract}")).json()
    assert (body["accountId"], body["accountIds"]) == (pool[0], pool)
    await wait_until(lambda: completed(contract), timeout=60, what="the pool's contract completed")
    sent = await assert_each_sent_once_by_one_account(client, contract, 600)
    assert list(sent) == pool and all(n > 0 for n in sent.values()), f"every account sent: {sent}"
    assert all(d == 1 for d in await SandboxDelivery.all().values_list("attempts", flat=True))
    listed = (await client.get("/api/contracts", params={"accountId": pool[2]})).json()
    assert [c["id"] for c in listed] == [contract], "a contract is listed under each of its accounts"


async def test_a_ban_mid_run_moves_the_rest_to_the_healthy_accounts(client, processes) -> None:
    processes("worker")
    banned = await new_account(client, name="doomed", useLimits=False, sandbox={"banned_after": 8})
    slower = {"latency_s": 0.005}
    healthy = [await new_account(client, name=f"ok{i}", useLimits=False, sandbox=slower) for i in range(2)]
    contract = await pool_contract(client, [banned, *healthy], 500)
    await wait_until(lambda: completed(contract), timeout=60, what="completion on the healthy accounts")
    sent = await assert_each_sent_once_by_one_account(client, contract, 500)
    assert sent[banned] == 8, "the banned account sent until the ban, then nothing"
    attempts = await SandboxDelivery.all().values_list("attempts", flat=True)
    assert set(attempts) == {1}, "none sent twice"
    account = (await client.get(f"/api/accounts/{banned}")).json()
    assert account["status"] == "BANNED"
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert {a["accountId"]: a["status"] for a in stats["accounts"]}[banned] == "BANNED"


async def test_a_rate_limited_account_rests_while_the_pool_goes_on(client, processes) -> None:
    processes("worker")
    tired = await new_account(
        client, useLimits=False, sandbox={"rate_limited_after": 10, "rate_limited_for_s": 600}
    )
    fresh = await new_account(client, useLimits=False, sandbox={"latency_s": 0.002})
    contract = await pool_contract(client, [tired, fresh], 300)
    await wait_until(lambda: completed(contract), timeout=60, what="completion while one account rests")
    sent = await assert_each_sent_once_by_one_account(client, contract, 300)
    assert sent[tired] == 10 and sent[fresh] == 290
    account = (await client.get(f"/api/accounts/{tired}")).json()
    assert account["status"] == "CONNECTED" and "paused by health rule" in account["statusReason"]


async def test_logging_a_sandbox_account_out_moves_its_recipients_and_pausing_stops_the_pool(
    client, processes
) -> None:
    processes("worker")
    pool = [await new_account(client, useLimits=False, sandbox={"latency_s": 0.005}) for _ in range(2)]
    contract = await pool_contract(client, pool, 400)

    async def some_sent() -> bool:
        return await Recipient.filter(contract_id=contract, status=RecipientStatus.SENT).count() > 40

    await wait_until(some_sent, what="sending under way")
    assert (await client.post(f"/api/accounts/{pool[0]}/logout")).json()["status"] == "LOGGED_OUT"
    queued_for_it = Recipient.filter(contract_id=contract, account_id=pool[0], status=RecipientStatus.QUEUED)
    assert not await queued_for_it.exists(), "its unsent recipients went back to the pool"
    assert (await client.post(f"/api/contracts/{contract}/pause")).json()["status"] == "PAUSED"
    assert (await client.post(f"/api/contracts/{contract}/start")).json()["status"] == "QUEUED"
    await wait_until(lambda: completed(contract), timeout=60, what="completion on the other account")
    await assert_each_sent_once_by_one_account(client, contract, 400)
    assert (await client.delete(f"/api/accounts/{pool[1]}")).status_code == 409, "still in a pool"
    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 204
    assert (await client.delete(f"/api/accounts/{pool[1]}")).status_code == 204


async def test_a_pool_whose_accounts_are_all_lost_pauses_with_the_reason(client, processes) -> None:
    processes("worker")
    pool = [await new_account(client, useLimits=False, sandbox={"banned_after": 5}) for _ in range(2)]
    contract = await pool_contract(client, pool, 50)

    async def paused() -> bool:
        return await Contract.filter(id=contract, status=ContractStatus.PAUSED).exists()

    await wait_until(paused, what="the stranded contract paused")
    body = (await client.get(f"/api/contracts/{contract}")).json()
    assert "banned" in body["pausedReason"]
    r = await client.post(f"/api/contracts/{contract}/start")
    assert r.status_code == 409 and "every account" in r.json()["error"]
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert stats["failed"] == 0 and stats["remaining"] > 0, "nothing failed for the accounts' trouble"
    assert all(a["sent"] >= 5 and a["status"] == "BANNED" for a in stats["accounts"])
    assert stats["success"] == sum(a["sent"] for a in stats["accounts"])


async def test_one_account_serves_two_contracts_in_turns(client, processes) -> None:
    processes("worker")
    account = await new_account(client, useLimits=False, sandbox={"latency_s": 0.002})
    first = await new_contract(client, account, n=300)
    second = await new_contract(client, account, n=300)
    for contract in (first, second):
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    await wait_until(lambda: completed(second), timeout=60, what="both contracts done")
    await wait_until(lambda: completed(first), timeout=10, what="both contracts done")
    spans = {}
    for contract in (first, second):
        times = await Recipient.filter(contract_id=contract).values_list("sent_at", flat=True)
        spans[contract] = (min(times), max(times))
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values()), "interleaved, not in a row"


async def test_pool_input_is_checked_by_field(client) -> None:
    one = await new_account(client)
    body = {"recipients": recipients(1)}
    r = await client.post("/api/contracts", json={**body, "accountIds": [one, "acc_missing"]})
    assert r.status_code == 404 and r.json()["details"][0]["field"] == "accountIds[1]"
    r = await client.post("/api/contracts", json={**body, "accountIds": []})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "accountIds"
    r = await client.post("/api/contracts", json=body)
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "accountId"
    two = await new_account(client)
    r = await client.post("/api/contracts", json={**body, "accountId": two, "accountIds": [one, two]})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "accountId"
    r = await client.post("/api/contracts", json={**body, "accountIds": [one, two, one]})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "accountIds[2]"
    r = await client.post("/api/contracts", json={**body, "accountId": two, "accountIds": [two, one]})
    assert r.status_code == 201
    shown = (await client.get(f"/api/contracts/{r.json()['id']}")).json()
    assert (shown["accountId"], shown["accountIds"]) == (two, [two, one])
    csv = "phoneNumber,message\n" + f"{phone(1)},hi\n"
    r = await client.post(
        "/api/contracts/import", params=[("accountIds", one), ("accountIds", two)], content=csv
    )
    assert r.status_code == 201, r.text
    assert (await client.get(f"/api/contracts/{r.json()['id']}")).json()["accountIds"] == [one, two]
    assert (await client.post("/api/contracts/import", content=csv)).status_code == 422


async def test_kill_9_of_workers_with_a_pool_loses_and_duplicates_nothing(client, processes) -> None:
    workers = [processes("worker"), processes("worker")]
    pool = [await new_account(client, useLimits=False, sandbox={"latency_s": 0.003}) for _ in range(3)]
    contract = await pool_contract(client, pool, 2000)
    kills = await kill_repeatedly(workers, lambda: completed(contract), seed=5, pause_s=(0.7, 1.5), most=8)
    assert kills >= 2, "the run must last long enough to be interrupted"
    await wait_until(lambda: completed(contract), timeout=120, what="completion after the kills")
    await assert_each_sent_once_by_one_account(client, contract, 2000)


async def test_a_running_contract_says_why_it_waits(client) -> None:
    """No silent waits: the API names the reason a running contract sends nothing now."""

    from models import Account, AccountStatus

    async def reason(account_id: str) -> str | None:
        contract = await new_contract(client, account_id, n=2)
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
        return (await client.get(f"/api/contracts/{contract}")).json()["waitingReason"]

    ready = await new_account(client)
    assert await reason(ready) is None, "a contract that may send has no waiting reason"
    gone = await new_account(client)
    await Account.filter(id=gone).update(status=AccountStatus.DISCONNECTED)
    assert await reason(gone) == "no connected account"
    resting = await new_account(client)
    await Account.filter(id=resting).update(paused_until=datetime.now(UTC) + timedelta(minutes=5))
    assert (await reason(resting)).startswith("paused by health rule until")
    capped = await new_account(client)
    today = {"day": datetime.now(UTC).date().isoformat(), "day_count": 500}
    await Account.filter(id=capped).update(pacing_state=today)
    assert await reason(capped) == "daily cap reached; sending resumes at 00:00 UTC"
    pooled = await pool_contract(client, [capped, resting], 2)
    body = (await client.get(f"/api/contracts/{pooled}")).json()
    assert body["waitingReason"].startswith("every account is waiting; the first to resume: daily cap")
    draft = await new_contract(client, ready, n=1)
    assert (await client.get(f"/api/contracts/{draft}")).json()["waitingReason"] is None, "not running"


FAST_PACING = {
    "GAP_MIN_S": "0.01",
    "GAP_MAX_S": "0.02",
    "DELAY_MIN_S": "0",
    "DELAY_MAX_S": "0",
    "BREAK_MIN_S": "0.01",
    "BREAK_MAX_S": "0.02",
    "TYPING_MIN_S": "0.01",
    "TYPING_MAX_S": "0.01",
}


async def test_a_warm_up_plan_caps_the_day_and_the_contract_says_so(client, processes) -> None:
    processes("worker", **FAST_PACING)
    r = await client.post("/api/accounts", json={"name": "young", "warmupPlan": [5, 10, 20]})
    assert r.status_code == 201 and (r.json()["warmupPlan"], r.json()["dailyCap"]) == ([5, 10, 20], 5)
    account = r.json()["id"]
    contract = await new_contract(client, account, n=12)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def capped() -> bool:
        body = (await client.get(f"/api/contracts/{contract}")).json()
        return body["waitingReason"] == "daily cap reached; sending resumes at 00:00 UTC"

    await wait_until(capped, what="the day's cap of the warm-up plan reached")
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["success"], stats["remaining"]) == (5, 7)
    cleared = await client.put(f"/api/accounts/{account}", json={"warmupPlan": []})
    assert (cleared.json()["warmupPlan"], cleared.json()["dailyCap"]) == (None, 500), "back to the cap by age"
    r = await client.put(f"/api/accounts/{account}", json={"warmupPlan": [-1]})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "warmupPlan[0]"


async def test_the_plan_counts_daily_caps_and_the_pool_before_the_start(client) -> None:
    """The issue's case: 1,969 messages on one new number take days by its cap, not hours."""

    def until(body: dict) -> timedelta:
        finish = datetime.fromisoformat(body["estimatedFinishAt"].replace("Z", "+00:00"))
        return finish - datetime.now(UTC)

    one = await new_account(client)
    alone = await new_contract(client, one, n=1969)
    assert until((await client.get(f"/api/contracts/{alone}")).json()) > timedelta(days=2)
    pool = [one, *[await new_account(client) for _ in range(4)]]
    r = await client.post("/api/contracts", json={"accountIds": pool, "recipients": recipients(1969)})
    pooled = (await client.get(f"/api/contracts/{r.json()['id']}")).json()
    assert until(pooled) < timedelta(hours=12), "five numbers share it, each under its cap"
    assert (await client.post(f"/api/contracts/{alone}/pause")).status_code == 409  # never started
    await client.post(f"/api/contracts/{alone}/start")
    await client.post(f"/api/contracts/{alone}/pause")
    paused = (await client.get(f"/api/contracts/{alone}")).json()
    assert paused["status"] == "PAUSED" and paused["estimatedFinishAt"] is None


async def test_rows_a_lost_account_left_sending_go_to_the_rest_of_the_pool(client) -> None:
    """A worker died mid-send, then its account was banned: nobody will drive it again, so reconcile
    settles its rows by its rules and hands them to the pool."""
    from tortoise.transactions import in_transaction

    from models import Account, AccountStatus
    from tasks.reconcile import settle_lost_accounts

    lost, healthy = await new_account(client), await new_account(client)
    contract = await pool_contract(client, [lost, healthy], 3)
    ids = await Recipient.filter(contract_id=contract).order_by("id").values_list("id", flat=True)
    async with in_transaction() as conn:
        await Recipient.change_status(
            contract, RecipientStatus.QUEUED, RecipientStatus.SENDING, conn, ids=ids[:2], account_id=lost
        )
    await Account.filter(id=lost).update(status=AccountStatus.BANNED, lease_until=None)
    assert await settle_lost_accounts(datetime.now(UTC)) == 2
    rows = await Recipient.filter(contract_id=contract).values_list("status", "account_id")
    assert rows == [(RecipientStatus.QUEUED, None)] * 3, "the sandbox takes our ids: resent by another"
    assert await contracts.status_counts(contract) == await contracts.recount(contract)


async def test_a_contract_is_over_as_its_last_recipient_is_while_its_account_sends_another(
    client, processes
) -> None:
    """Contracts sharing an account each end with their own last recipient, not when the account has
    nothing more to send: COMPLETED, or FAILED when nothing was sent and something failed."""
    processes("worker")
    failing, absent = phone(9_000_001), phone(9_000_002)
    sandbox = {"latency_s": 0.005, "invalid": [failing], "not_on_whatsapp": [absent]}
    account = await new_account(client, useLimits=False, sandbox=sandbox)
    large = await new_contract(client, account, n=3000)
    assert (await client.post(f"/api/contracts/{large}/start")).status_code == 200
    expected = {
        (phone(9_000_000),): ContractStatus.COMPLETED,
        (failing,): ContractStatus.FAILED,  # its only recipient failed: nothing was sent
        (absent,): ContractStatus.COMPLETED,  # skipped (not on WhatsApp), nothing failed
        (absent, failing): ContractStatus.FAILED,
        (phone(9_000_003), failing): ContractStatus.COMPLETED,  # one sent
    }
    small = {}
    for numbers, status in expected.items():
        body = {"accountId": account, "recipients": [{"phoneNumber": p, "message": "hi"} for p in numbers]}
        contract = (await client.post("/api/contracts", json=body)).json()["id"]
        assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
        small[contract] = status
    for contract, status in small.items():

        async def settled(contract: str = contract) -> bool:
            counts = await contracts.status_counts(contract)
            return not counts[RecipientStatus.QUEUED] + counts[RecipientStatus.SENDING]

        await wait_until(settled, timeout=30, what=f"the recipients of {contract} sent")
        settled_at = datetime.now(UTC)

        async def over(contract: str = contract) -> bool:
            return (await Contract.get(id=contract)).status not in ACTIVE_CONTRACT

        await wait_until(over, timeout=5, what=f"{contract} over within seconds of its last recipient")
        done = await Contract.get(id=contract)
        assert done.status == status, (done.status, status)
        assert done.completed_at <= settled_at + timedelta(seconds=5)
    assert (await Contract.get(id=large)).status == ContractStatus.IN_PROGRESS, "the large one still sends"
    for contract in small:
        assert await contracts.status_counts(contract) == await contracts.recount(contract)
