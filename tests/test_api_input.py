"""The seed's REST contract without workers: creation, reading, auth, and every kind of bad input."""

from __future__ import annotations

import json

from models import Contract, Recipient
from tests.helpers import new_account, new_contract, phone, recipients


async def test_create_answers_the_seed_shape(client) -> None:
    account = await new_account(client)
    r = await client.post(
        "/api/contracts",
        json={"accountId": account, "name": "Mailing", "recipients": recipients(3)},
    )
    assert r.status_code == 201
    body = r.json()
    assert set(body) >= {"id", "totalCount", "status"}
    assert body["totalCount"] == 3
    assert body["status"] == "PENDING"
    assert body["id"].startswith("contract_")
    assert await Recipient.filter(contract_id=body["id"]).count() == 3


async def test_human_spellings_of_numbers_are_normalised_to_the_seed_format(client) -> None:
    account = await new_account(client)
    spellings = ["+7 999 123-45-67", "8-10-7 (999) 000-00-01", "00 44 20 7946 0958", "16502530000"]
    body = {"accountId": account, "recipients": [{"phoneNumber": p, "message": "hi"} for p in spellings[::2]]}
    body["recipients"].append({"phoneNumber": spellings[3], "message": "hi"})
    r = await client.post("/api/contracts", json=body)
    assert r.status_code == 201, r.text
    stored = (
        await Recipient.filter(contract_id=r.json()["id"])
        .order_by("position")
        .values_list("phone_number", flat=True)
    )
    assert stored == ["79991234567", "442079460958", "16502530000"]


RUSSIAN_WAY = ["8 (915) 915-03-12", "89992998816", "8 916 555-12-34"]


async def test_numbers_written_the_russian_way_are_read_as_russian_under_the_default_region(client) -> None:
    account = await new_account(client)
    rows = [{"phoneNumber": p, "message": "hi"} for p in [*RUSSIAN_WAY, phone(1), "+49 30 1234567"]]
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 201, r.text
    assert r.json()["totalCount"] == 5 and r.json()["rewrittenCount"] == 3
    stored = (
        await Recipient.filter(contract_id=r.json()["id"])
        .order_by("position")
        .values_list("phone_number", flat=True)
    )
    assert stored == ["79159150312", "79992998816", "79165551234", phone(1), "49301234567"]


async def test_without_a_default_region_a_number_needs_its_country_code(client, settings_env) -> None:
    settings_env(default_phone_region="")
    account = await new_account(client)
    rows = [{"phoneNumber": "8 (915) 915-03-12", "message": "hi"}, *recipients(1)]
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "recipients[0].phoneNumber"
    assert "no country has this code" in r.json()["details"][0]["message"]
    assert await Contract.all().count() == 0


async def test_a_bad_number_names_the_recipient_and_creates_nothing(client) -> None:
    account = await new_account(client)
    rows = recipients(5)
    rows[3]["phoneNumber"] = "12345"
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 422
    detail = r.json()["details"]
    assert detail == [{"field": "recipients[3].phoneNumber", "index": 3, "message": detail[0]["message"]}]
    assert "12345" in detail[0]["message"]
    assert await Contract.all().count() == 0
    assert await Recipient.all().count() == 0


async def test_every_bad_recipient_is_listed_with_its_index(client) -> None:
    account = await new_account(client)
    rows = recipients(6)
    rows[1]["phoneNumber"] = "not a number"
    rows[4]["message"] = "   "
    rows[5] = {"phoneNumber": phone(5)}
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["details"]}
    assert fields == {"recipients[5].message"}, "shape errors come first, before numbers are checked"
    del rows[5]
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 422
    assert [(d["index"], d["field"]) for d in r.json()["details"]] == [
        (1, "recipients[1].phoneNumber"),
        (4, "recipients[4].message"),
    ]


async def test_duplicates_are_reported_and_stored_once(client) -> None:
    account = await new_account(client)
    rows = [*recipients(3), {"phoneNumber": "+" + phone(1), "message": "again"}]
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 201
    body = r.json()
    assert body["totalCount"] == 3
    assert body["duplicates"] == [{"index": 3, "phoneNumber": phone(1), "duplicateOf": 1}]
    assert await Recipient.filter(contract_id=body["id"], phone_number=phone(1)).count() == 1


async def test_unknown_account_is_404_naming_the_field(client) -> None:
    r = await client.post("/api/contracts", json={"accountId": "acc_nope", "recipients": recipients(1)})
    assert r.status_code == 404
    assert r.json()["details"][0]["field"] == "accountId"


async def test_malformed_bodies_get_clear_4xx(client) -> None:
    account = await new_account(client)
    cases = {
        "empty body": (dict(content=b""), 422),
        "not JSON": (dict(content=b"{nope", headers={"content-type": "application/json"}), 400),
        "no recipients": (dict(json={"accountId": account, "recipients": []}), 422),
        "recipients not a list": (dict(json={"accountId": account, "recipients": "x"}), 422),
        "missing accountId": (dict(json={"recipients": recipients(1)}), 422),
        "NUL in a message": (
            dict(json={"accountId": account, "recipients": [{**recipients(1)[0], "message": "a\x00"}]}),
            422,
        ),
        "JSON nested 100,000 deep": (
            dict(
                content=b'{"accountId": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                headers={"content-type": "application/json"},
            ),
            400,
        ),
        "invalid UTF-8": (
            dict(content=b'{"accountId": "\xff"}', headers={"content-type": "application/json"}),
            400,
        ),
    }
    for name, (kwargs, status) in cases.items():
        r = await client.post("/api/contracts", **kwargs)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()["error"], name
    assert await Contract.all().count() == 0


async def test_oversized_bodies_and_contracts_are_refused(client) -> None:
    account = await new_account(client)
    huge = {"accountId": account, "recipients": recipients(1, text="x" * 5_000_000)}
    r = await client.post("/api/contracts", json=huge)
    assert r.status_code == 413
    too_many = {"accountId": account, "recipients": recipients(20_001, text="m")}
    r = await client.post("/api/contracts", json=too_many)
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "recipients"
    assert await Contract.all().count() == 0


async def test_a_json_body_over_its_bound_is_a_413_pointing_to_the_csv_import(client) -> None:
    """A JSON body is parsed whole (a million recipients took 959 MiB): past MAX_JSON_BODY_BYTES
    (2 MiB in tests, below MAX_BODY_BYTES) it is refused before it is read, and the same list goes
    through the CSV import, which reads it a row at a time."""
    account = await new_account(client)
    rows = recipients(19_000, text="m" * 100 + " {i}")
    body = {"accountId": account, "recipients": rows}
    r = await client.post("/api/contracts", json=body)
    assert r.status_code == 413, r.text
    assert r.json()["details"] == [{"field": "body", "message": "too large"}]
    assert "JSON" in r.json()["error"] and "/api/contracts/import" in r.json()["error"]
    assert await Contract.all().count() == 0
    as_csv = "phoneNumber,message\n" + "".join(f"{x['phoneNumber']},{x['message']}\n" for x in rows)
    assert 2 * 2**20 < len(as_csv.encode()) < 4 * 2**20
    r = await client.post(
        "/api/contracts/import",
        params={"accountId": account},
        content=as_csv.encode(),
        headers={"content-type": "text/csv"},
    )
    assert (r.status_code, r.json().get("totalCount")) == (201, 19_000), r.text[:300]
    content = json.dumps(body).encode()
    twice = [("content-type", "application/json"), ("content-type", "text/plain")]
    r = await client.post("/api/contracts", content=content, headers=twice)  # FastAPI reads the first
    assert r.status_code == 413, r.text


async def test_contract_and_account_names_follow_the_one_rule_for_names(client) -> None:
    """The API refused NUL only; a right-to-left override or a zero-width space made a name that
    reads otherwise than it is (services/names.py)."""
    account = await new_account(client)
    for name in ("Sale\u202e", "Sa\u200ble", "Sale\n2"):
        r = await client.post(
            "/api/contracts", json={"accountId": account, "name": name, "recipients": recipients(1)}
        )
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "name", r.text
        r = await client.post("/api/accounts", json={"name": name})
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "name", r.text
        r = await client.put(f"/api/accounts/{account}", json={"name": name})
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "name", r.text
    assert await Contract.all().count() == 0
    r = await client.post(
        "/api/contracts", json={"accountId": account, "name": " Sale ", "recipients": recipients(1)}
    )
    assert r.status_code == 201
    assert (await Contract.get(id=r.json()["id"])).name == "Sale"


async def test_every_api_route_needs_the_key_and_health_does_not(client) -> None:
    account = await new_account(client)
    contract = await new_contract(client, account)
    routes = [
        ("POST", "/api/contracts"),
        ("GET", "/api/contracts"),
        ("GET", f"/api/contracts/{contract}"),
        ("GET", f"/api/contracts/{contract}/stats"),
        ("POST", f"/api/contracts/{contract}/start"),
        ("POST", f"/api/contracts/{contract}/pause"),
        ("DELETE", f"/api/contracts/{contract}"),
        ("GET", "/api/queues/status"),
        ("POST", "/api/accounts"),
        ("GET", "/api/accounts"),
        ("GET", f"/api/accounts/{account}"),
        ("PUT", f"/api/accounts/{account}"),
        ("DELETE", f"/api/accounts/{account}"),
    ]
    for method, path in routes:
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
            r = await client.anon.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers)
    assert (await client.anon.get("/health")).status_code == 200
    assert await Contract.filter(id=contract).exists()


async def test_the_key_is_accepted_as_a_bearer_token(client) -> None:
    key = client.headers["X-API-Key"]
    r = await client.anon.get("/api/contracts", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200


async def test_reading_contracts_and_filters(client) -> None:
    a1, a2 = await new_account(client), await new_account(client)
    c1 = await new_contract(client, a1)
    c2 = await new_contract(client, a2)
    await client.post(f"/api/contracts/{c2}/pause")
    r = await client.get(f"/api/contracts/{c1}")
    assert r.status_code == 200
    assert r.json()["accountId"] == a1 and r.json()["status"] == "PENDING" and r.json()["totalCount"] == 3
    assert [c["id"] for c in (await client.get("/api/contracts", params={"accountId": a1})).json()] == [c1]
    pending = (await client.get("/api/contracts", params={"status": "PENDING"})).json()
    assert {c["id"] for c in pending} == {c1, c2}
    assert (await client.get("/api/contracts", params={"status": "NOPE"})).status_code == 422
    assert (await client.get("/api/contracts/contract_missing")).status_code == 404
    assert (await client.get("/api/contracts/contract_missing/stats")).status_code == 404


async def test_pausing_a_contract_that_never_started_is_a_conflict(client) -> None:
    account = await new_account(client)
    contract = await new_contract(client, account)
    r = await client.post(f"/api/contracts/{contract}/pause")
    assert r.status_code == 409
    assert "PENDING" in r.json()["error"]


async def test_stats_of_a_new_contract_have_the_seed_shape(client) -> None:
    account = await new_account(client)
    contract = await new_contract(client, account, n=4)
    body = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert body["status"] == "PENDING"
    assert (body["total"], body["success"], body["failed"], body["successRate"]) == (4, 0, 0, "0.00%")
    assert body["successPhoneNumbers"] == [] and body["failedPhoneNumbers"] == []


async def test_accounts_can_be_created_read_updated_and_deleted(client) -> None:
    r = await client.post("/api/accounts", json={"name": "Sales", "sandbox": {"latency_s": 0.1}})
    assert r.status_code == 201
    account = r.json()
    assert account["transport"] == "sandbox" and account["useLimits"] is True
    assert account["sandbox"]["latency_s"] == 0.1
    r = await client.put(f"/api/accounts/{account['id']}", json={"useLimits": False})
    assert r.status_code == 200 and r.json()["useLimits"] is False
    assert (await client.get(f"/api/accounts/{account['id']}")).json()["useLimits"] is False
    assert [a["id"] for a in (await client.get("/api/accounts")).json()] == [account["id"]]
    contract = await new_contract(client, account["id"])
    assert (await client.delete(f"/api/accounts/{account['id']}")).status_code == 409
    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 204
    assert (await client.delete(f"/api/accounts/{account['id']}")).status_code == 204
    assert (await client.get(f"/api/accounts/{account['id']}")).status_code == 404


async def test_bad_account_input_is_refused(client) -> None:
    r = await client.post("/api/accounts", json={"transport": "carrier-pigeon"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "transport"
    assert "one of sandbox, whatsapp" in r.json()["details"][0]["message"]
    r = await client.post("/api/accounts", json={"transport": "whatsapp", "sandbox": {}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox"
    r = await client.post("/api/accounts", json={"sandbox": {"fail_rate": 2}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox.fail_rate"
    account = await new_account(client)
    r = await client.put(f"/api/accounts/{account}", json={"useLimits": "maybe"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "useLimits"
    r = await client.put(f"/api/accounts/{account}", json={"sandbox": {"latency_s": -1}})
    assert r.status_code == 422
    r = await client.put(f"/api/accounts/{account}", json={"sandbox": {"invalid": ["7999\x00"]}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox.invalid.0"
    assert (await client.put("/api/accounts/acc_missing", json={"useLimits": False})).status_code == 404


async def test_deleting_removes_the_contract_and_its_recipients(client) -> None:
    account = await new_account(client)
    contract = await new_contract(client, account, n=5)
    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 204
    assert not await Contract.filter(id=contract).exists()
    assert await Recipient.filter(contract_id=contract).count() == 0
    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 404


async def test_a_large_contract_is_all_or_nothing_across_chunks(client) -> None:
    """Above 5,000 recipients numbers are checked in chunks while earlier ones are stored."""
    account = await new_account(client)
    rows = recipients(12_000, text="m")
    rows.append({"phoneNumber": phone(3), "message": "repeat from the first chunk"})
    rows.append({"phoneNumber": "12345", "message": "bad, in the last chunk"})
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 422
    assert r.json()["details"] == [
        {
            "field": "recipients[12001].phoneNumber",
            "index": 12001,
            "message": r.json()["details"][0]["message"],
        }
    ]
    assert await Contract.all().count() == 0
    assert await Recipient.all().count() == 0, "chunks stored before the bad one are rolled back"
    del rows[-1]
    r = await client.post("/api/contracts", json={"accountId": account, "recipients": rows})
    assert r.status_code == 201
    assert r.json()["totalCount"] == 12_000
    assert r.json()["duplicates"] == [{"index": 12_000, "phoneNumber": phone(3), "duplicateOf": 3}]
    positions = (
        await Recipient.filter(contract_id=r.json()["id"])
        .order_by("position")
        .values_list("position", "phone_number")
    )
    assert positions == [(i, phone(i)) for i in range(12_000)]


async def test_a_chunked_body_is_cut_off_at_the_limit(client) -> None:
    """A body sent without Content-Length is counted as it arrives: 413 once past the limit."""
    import httpx
    from fastapi import FastAPI

    import api.app

    app = FastAPI()
    api.app.install(app)
    small = api.app.BodyLimit(app, limit=1000, json_limit=1000)

    async def chunks():
        for _ in range(5):
            yield b"x" * 500

    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=client.headers) as c:
        for path, kind in [("/api/contracts", "application/json"), ("/api/contracts/import", "text/csv")]:
            headers = {"content-type": kind}
            r = await c.post(path, params={"accountId": "a"}, content=chunks(), headers=headers)
            assert r.status_code == 413, (path, r.text)
            assert r.json()["details"] == [{"field": "body", "message": "too large"}]
    assert await Contract.all().count() == 0


async def test_the_csv_import_does_not_hold_the_body_in_memory(client) -> None:
    """A 4 MB body of 300,000 rows (over the 20,000 limit) sent in 64 KiB chunks: it went through
    request.body() whole and was parsed whole before the 422; now it is spooled to a temporary file
    and reading stops at the limit, so the import allocates far less than the body's size."""
    import tracemalloc

    account = await new_account(client)
    chunk = b"79990000001,m\n" * 4681  # 65,534 bytes
    chunks_sent = 60

    async def body():
        yield b"phone,message\n"
        for _ in range(chunks_sent):
            yield chunk

    tracemalloc.start()
    try:
        r = await client.post(
            "/api/contracts/import",
            params={"accountId": account},
            content=body(),
            headers={"content-type": "text/csv"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == "rows"
    assert peak < len(chunk) * chunks_sent / 2, peak
    assert await Contract.all().count() == 0


async def test_opt_outs_read_numbers_written_the_russian_way_as_russian(client) -> None:
    account = await new_account(client)
    url = f"/api/accounts/{account}/opt-outs"
    r = await client.post(url, json={"phoneNumbers": [*RUSSIAN_WAY, "+7 915 915-03-12"]})
    assert r.json() == {"added": 3}, "the last is the first written another way"
    listed = (await client.get(url)).json()["items"]
    assert [o["phoneNumber"] for o in listed] == ["79159150312", "79992998816", "79165551234"]
    assert (await client.delete(f"{url}/8 (999) 299-88-16")).status_code == 204
    assert len((await client.get(url)).json()["items"]) == 2
