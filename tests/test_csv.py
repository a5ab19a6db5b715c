"""Contracts from CSV files (POST /api/contracts/import) and back out (GET /:id/export.csv)."""

from __future__ import annotations

import csv
import io

from models import Contract
from tests.helpers import new_account, new_contract

PEOPLE = (
    "\ufeffName,Phone,City\n"  # as Excel saves it, with a byte-order mark
    "Anna,+7 999 000-00-01,Omsk\n"
    "Boris,79990000002,Tver\n"
    "\n"
    "Anna again,7 (999) 000-00-01,Omsk\n"
)


async def import_csv(client, body: str | bytes, **params):
    data = body.encode() if isinstance(body, str) else body
    return await client.post(
        "/api/contracts/import", params=params, content=data, headers={"Content-Type": "text/csv"}
    )


async def exported(client, contract: str) -> list[dict[str, str]]:
    r = await client.get(f"/api/contracts/{contract}/export.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


async def test_a_spreadsheet_export_becomes_a_contract_with_templated_messages(client) -> None:
    account = await new_account(client)
    r = await import_csv(client, PEOPLE, accountId=account, name="Omsk", template="Hi {Name} from {City}!")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["totalCount"], body["status"]) == (2, "PENDING")
    assert body["duplicates"] == [{"index": 2, "phoneNumber": "79990000001", "duplicateOf": 0}]
    rows = await exported(client, body["id"])
    assert [(x["phoneNumber"], x["message"], x["status"]) for x in rows] == [
        ("79990000001", "Hi Anna from Omsk!", "PENDING"),
        ("79990000002", "Hi Boris from Tver!", "PENDING"),
    ]


async def test_named_columns_are_used_as_they_are(client) -> None:
    account = await new_account(client)
    text = 'who,tel,msg\nA,79990000001,"Line one\nline two, with ""quotes"""\n'
    r = await import_csv(client, text, accountId=account, phoneColumn="tel", messageColumn="msg")
    assert r.status_code == 201, r.text
    [row] = await exported(client, r.json()["id"])
    assert row["message"] == 'Line one\nline two, with "quotes"'


async def test_bad_rows_are_named_and_nothing_is_created(client) -> None:
    account = await new_account(client)
    cases = [
        (
            "phone,message\n79990000001,ok\n12,short\n79990000003,\n",
            {},
            ["rows[1].phoneNumber", "rows[2].message"],
        ),
        ("name,message\nA,hi\n", {}, ["phoneColumn"]),
        ("phone,name\n79990000001,A\n", {"template": "Hi {first_name}"}, ["template"]),
        ("phone,message\n79990000001,hi\n", {"messageColumn": "text"}, ["messageColumn"]),
        (b"phone,message\n79990000001,caf\xe9\n", {}, ["file"]),
        ("", {}, ["file"]),
        ("phone,message\n79990000001,a\x00b\n", {}, ["rows[0].message"]),
    ]
    for text, params, fields in cases:
        r = await import_csv(client, text, accountId=account, **params)
        assert r.status_code == 422, (text, r.text)
        assert [d["field"] for d in r.json()["details"]] == fields, (text, r.json())
    assert await Contract.all().count() == 0
    r = await import_csv(client, "phone,message\n79990000001,hi\n", accountId="acc_nope")
    assert r.status_code == 404


async def test_export_defuses_spreadsheet_formulas(client) -> None:
    account = await new_account(client)
    hostile = ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\tTab", "<script>alert(1)</script>", "fine"]
    body = {
        "accountId": account,
        "name": "hostile",
        "recipients": [{"phoneNumber": f"7999000000{i}", "message": m} for i, m in enumerate(hostile)],
    }
    contract = (await client.post("/api/contracts", json=body)).json()["id"]
    messages = [row["message"] for row in await exported(client, contract)]
    assert messages == ["'" + m for m in hostile[:5]] + hostile[5:]


async def test_export_is_keyed_and_404s_unknown_contracts(client) -> None:
    contract = await new_contract(client, await new_account(client), n=3)
    assert len(await exported(client, contract)) == 3
    assert (await client.get("/api/contracts/contract_nope/export.csv")).status_code == 404
    assert (await client.anon.get(f"/api/contracts/{contract}/export.csv")).status_code == 401
