"""A contract's scheduled start (`startAt`) and deadline through the API: set on create, changed and
cleared later; a deadline that passes with recipients unsent pauses the contract, saying so, and it
is not resumed until the deadline changes. /import takes them and the send window as parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tortoise.transactions import in_transaction

from models import Contract, ContractStatus, Recipient, RecipientStatus
from services import contracts
from tests.helpers import new_account, new_contract, phone


def hours_from_now(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def shown(at: datetime) -> str:
    """A time as the API writes it."""
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def mark_sent(contract_id: str, n: int) -> None:
    """The first n recipients of the contract sent, as a worker would record them."""
    ids = await Recipient.filter(contract_id=contract_id).order_by("id").limit(n).values_list("id", flat=True)
    async with in_transaction() as conn:
        await Recipient.change_status(
            contract_id, RecipientStatus.QUEUED, RecipientStatus.SENT, conn, ids=ids
        )


async def test_a_start_is_scheduled_on_create_then_changed_and_cancelled(client) -> None:
    account = await new_account(client)
    at = hours_from_now(2)
    contract = await new_contract(client, account, startAt=at.isoformat())
    got = (await client.get(f"/api/contracts/{contract}")).json()
    assert (got["status"], got["startAt"], got["deadline"]) == ("PENDING", shown(at), None)

    later = hours_from_now(3).astimezone(timezone(timedelta(hours=3)))  # any offset is taken
    r = await client.post(f"/api/contracts/{contract}/schedule", json={"startAt": later.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["startAt"] == shown(later.astimezone(UTC))
    assert await contracts.start_scheduled(at + timedelta(minutes=1)) == [], "the old time is gone"

    r = await client.post(f"/api/contracts/{contract}/schedule", json={"startAt": None})
    assert r.status_code == 200 and (r.json()["startAt"], r.json()["status"]) == (None, "PENDING")
    assert await contracts.start_scheduled(later + timedelta(days=1)) == []
    assert (await client.get(f"/api/contracts/{contract}")).json()["status"] == "PENDING"


async def test_a_start_that_has_passed_or_has_no_offset_is_refused_naming_the_field(client) -> None:
    account = await new_account(client)
    body = {"accountId": account, "recipients": [{"phoneNumber": phone(1), "message": "hi"}]}
    for start_at in (hours_from_now(-1).isoformat(), "2030-01-01T10:00:00", "soon"):
        r = await client.post("/api/contracts", json={**body, "startAt": start_at})
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "startAt", r.text
    r = await client.post(
        "/api/contracts",
        json={**body, "startAt": hours_from_now(2).isoformat(), "deadline": hours_from_now(1).isoformat()},
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "deadline", r.text
    assert await Contract.all().count() == 0, "nothing was created"

    contract = await new_contract(client, account)
    for change, field in (
        ({"startAt": hours_from_now(-1).isoformat()}, "startAt"),
        ({}, "startAt"),
        ({"startAt": None, "at": 1}, "at"),
    ):
        r = await client.post(f"/api/contracts/{contract}/schedule", json=change)
        assert r.status_code == 422 and r.json()["details"][0]["field"] == field, r.text
    assert (await Contract.get(id=contract)).start_at is None


async def test_only_a_pending_contract_is_scheduled_and_only_one_not_over_gets_a_deadline(client) -> None:
    account = await new_account(client)
    contract = await new_contract(client, account)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    r = await client.post(
        f"/api/contracts/{contract}/schedule", json={"startAt": hours_from_now(1).isoformat()}
    )
    assert r.status_code == 409 and "only PENDING" in r.json()["error"]
    r = await client.post(
        f"/api/contracts/{contract}/deadline", json={"deadline": hours_from_now(1).isoformat()}
    )
    assert r.status_code == 200 and r.json()["status"] == "QUEUED", "a running contract's deadline may change"
    await Contract.filter(id=contract).update(status=ContractStatus.COMPLETED)
    r = await client.post(f"/api/contracts/{contract}/deadline", json={"deadline": None})
    assert r.status_code == 409, r.text
    assert (await Contract.get(id=contract)).deadline is not None


async def test_a_deadline_passed_with_recipients_unsent_pauses_the_contract_with_the_reason(client) -> None:
    account = await new_account(client)
    deadline = hours_from_now(1)
    contract = await new_contract(client, account, n=3, deadline=deadline.isoformat())
    done = await new_contract(client, account, n=1, deadline=deadline.isoformat())
    for started in (contract, done):
        assert (await client.post(f"/api/contracts/{started}/start")).status_code == 200
    await mark_sent(contract, 1)
    await mark_sent(done, 1)  # all sent: about to complete, nothing to pause

    assert await contracts.pause_past_deadline(deadline - timedelta(seconds=1)) == []
    assert await contracts.pause_past_deadline(deadline) == [contract]
    got = (await client.get(f"/api/contracts/{contract}")).json()
    assert got["status"] == "PAUSED"
    assert got["pausedReason"] == f"deadline {deadline:%Y-%m-%d %H:%M} UTC passed with 2 not sent"
    assert (await Contract.get(id=done)).status == ContractStatus.QUEUED


async def test_reconcile_pauses_at_the_deadline_and_resuming_waits_for_a_new_one(client) -> None:
    from tasks.reconcile import reconcile

    account = await new_account(client)
    contract = await new_contract(client, account, n=2, deadline=hours_from_now(1).isoformat())
    await client.post(f"/api/contracts/{contract}/start")
    await Contract.filter(id=contract).update(deadline=datetime.now(UTC) - timedelta(seconds=1))
    await reconcile()
    got = (await client.get(f"/api/contracts/{contract}")).json()
    assert got["status"] == "PAUSED" and got["pausedReason"].endswith("passed with 2 not sent")

    r = await client.post(f"/api/contracts/{contract}/start")
    assert r.status_code == 409 and "deadline" in r.json()["error"], r.text
    assert (await Contract.get(id=contract)).status == ContractStatus.PAUSED
    r = await client.post(
        f"/api/contracts/{contract}/deadline", json={"deadline": hours_from_now(-1).isoformat()}
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "deadline"
    r = await client.post(f"/api/contracts/{contract}/deadline", json={"deadline": None})
    assert r.status_code == 200 and r.json()["deadline"] is None
    r = await client.post(f"/api/contracts/{contract}/start")
    assert r.status_code == 200 and r.json()["status"] == "QUEUED"
    assert (await client.get(f"/api/contracts/{contract}")).json()["pausedReason"] is None


async def test_a_pending_contract_past_its_deadline_does_not_start_at_its_scheduled_time(client) -> None:
    account = await new_account(client)
    at = hours_from_now(1)
    contract = await new_contract(
        client, account, startAt=at.isoformat(), deadline=hours_from_now(2).isoformat()
    )
    r = await client.post(
        f"/api/contracts/{contract}/deadline", json={"deadline": hours_from_now(0.5).isoformat()}
    )
    assert r.status_code == 422 and "not after the start" in r.json()["details"][0]["message"], r.text
    await Contract.filter(id=contract).update(deadline=datetime.now(UTC) - timedelta(seconds=1))
    await contracts.start_scheduled(at)
    got = await Contract.get(id=contract)
    assert got.status == ContractStatus.PENDING and "deadline" in got.error_message
    await client.post(f"/api/contracts/{contract}/deadline", json={"deadline": None})
    r = await client.post(f"/api/contracts/{contract}/schedule", json={"startAt": at.isoformat()})
    assert r.status_code == 200 and r.json()["errorMessage"] is None, "a new time clears the old failure"


async def post_csv(client, **params: str):
    return await client.post(
        "/api/contracts/import",
        params=params,
        content=f"phone,message\n{phone(1)},hi\n{phone(2)},hello\n",
        headers={"Content-Type": "text/csv"},
    )


async def test_import_takes_the_send_window_start_and_deadline_as_parameters(client) -> None:
    account = await new_account(client)
    deadline, start_at = hours_from_now(48), hours_from_now(1)
    r = await post_csv(
        client,
        accountId=account,
        sendWindowStart="10:00",
        sendWindowEnd="18:30",
        sendWindowDays="5,1,2,3,4",
        startAt=start_at.isoformat(),  # "+00:00", which httpx sends as %2B00:00
        deadline=shown(deadline),
    )
    assert r.status_code == 201, r.text
    got = (await client.get(f"/api/contracts/{r.json()['id']}")).json()
    assert got["sendWindow"] == {"start": "10:00", "end": "18:30", "days": [1, 2, 3, 4, 5]}
    assert (got["startAt"], got["deadline"]) == (shown(start_at), shown(deadline))

    r = await post_csv(client, accountId=account, sendWindowStart="22:00", sendWindowEnd="06:00")
    got = (await client.get(f"/api/contracts/{r.json()['id']}")).json()
    assert got["sendWindow"] == {"start": "22:00", "end": "06:00", "days": [1, 2, 3, 4, 5, 6, 7]}


async def test_import_refuses_a_bad_window_or_deadline_naming_the_parameter(client) -> None:
    account = await new_account(client)
    window = {"sendWindowStart": "09:00", "sendWindowEnd": "21:00"}
    for params, field in (
        ({**window, "sendWindowStart": "25:00"}, "sendWindowStart"),
        ({"sendWindowStart": "09:00"}, "sendWindowEnd"),
        ({"sendWindowEnd": "21:00", "sendWindowDays": "1"}, "sendWindowStart"),
        ({**window, "sendWindowDays": "0,8"}, "sendWindowDays"),
        ({**window, "sendWindowDays": ""}, "sendWindowDays"),
        ({"deadline": shown(hours_from_now(-1))}, "deadline"),
        ({"deadline": "2030-01-01T10:00:00"}, "deadline"),
    ):
        r = await post_csv(client, accountId=account, **params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["details"][0]["field"] == field, (params, r.text)
    assert await Contract.all().count() == 0
