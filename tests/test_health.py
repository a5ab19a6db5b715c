"""Account health: the rules on an account's last hour (pure), how they slow down, pause and let go of
accounts, the signals they count, and, through the API and real workers, an account paused for its
failures that resumes after the cool-down and a pool account disconnected for a while."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from models import Account, AccountStatus, Contract, ContractStatus, Recipient, RecipientStatus, SendMinute
from services import account_health, pools, session_events
from services.account_health import HEALTHY, Figures, Verdict, pause_reason, slow_reason, verdict
from settings import Settings
from tests.conftest import wait_until
from tests.helpers import new_account, new_contract, phone
from tests.test_pools import assert_each_sent_once_by_one_account, pool_contract

SINCE = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_the_failure_share_slows_an_account_then_pauses_it_from_the_minimum_of_sends_on() -> None:
    s = Settings()
    assert verdict(Figures(SINCE, sent=10, failed=9), s) == HEALTHY, "19 sends are too few to judge"
    assert verdict(Figures(SINCE, sent=19, failed=1), s) == HEALTHY
    assert (
        slow_reason(Figures(SINCE, sent=18, failed=2), s)
        == "2 of 20 sends failed since 12:00 UTC (10% ≥ 10%)"
    )
    assert verdict(Figures(SINCE, sent=18, failed=2), s) == Verdict(2.0, None)
    paused = verdict(Figures(SINCE, sent=14, failed=6), s)
    assert paused == Verdict(2.0, "6 of 20 sends failed since 12:00 UTC (30% ≥ 30%)")


def test_transient_errors_slow_an_account_and_rate_limits_or_disconnects_pause_it() -> None:
    s = Settings()
    assert verdict(Figures(SINCE, sent=3, retried=4), s) == HEALTHY
    assert slow_reason(Figures(SINCE, retried=5), s) == "5 transient errors since 12:00 UTC (≥ 5)"
    assert pause_reason(Figures(SINCE, retried=50), s) is None, "transient errors only slow it down"
    assert verdict(Figures(SINCE, rate_limits=1, disconnects=2), s) == HEALTHY
    assert pause_reason(Figures(SINCE, rate_limits=2), s) == "2 rate limits since 12:00 UTC (≥ 2)"
    assert pause_reason(Figures(SINCE, disconnects=3), s) == "3 disconnects since 12:00 UTC (≥ 3)"
    off = Settings(health_slow_retried=0, health_pause_rate_limits=0, health_pause_disconnects=0)
    assert verdict(Figures(SINCE, retried=99, rate_limits=99, disconnects=99), off) == HEALTHY, "0: rule off"


async def sends(account_id: str, at: datetime, sent: int = 0, failed: int = 0, retried: int = 0) -> None:
    minute = at.replace(second=0, microsecond=0)
    await SendMinute.create(
        contract_id="contract_x",
        account_id=account_id,
        minute=minute,
        sent=sent,
        failed=failed,
        retried=retried,
    )


async def test_the_rules_slow_down_pause_and_let_go_of_accounts_by_their_last_hour(client) -> None:
    now = datetime.now(UTC)
    accounts = {
        name: (await Account.create(name=name, **values)).id
        for name, values in {
            "flaky": {},
            "failing": {},
            "long ago": {},
            "no limits": {"use_limits": False},
            "recovered": {"pace_factor": 2.0},
            "banned": {"status": AccountStatus.BANNED, "status_reason": "banned by WhatsApp"},
            "limited": {},
            "resting": {"paused_until": now + timedelta(hours=2), "status_reason": "rate-limited"},
        }.items()
    }
    for name in ("flaky", "no limits"):
        await sends(accounts[name], now - timedelta(minutes=10), sent=17, failed=3)
    await sends(accounts["failing"], now - timedelta(minutes=5), sent=12, failed=8)
    await sends(accounts["long ago"], now - timedelta(hours=2), failed=30)
    await sends(accounts["recovered"], now, sent=20)
    for name in ("banned", "resting"):
        await sends(accounts[name], now, sent=10, failed=10)
    for _ in range(2):
        await session_events.account_lost(accounts["limited"], AccountStatus.CONNECTED, "rate-limited (429)")

    assert await account_health.apply_rules(now) == 3
    got = {a.name: a for a in await Account.all()}
    slowed = {name for name, a in got.items() if a.pace_factor == 2.0}
    assert slowed == {"flaky", "failing", "banned", "resting"}, "not without limits; a recovered one let go"
    assert {a.pace_factor for name, a in got.items() if name not in slowed} == {1.0}
    paused = {name for name, a in got.items() if a.paused_until and a.paused_until > now}
    assert paused == {"failing", "limited", "resting"}
    assert re.fullmatch(
        r"paused by health rule until \d\d:\d\d UTC: 8 of 20 sends failed since \d\d:\d\d UTC \(40% ≥ 30%\)",
        got["failing"].status_reason,
    )
    assert "2 rate limits since" in got["limited"].status_reason
    assert got["resting"].paused_until >= now + timedelta(hours=2), "a longer rest is not cut short"
    assert got["banned"].status_reason == "banned by WhatsApp", "a lost account is not paused"

    later = now + timedelta(seconds=5)
    assert await account_health.apply_rules(later) == 0, "a pause starts the figures afresh"
    failing = await Account.get(id=accounts["failing"])
    assert (failing.pace_factor, failing.paused_until) == (1.0, got["failing"].paused_until)
    body = (await client.get(f"/api/accounts/{accounts['failing']}")).json()["health"]
    assert (body["sent"], body["failed"], body["pausedUntil"] is not None) == (0, 0, True)
    body = (await client.get(f"/api/accounts/{accounts['flaky']}")).json()["health"]
    assert {
        k: body[k] for k in ("sent", "failed", "retried", "rateLimits", "failureShare", "paceFactor")
    } == {
        "sent": 17,
        "failed": 3,
        "retried": 0,
        "rateLimits": 0,
        "failureShare": 0.15,
        "paceFactor": 2.0,
    }
    assert body["slowedBecause"].startswith("3 of 20 sends failed since")
    listed = {a["name"]: a["health"] for a in (await client.get("/api/accounts")).json()}
    assert {**listed["flaky"], "since": None} == {**body, "since": None}, "the list shows the same"
    assert listed["long ago"]["failed"] == 0


async def test_disconnects_and_rate_limits_are_counted_where_they_are_reported(client) -> None:
    account = await new_account(client)
    lost = AccountStatus.DISCONNECTED
    await session_events.set_status(account, lost, "connection lost; reconnecting")
    await session_events.set_status(account, lost, "could not connect: timeout")  # the same disconnect
    await session_events.connected(account, None)
    await session_events.set_status(account, lost, "connection lost; reconnecting")
    await session_events.connected(account, None)
    await session_events.account_lost(account, AccountStatus.CONNECTED, "rate-limited by WhatsApp (429)")
    await session_events.connected(account, None)  # a session reconnecting while the account rests
    body = (await client.get(f"/api/accounts/{account}")).json()
    assert (body["health"]["disconnects"], body["health"]["rateLimits"]) == (2, 1)
    assert body["status"] == "CONNECTED"
    assert body["statusReason"].startswith("paused by health rule until"), "it still says why it rests"


async def test_an_account_the_network_disconnects_keeps_its_rows_until_the_grace_is_over(client) -> None:
    cut, other = await new_account(client), await new_account(client)
    contract = await pool_contract(client, [cut, other], 4)
    await Recipient.filter(contract_id=contract).update(status=RecipientStatus.QUEUED, account_id=cut)
    why = "disconnected from WhatsApp (simulated)"
    assert await session_events.account_lost(cut, AccountStatus.DISCONNECTED, why) == 0
    body = (await client.get(f"/api/accounts/{cut}")).json()
    assert (body["status"], body["statusReason"]) == ("DISCONNECTED", why)
    assert (await Contract.get(id=contract)).status != ContractStatus.PAUSED, "the pool's other account sends"
    now = datetime.now(UTC)
    assert await pools.fail_over_disconnected(now, grace_s=600) == 0, "its rows stay its own for the grace"
    assert await pools.fail_over_disconnected(now + timedelta(seconds=601), grace_s=600) == 4


@contextlib.asynccontextmanager
async def rules_applied(every_s: float = 0.2) -> AsyncIterator[None]:
    """Apply the health rules while the block runs, as the workers' reconcile does every tick."""

    async def loop() -> None:
        while True:
            await account_health.apply_rules(datetime.now(UTC))
            await asyncio.sleep(every_s)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def completed(contract: str) -> bool:
    return await Contract.filter(id=contract, status=ContractStatus.COMPLETED).exists()


async def test_an_account_shows_what_it_sent_failed_and_retried(client, processes) -> None:
    processes("worker")
    sandbox = {"invalid": [phone(1)], "transient": [phone(2)]}
    account = await new_account(client, useLimits=False, sandbox=sandbox)
    contract = await new_contract(client, account, n=5)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    await wait_until(lambda: completed(contract), what="the contract sent")
    health = (await client.get(f"/api/accounts/{account}")).json()["health"]
    assert health == {
        **health,
        "sent": 4,
        "failed": 1,
        "retried": 1,
        "rateLimits": 0,
        "disconnects": 0,
        "failureShare": 0.2,
        "paceFactor": 1.0,
        "slowedBecause": None,
        "pausedUntil": None,
    }


HEALTH_ENV = {"HEALTH_MIN_SENDS": "10", "HEALTH_COOLDOWN_S": "4"}


async def test_an_account_failing_too_often_pauses_with_the_reason_and_resumes_after_the_cool_down(
    client, processes, settings_env
) -> None:
    settings_env(**HEALTH_ENV)
    processes("worker", TASK_BUDGET_S="0.5", **HEALTH_ENV)
    n = 200
    half = [phone(i) for i in range(0, n, 2)]  # every other number fails for good
    account = await new_account(client, useLimits=False, sandbox={"invalid": half, "latency_s": 0.02})
    contract = await new_contract(client, account, n=n)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200

    async def paused() -> bool:
        return (await client.get(f"/api/accounts/{account}")).json()["health"]["pausedUntil"] is not None

    async with rules_applied():
        await wait_until(paused, what="a health rule's pause")
        body = (await client.get(f"/api/accounts/{account}")).json()
        assert body["status"] == "CONNECTED"
        assert re.fullmatch(
            r"paused by health rule until \d\d:\d\d UTC: \d+ of \d+ sends failed since \d\d:\d\d UTC "
            r"\(\d+% ≥ 30%\)",
            body["statusReason"],
        ), body["statusReason"]
        until = datetime.fromisoformat(body["health"]["pausedUntil"])
        waiting = (await client.get(f"/api/contracts/{contract}")).json()["waitingReason"]
        assert waiting.startswith("paused by health rule until"), waiting
        await wait_until(lambda: completed(contract), timeout=60, what="the contract sent after the pause")
    times = await Recipient.filter(contract_id=contract, sent_at__isnull=False).values_list(
        "sent_at", flat=True
    )
    assert any(t > until for t in times), "it resumed by itself after the cool-down"
    resting = [t for t in times if until - timedelta(seconds=2) <= t < until]
    assert not resting, f"nothing was sent while it rested: {resting}"
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["success"], stats["failed"]) == (n // 2, n // 2)


async def test_a_pool_account_disconnected_for_a_while_hands_its_rows_on_after_the_grace_and_comes_back(
    client, processes
) -> None:
    processes("worker", FAILOVER_GRACE_S="2")
    fault = {"disconnected_after": 10, "disconnected_for_s": 8}
    flaky = await new_account(client, name="flaky", useLimits=False, sandbox=fault)
    steady = await new_account(client, name="steady", useLimits=False, sandbox={"latency_s": 0.005})
    contract = await pool_contract(client, [flaky, steady], 300)

    async def status_is(status: str) -> bool:
        return (await client.get(f"/api/accounts/{flaky}")).json()["status"] == status

    async with rules_applied():
        await wait_until(lambda: status_is("DISCONNECTED"), what="the simulated disconnect")
        held = await Recipient.filter(
            contract_id=contract, account_id=flaky, status=RecipientStatus.QUEUED
        ).values_list("id", flat=True)
        assert held, "its unsent recipients stay its own during the grace"
        body = (await client.get(f"/api/accounts/{flaky}")).json()
        assert body["statusReason"] == "disconnected from WhatsApp (simulated)"
        await wait_until(lambda: completed(contract), what="the pool's other account sent the rest")
        sent = await assert_each_sent_once_by_one_account(client, contract, 300)
        assert sent == {flaky: 10, steady: 290}
        assert set(await Recipient.filter(id__in=held).values_list("account_id", flat=True)) == {steady}
        await wait_until(
            lambda: status_is("CONNECTED"), timeout=20, what="connected again after the disconnect"
        )
    body = (await client.get(f"/api/accounts/{flaky}")).json()
    assert (body["statusReason"], body["health"]["disconnects"]) == (None, 1)
