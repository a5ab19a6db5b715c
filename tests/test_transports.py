"""A transport is one module with one registry entry: a test-only transport (tests/echo_transport.py,
plugged in by TRANSPORT_PLUGINS) sends a contract through the API and a real worker."""

from __future__ import annotations

import json
import os
from pathlib import Path

from models import Recipient
from tests.conftest import wait_until
from tests.helpers import new_account, new_contract, phone
from wa import registry


def echo_deliveries(account_id: str) -> list[dict]:
    log = Path(os.environ["ECHO_TRANSPORT_LOG"])
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [d for d in map(json.loads, lines) if d["account"] == account_id]


def test_the_registry_lists_the_built_in_transports_then_the_plugged_in_one() -> None:
    assert [spec.name for spec in registry.transports()] == ["sandbox", "whatsapp", "echo"]
    assert registry.names(task_driven=True) == ["sandbox", "echo"]
    assert registry.names(task_driven=False) == ["whatsapp"]


async def test_a_plugged_in_transport_sends_a_contract_through_the_api_and_a_worker(
    client, processes
) -> None:
    processes("worker")
    account = await new_account(client, transport="echo", useLimits=False)
    shown = (await client.get(f"/api/accounts/{account}")).json()
    assert (shown["transport"], shown["status"], shown["sandbox"]) == ("echo", "CONNECTED", None)
    contract = await new_contract(client, account, n=30)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def completed() -> bool:
        return (await client.get(f"/api/contracts/{contract}")).json()["status"] == "COMPLETED"

    await wait_until(completed, what="the echo contract completed")
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["success"], stats["failed"]) == (30, 0)
    sent = echo_deliveries(account)
    assert sorted(d["phone"] for d in sent) == [phone(i) for i in range(30)], "each recipient once"
    # It picks its own ids, so the driver stored each one (what settles a crash mid-send).
    stored = await Recipient.filter(contract_id=contract).values_list("network_id", flat=True)
    assert sorted(stored) == sorted(d["id"] for d in sent)


async def test_a_transport_without_settings_refuses_them(client) -> None:
    r = await client.post("/api/accounts", json={"transport": "echo", "sandbox": {"latency_s": 1}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox"
    account = await new_account(client, transport="echo")
    r = await client.put(f"/api/accounts/{account}", json={"sandbox": {"latency_s": 1}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox"


async def test_only_accounts_that_pair_a_device_pair_again_or_log_out(client) -> None:
    account = await new_account(client, transport="echo")
    for action in ("pair", "logout"):
        r = await client.post(f"/api/accounts/{account}/{action}")
        assert r.status_code == 409, (action, r.text)
