"""Retried creates: the same Idempotency-Key and body give the same contract back, never a second."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta

from models import Contract, IdempotencyKey
from services import idempotency
from tests.helpers import new_account, recipients


async def test_identical_concurrent_creates_with_one_key_make_one_contract(client) -> None:
    account = await new_account(client)
    body = {"accountId": account, "name": "retried", "recipients": recipients(500)}
    headers = {"Idempotency-Key": "order-42"}
    answers = await asyncio.gather(
        *(client.post("/api/contracts", json=body, headers=headers) for _ in range(20))
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert await Contract.all().count() == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 19
    again = await client.post("/api/contracts", json=body, headers=headers)  # a later retry
    assert again.status_code == 201 and again.json() == answers[0].json()


async def test_the_same_key_with_another_body_is_a_conflict_and_creates_nothing(client) -> None:
    account = await new_account(client)
    body = {"accountId": account, "name": "first", "recipients": recipients(3)}
    headers = {"Idempotency-Key": "k1"}
    assert (await client.post("/api/contracts", json=body, headers=headers)).status_code == 201
    r = await client.post("/api/contracts", json={**body, "name": "second"}, headers=headers)
    assert r.status_code == 409
    assert r.json()["details"][0]["field"] == "Idempotency-Key"
    assert await Contract.all().count() == 1


async def test_a_refused_create_frees_its_key_and_creates_without_a_key_stay_independent(client) -> None:
    account = await new_account(client)
    bad = {"accountId": account, "recipients": [{"phoneNumber": "12", "message": "hi"}]}
    headers = {"Idempotency-Key": "k2"}
    assert (await client.post("/api/contracts", json=bad, headers=headers)).status_code == 422
    good = {"accountId": account, "recipients": recipients(2)}
    fixed = await client.post("/api/contracts", json=good, headers=headers)  # the corrected retry
    assert fixed.status_code == 201
    assert (await client.post("/api/contracts", json=bad, headers=headers)).status_code == 409  # key now used
    answers = await asyncio.gather(*(client.post("/api/contracts", json=good) for _ in range(3)))
    assert len({r.json()["id"] for r in answers}) == 3


async def test_csv_imports_take_the_key_too_and_it_is_documented(client) -> None:
    account = await new_account(client)
    csv = b"phone,message\n79991234567,hi\n79991234568,hello\n"

    def post(**params: str):
        return client.post(
            "/api/contracts/import",
            params={"accountId": account, **params},
            content=csv,
            headers={"content-type": "text/csv", "Idempotency-Key": "import-1"},
        )

    answers = await asyncio.gather(*(post() for _ in range(5)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert (await post(name="other")).status_code == 409  # same key, other parameters
    schema = (await client.get("/openapi.json")).json()
    for path in ("/api/contracts", "/api/contracts/import"):
        names = [p["name"] for p in schema["paths"][path]["post"]["parameters"]]
        assert "Idempotency-Key" in names, path


async def test_a_key_whose_first_request_died_unanswered_is_taken_over(client) -> None:
    account = await new_account(client)
    body = {"accountId": account, "name": "after a crash", "recipients": recipients(2)}
    headers = {"Idempotency-Key": "crashed"}
    fingerprint = hashlib.sha256(hashlib.sha256(json.dumps(body).encode()).digest()).hexdigest()
    await IdempotencyKey.create(key="/api/contracts crashed", request_hash=fingerprint)
    await IdempotencyKey.filter(key="/api/contracts crashed").update(
        created_at=datetime.now(UTC) - timedelta(seconds=idempotency.WAIT_S + 1)
    )
    r = await client.post(
        "/api/contracts", content=json.dumps(body), headers={**headers, "content-type": "application/json"}
    )
    assert r.status_code == 201
    assert await Contract.all().count() == 1
