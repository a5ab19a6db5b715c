"""The core durability test, through the whatsapp adapter: real worker processes hold the sessions
(with the fake neonize client) and are kill -9'd while four accounts send.

WhatsApp cannot take our message id, so a crash between a send and storing WhatsApp's id leaves one
message per account whose fate is unknown; with resendUncertain it is sent again. So: nothing is
lost, every message recorded SENT went out under the id we kept, and numbers got a second copy only
as often as the stats count uncertain sends.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from models import Account, AccountStatus, Contract, ContractStatus, Recipient, RecipientStatus
from services import contracts
from tests.conftest import wait_until
from tests.helpers import kill_repeatedly, recipients

ACCOUNTS = 4
PER_ACCOUNT = 400


async def test_kill_9_of_workers_holding_whatsapp_sessions(client, processes, tmp_path: Path) -> None:
    log = tmp_path / "whatsapp-sent.jsonl"
    env = {
        "WHATSAPP_CLIENT": "tests.fake_neonize:FakeClient",
        "FAKE_WHATSAPP_LOG": str(log),
        "FAKE_WHATSAPP_LATENCY_S": "0.004",
        "SESSION_TICK_S": "0.2",
    }
    workers = [processes("worker", **env), processes("worker", **env)]
    contract_ids = []
    for a in range(ACCOUNTS):
        r = await client.post(
            "/api/accounts", json={"name": f"wa{a}", "transport": "whatsapp", "useLimits": False}
        )
        account_id = r.json()["id"]
        device = {"User": f"7999000{a:04d}", "Server": "s.whatsapp.net", "Device": 1}
        await Account.filter(id=account_id).update(device_jid=device, status=AccountStatus.CONNECTED)
        body = {"accountId": account_id, "recipients": recipients(PER_ACCOUNT, start=a * PER_ACCOUNT)}
        contract_ids.append((await client.post("/api/contracts", json=body)).json()["id"])
    for contract_id in contract_ids:
        assert (await client.post(f"/api/contracts/{contract_id}/start")).status_code == 200

    async def all_done() -> bool:
        return await Contract.filter(id__in=contract_ids, status=ContractStatus.COMPLETED).count() == ACCOUNTS

    kills = await kill_repeatedly(workers, all_done, seed=5, pause_s=(1.5, 3), most=6)
    assert kills >= 3, "the run must last long enough to be interrupted several times"
    await wait_until(all_done, timeout=180, what="every contract completed after the kills")

    sent = [json.loads(line) for line in log.read_text().splitlines()]
    copies = Counter(s["phone"] for s in sent)
    rows = await Recipient.filter(contract_id__in=contract_ids).values("phone_number", "status", "network_id")
    assert len(rows) == ACCOUNTS * PER_ACCOUNT
    assert {r["status"] for r in rows} == {RecipientStatus.SENT}, "nothing lost"
    assert set(copies) == {r["phone_number"] for r in rows}, "every number got its message"
    sent_ids = {s["id"] for s in sent}
    kept = {r["network_id"] for r in rows if r["network_id"]}
    assert kept <= sent_ids, "a kept id is the id of a message that really went out"
    uncertain = 0
    for contract_id in contract_ids:
        uncertain += (await client.get(f"/api/contracts/{contract_id}/stats")).json()["uncertain"]
        assert await contracts.status_counts(contract_id) == await contracts.recount(contract_id)
    extra = sum(n - 1 for n in copies.values())
    assert extra <= uncertain <= kills * ACCOUNTS, (
        "second copies only where the stats say a send was uncertain"
    )
    print(f"kills={kills} uncertain={uncertain} second copies={extra}")
