"""Status codes under hostile or unlucky input: never a 500 or a 503 for what is the client's doing
or a race, and a 503 in JSON when the database really cannot take more."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest

from models import Account, Contract
from tests.conftest import API_KEY, BACKEND, _admin
from tests.helpers import new_account, recipients
from tests.servers import Process, free_port, wait_for_port


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/contracts/contract_%00x"),
        ("GET", "/api/contracts/contract%20x/stats"),
        ("DELETE", "/api/contracts/%00"),
        ("POST", "/api/contracts/contract_%00x/start"),
        ("GET", "/api/accounts/acc_%00x"),
        ("GET", "/api/accounts/acc_%3Cb%3E/qr"),
    ],
)
async def test_an_id_that_cannot_exist_is_a_404(client, method: str, path: str) -> None:
    r = await client.request(method, path)
    assert r.status_code == 404, r.text
    assert "not found" in r.json()["error"]


async def test_a_nul_byte_in_a_text_query_is_a_422_naming_it(client) -> None:
    r = await client.get("/api/contracts", params={"accountId": "acc_\x00"})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "accountId"
    account_id = await new_account(client, transport="sandbox")
    r = await client.post(
        "/api/contracts/import",
        params={"accountId": account_id, "name": "a\x00b"},
        content=b"phone,message\n79991234567,hi\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "name"


LONE = "\\ud800"  # as JSON writes a lone UTF-16 surrogate: valid JSON, no character


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/contracts", '{"accountId": "LONE", "recipients": RECIPIENTS}', "accountId"),
        ("/api/contracts", '{"accountIds": ["ACCOUNT", "LONE"], "recipients": RECIPIENTS}', "accountIds[1]"),
        ("/api/contracts", '{"accountId": "ACCOUNT", "name": "aLONE", "recipients": RECIPIENTS}', "name"),
        (
            "/api/contracts",
            '{"accountId": "ACCOUNT", "recipients": [{"phoneNumber": "79990000001", "message": "hi"}, '
            '{"phoneNumber": "79990000002", "message": "LONE"}]}',
            "recipients[1].message",
        ),
        (
            "/api/contracts",
            '{"accountId": "ACCOUNT", "recipients": [{"phoneNumber": "LONE", "message": "hi"}]}',
            "recipients[0].phoneNumber",
        ),
        ("/api/contracts", '{"accountId": "ACCOUNT", "LONE": 1, "recipients": RECIPIENTS}', "\\ud800"),
        ("/api/accounts", '{"name": "LONE"}', "name"),
        ("/api/accounts/ACCOUNT", '{"sandbox": {"LONE": 1}}', "sandbox.\\ud800"),
        ("/api/accounts/ACCOUNT/opt-outs", '{"phoneNumbers": ["79990000001"], "reason": "LONE"}', "reason"),
    ],
)
async def test_a_lone_surrogate_in_a_json_body_is_a_422_naming_its_field(
    client, path: str, body: str, field: str
) -> None:
    """json.loads lets "\\ud800" through as a str that no database takes: it was a 500."""
    account = await new_account(client)
    method = "PUT" if path == "/api/accounts/ACCOUNT" else "POST"
    text = body.replace("LONE", LONE).replace("ACCOUNT", account)
    text = text.replace("RECIPIENTS", '[{"phoneNumber": "79990000001", "message": "hi"}]')
    r = await client.request(
        method, path.replace("ACCOUNT", account), content=text, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == field
    assert await Contract.all().count() == 0
    assert await Account.all().count() == 1


async def test_a_surrogate_as_raw_bytes_in_a_json_body_is_a_422_naming_its_field(client) -> None:
    """json.loads reads bytes with "surrogatepass": the UTF-8 form of \\ud800 is let through too."""
    account = await new_account(client)
    body = b'{"accountId": "%s", "name": "\xed\xa0\x80", "recipients": []}' % account.encode()
    r = await client.post("/api/contracts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "name", r.text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-32-be"])
async def test_a_lone_surrogate_in_a_json_body_in_utf_16_or_32_is_a_422_naming_its_field(
    client, encoding: str
) -> None:
    """json.loads reads UTF-16 and UTF-32 too, where an escaped surrogate is spelled otherwise."""
    recipients = '[{"phoneNumber": "79990000001", "message": "hi"}]'
    body = '{"accountId": "\\ud800", "name": "Sale", "recipients": ' + recipients + "}"
    r = await client.post(
        "/api/contracts", content=body.encode(encoding), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "accountId", r.text
    assert await Contract.all().count() == 0


async def test_deleting_an_account_while_its_contract_is_being_created_is_a_conflict(client) -> None:
    account_id = await new_account(client, transport="sandbox")
    body = {"accountId": account_id, "name": "big", "recipients": recipients(20_000)}
    creating = asyncio.create_task(client.post("/api/contracts", json=body))
    deletes = []
    while not creating.done():
        await asyncio.sleep(0.05)
        deletes.append((await client.delete(f"/api/accounts/{account_id}")).status_code)
    created = (await creating).status_code
    assert set(deletes) <= {204, 404, 409}, deletes
    assert created in (201, 404, 409)
    if created == 201:  # the contract won: its account is still there
        assert await Account.exists(id=account_id)
        assert 409 in deletes
    else:  # the delete won: nothing half-made is left
        assert not await Contract.exists(account_id=account_id)


@pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL's connection limit")
async def test_too_many_database_clients_is_a_503_in_json(db, tmp_path) -> None:
    """A role allowed one connection: requests that need a second get 503 with Retry-After, in JSON."""
    role = f"wa_limited_{uuid.uuid4().hex[:8]}"
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    await _admin(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    await _admin(f'GRANT ALL ON DATABASE "{database}" TO {role}')
    url = os.environ["DATABASE_URL"].replace("postgres://postgres@", f"postgres://{role}@")
    schema_grant = f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://"))
    try:
        await conn.execute(schema_grant)
    finally:
        await conn.close()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "DATABASE_URL": url}
    web = Process(["main.py"], env, tmp_path / "web.log").start()
    try:
        wait_for_port(port, timeout=30)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": API_KEY}
        ) as http:
            answers = await asyncio.gather(*(http.get(f"/api/contracts?limit={i + 1}") for i in range(20)))
        statuses = {r.status_code for r in answers}
        assert statuses <= {200, 503}, statuses
        assert 503 in statuses
        refused = next(r for r in answers if r.status_code == 503)
        assert refused.headers["retry-after"] and "database" in refused.json()["error"]
    finally:
        web.stop()
        await _admin(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
        conn = await asyncpg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://"))
        try:
            await conn.execute(f"DROP OWNED BY {role}")
        finally:
            await conn.close()
        await _admin(f"DROP ROLE {role}")
