"""GET /api/contracts/:id/recipients: a contract's recipients one page at a time, by keyset cursor."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import Recipient, RecipientStatus
from tests.helpers import new_account, new_contract, phone


async def pages(client, contract: str, **params) -> list[list[dict]]:
    """Every page, following `next` until it is null."""
    out, after = [], None
    while True:
        r = await client.get(
            f"/api/contracts/{contract}/recipients", params={**params, **({"after": after} if after else {})}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(body["items"])
        after = body["next"]
        if after is None:
            return out


async def test_pages_cover_every_recipient_once_in_order(client) -> None:
    contract = await new_contract(client, await new_account(client), n=250)
    got = await pages(client, contract, limit=100)
    assert [len(p) for p in got] == [100, 100, 50]
    items = [item for page in got for item in page]
    assert [i["position"] for i in items] == list(range(250))
    assert [i["phoneNumber"] for i in items] == [phone(i) for i in range(250)]
    assert items[7] == {
        "position": 7,
        "phoneNumber": phone(7),
        "message": "Hi 7!",
        "status": "PENDING",
        "attempts": 0,
        "errorMessage": None,
        "sentAt": None,
        "deliveredAt": None,
        "readAt": None,
    }


async def test_a_status_filter_pages_only_that_status(client) -> None:
    contract = await new_contract(client, await new_account(client), n=30)
    ids = await Recipient.filter(contract_id=contract, position__lt=12).values_list("id", flat=True)
    async with in_transaction() as conn:
        await Recipient.change_status(
            contract, RecipientStatus.PENDING, RecipientStatus.FAILED, conn, ids=ids, error_message="Nope"
        )
    failed = [i for p in await pages(client, contract, status="FAILED", limit=5) for i in p]
    assert [i["position"] for i in failed] == list(range(12))
    assert {i["errorMessage"] for i in failed} == {"Nope"}
    assert len([i for p in await pages(client, contract, status="PENDING") for i in p]) == 18
    assert await pages(client, contract, status="SENT") == [[]]


async def test_bad_paging_parameters_are_422_and_unknown_contracts_404(client) -> None:
    contract = await new_contract(client, await new_account(client), n=3)
    for params, field in [
        ({"after": "abc"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"status": "DONE"}, "status"),
    ]:
        r = await client.get(f"/api/contracts/{contract}/recipients", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["details"][0]["field"] == field
    assert (await client.get("/api/contracts/nope/recipients")).status_code == 404
    assert (await client.anon.get(f"/api/contracts/{contract}/recipients")).status_code == 401
