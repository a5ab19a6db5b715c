"""WhatsApp accounts through neonize, up to its boundary: a fake of neonize's client raises neonize's
real event types through the product's handlers, and the worker's session host pairs, connects,
sends and records as it would with a real phone."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from neonize.aioze.events import LoggedOutEv, MessageEv, PairStatusEv, ReceiptEv, TemporaryBanEv
from neonize.proto.Neonize_pb2 import (
    JID,
    ConnectFailureReason,
    MessageInfo,
    MessageSource,
    Receipt,
    TemporaryBan,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from models import Account, AccountStatus, Contract, ContractStatus, KnownNumber, OptOut, Recipient
from models.enums import RecipientStatus
from settings import Settings, get_settings
from tasks.sessions import SessionHost
from tests.conftest import wait_until
from tests.fake_neonize import FakeClient
from tests.helpers import new_contract, phone

LINKED = "79990001122"
DEVICE = {"User": LINKED, "Server": "s.whatsapp.net", "Device": 7}


def fast_settings(**overrides: Any) -> Settings:
    """Human pacing kept in shape but shrunk to milliseconds, and the fake client."""
    values: dict[str, Any] = dict(
        whatsapp_client="tests.fake_neonize:FakeClient",
        gap_min_s=0.001,
        gap_max_s=0.002,
        delay_min_s=0.001,
        delay_max_s=0.002,
        break_min_s=0.001,
        break_max_s=0.002,
        typing_min_s=0.01,
        typing_max_s=0.02,
        per_minute=100_000,
        session_tick_s=0.05,
    )
    return Settings(**{**values, **overrides})


@pytest.fixture
async def host(db) -> AsyncIterator[SessionHost]:
    FakeClient.reset()
    h = SessionHost(fast_settings())
    yield h
    await h.close()


async def linked_account(client, **body: Any) -> str:
    r = await client.post("/api/accounts", json={"name": "shop", "transport": "whatsapp", **body})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    await Account.filter(id=account_id).update(
        device_jid=DEVICE, phone=LINKED, status=AccountStatus.CONNECTED
    )
    return account_id


async def running(host: SessionHost, predicate, what: str, timeout: float = 20) -> None:
    """Tick the host (as a worker does every second) until `predicate` holds."""

    async def ticked() -> bool:
        await host.tick()
        return await predicate()

    await wait_until(ticked, timeout=timeout, interval=0.05, what=what)


async def status_of(account_id: str) -> AccountStatus:
    return (await Account.get(id=account_id)).status


async def contract_done(contract_id: str) -> bool:
    return await Contract.filter(
        id=contract_id, status__in=[ContractStatus.COMPLETED, ContractStatus.FAILED]
    ).exists()


async def test_a_new_account_pairs_by_qr_code_and_keeps_the_device(client, host) -> None:
    r = await client.post("/api/accounts", json={"name": "shop", "transport": "whatsapp"})
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["phone"]) == ("PAIRING", None)
    account_id = r.json()["id"]
    assert (await client.get(f"/api/accounts/{account_id}/qr?format=png")).status_code == 404  # no code yet

    async def qr_shown() -> bool:
        return (await Account.get(id=account_id)).qr_code is not None

    await running(host, qr_shown, "the first QR code")
    fake = FakeClient.instances[account_id]
    assert fake.new_device and fake.jid is None, "an unpaired account must not resume another's device"
    state = (await client.get(f"/api/accounts/{account_id}/qr")).json()
    assert state["status"] == "PAIRING" and state["qr"] == f"2@fake-qr-{account_id}-1"
    await fake.show_qr("2@rotated")  # WhatsApp rotates the code about every 20 s
    assert (await client.get(f"/api/accounts/{account_id}/qr")).json()["qr"] == "2@rotated"
    png = await client.get(f"/api/accounts/{account_id}/qr?format=png")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = await client.get(f"/api/accounts/{account_id}/qr?format=svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content

    await fake.emit(PairStatusEv(ID=JID(**DEVICE), Status=PairStatusEv.SUCCESS, BusinessName="Shop"))
    account = (await client.get(f"/api/accounts/{account_id}")).json()
    assert (account["status"], account["phone"], account["pushName"]) == ("CONNECTED", LINKED, "Shop")
    assert (await client.get(f"/api/accounts/{account_id}/qr")).json()["qr"] is None
    assert (await Account.get(id=account_id)).device_jid == DEVICE


async def test_the_pairing_stream_reports_each_change_and_ends_once_paired(client, host) -> None:
    r = await client.post("/api/accounts", json={"transport": "whatsapp"})
    account_id = r.json()["id"]
    await Account.filter(id=account_id).update(qr_code="2@first")

    async def phone_scans_later() -> None:
        await asyncio.sleep(1.2)
        await Account.filter(id=account_id).update(status=AccountStatus.CONNECTED, qr_code=None, phone=LINKED)

    scan = asyncio.create_task(phone_scans_later())
    r = await client.get(f"/api/accounts/{account_id}/qr/stream")  # returns when the stream ends
    await scan
    assert r.headers["content-type"].startswith("text/event-stream")
    seen = [
        json.loads(line.removeprefix("data: ")) for line in r.text.splitlines() if line.startswith("data: ")
    ]
    assert [(s["status"], s["qr"]) for s in seen] == [("PAIRING", "2@first"), ("CONNECTED", None)]


async def test_pairing_by_phone_code(client, host) -> None:
    r = await client.post("/api/accounts", json={"transport": "whatsapp"})
    account_id = r.json()["id"]
    bad = await client.post(f"/api/accounts/{account_id}/pair-phone", json={"phone": "12"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "phone"
    r = await client.post(f"/api/accounts/{account_id}/pair-phone", json={"phone": "+7 999 000-11-22"})
    assert r.status_code == 202 and r.json()["pairPhone"] == LINKED

    async def code_issued() -> bool:
        return (await Account.get(id=account_id)).pair_code is not None

    await running(host, code_issued, "a pair code")
    assert (await client.get(f"/api/accounts/{account_id}/qr")).json()["pairCode"] == "FAKE-1122"

    await Account.filter(id=account_id).update(pair_phone="7999abc", pair_code=None)  # WhatsApp refuses it
    await running(host, code_issued, "the refusal")
    state = (await client.get(f"/api/accounts/{account_id}/qr")).json()
    assert state["pairCode"] is None
    assert state["statusReason"] == "pairing by phone failed: invalid phone number"


async def test_a_paired_account_reconnects_from_its_stored_device_without_a_qr_code(client, host) -> None:
    account_id = await linked_account(client)
    await Account.filter(id=account_id).update(status=AccountStatus.DISCONNECTED)

    async def connected() -> bool:
        return await status_of(account_id) == AccountStatus.CONNECTED

    await running(host, connected, "the session back")
    fake = FakeClient.instances[account_id]
    assert fake.jid == JID(**DEVICE) and not fake.new_device
    assert (await Account.get(id=account_id)).qr_code is None
    other = SessionHost(fast_settings())
    await other.tick()
    assert not other.held, "a session is connected in one worker at a time"


async def test_messages_are_sent_like_a_person_and_checked_once_for_whatsapp(client, host) -> None:
    account_id = await linked_account(client)
    FakeClient.not_on_whatsapp.add(phone(2))
    contract = await new_contract(client, account_id, n=3)
    assert (await client.post(f"/api/contracts/{contract}/start")).status_code == 200
    await running(host, lambda: contract_done(contract), "the contract sent")

    fake = FakeClient.instances[account_id]
    assert [p for p, _, _ in fake.sent] == [phone(0), phone(1)]
    states = [state.name for _, state in fake.presence]
    assert states == ["CHAT_PRESENCE_COMPOSING", "CHAT_PRESENCE_PAUSED"] * 2, "typing shown before each send"
    rows = (
        await Recipient.filter(contract_id=contract)
        .order_by("position")
        .values("status", "network_id", "error_message")
    )
    assert [r["status"] for r in rows] == ["SENT", "SENT", "SKIPPED"]
    assert [r["network_id"] for r in rows[:2]] == [m for _, _, m in fake.sent], "WhatsApp's ids kept"
    assert "not on WhatsApp" in rows[2]["error_message"]
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["success"], stats["skipped"], stats["failed"]) == (2, 1, 0)

    assert await KnownNumber.filter(phone_number=phone(2), on_whatsapp=False).exists()
    checks = len(fake.checked)
    again = await new_contract(client, account_id, n=3)
    await client.post(f"/api/contracts/{again}/start")
    await running(host, lambda: contract_done(again), "the second contract")
    assert len(fake.checked) == checks, "numbers already checked are not asked about again"


async def test_receipts_mark_delivered_and_read_once(client, host) -> None:
    account_id = await linked_account(client)
    contract = await new_contract(client, account_id, n=2)
    await client.post(f"/api/contracts/{contract}/start")
    await running(host, lambda: contract_done(contract), "the contract sent")
    fake = FakeClient.instances[account_id]
    first, second = (m for _, _, m in fake.sent)

    await fake.emit(ReceiptEv(MessageIDs=[first, second], Type=Receipt.DELIVERED, Timestamp=1_700_000_000))
    await fake.emit(ReceiptEv(MessageIDs=[first], Type=Receipt.READ, Timestamp=1_700_000_060))
    await fake.emit(ReceiptEv(MessageIDs=[first], Type=Receipt.READ, Timestamp=1_700_000_090))  # repeated
    stats = (await client.get(f"/api/contracts/{contract}/stats")).json()
    assert (stats["delivered"], stats["read"]) == (2, 1)
    page = (await client.get(f"/api/contracts/{contract}/recipients")).json()["items"]
    assert page[0]["readAt"].startswith("2023-11-14T22:14:20") and page[1]["readAt"] is None
    assert page[1]["deliveredAt"].startswith("2023-11-14T22:13:20")


def reply(sender: str, text: str, lid: bool = False) -> MessageEv:
    who = JID(User=sender, Server="s.whatsapp.net")
    source = (
        MessageSource(Sender=JID(User="1234567890", Server="lid"), SenderAlt=who)
        if lid
        else MessageSource(Sender=who)
    )
    return MessageEv(Info=MessageInfo(MessageSource=source, ID="IN1"), Message=WAMessage(conversation=text))


async def test_a_stop_reply_opts_the_number_out_of_later_contracts(client, host) -> None:
    account_id = await linked_account(client)
    await running(host, lambda: _held(host, account_id), "the session")
    fake = FakeClient.instances[account_id]
    await fake.emit(reply(phone(0), "  Stop! "))
    await fake.emit(reply(phone(1), "СТОП", lid=True))
    await fake.emit(reply(phone(2), "please stop sending me this"))  # not a stop word on its own
    opted = set(await OptOut.filter(account_id=account_id).values_list("phone_number", flat=True))
    assert opted == {phone(0), phone(1)}

    contract = await new_contract(client, account_id, n=3)
    await client.post(f"/api/contracts/{contract}/start")
    await running(host, lambda: contract_done(contract), "the contract")
    assert [p for p, _, _ in fake.sent] == [phone(2)]
    rows = (
        await Recipient.filter(contract_id=contract)
        .order_by("position")
        .values_list("status", "error_message")
    )
    assert rows[:2] == [(RecipientStatus.SKIPPED, "opted out")] * 2


async def test_staff_manage_the_opt_out_list(client, processes) -> None:
    account_id = (await client.post("/api/accounts", json={"name": "s", "useLimits": False})).json()["id"]
    url = f"/api/accounts/{account_id}/opt-outs"
    bad = await client.post(url, json={"phoneNumbers": [phone(1), "12"]})
    assert bad.status_code == 422 and bad.json()["details"] == [
        {"field": "phoneNumbers", "index": 1, "message": bad.json()["details"][0]["message"]}
    ]
    assert (await client.get(url)).json()["items"] == [], "nothing added from a refused request"
    r = await client.post(url, json={"phoneNumbers": [phone(1), "+" + phone(1), phone(2), phone(3)]})
    assert r.json() == {"added": 3}
    assert (await client.post(url, json={"phoneNumbers": [phone(2)]})).json() == {"added": 0}
    first = (await client.get(url, params={"limit": 2})).json()
    rest = (await client.get(url, params={"limit": 2, "after": first["next"]})).json()
    assert [o["phoneNumber"] for o in first["items"] + rest["items"]] == [phone(1), phone(2), phone(3)]
    assert rest["next"] is None and first["items"][0]["reason"] == "added by staff"
    assert (await client.delete(f"{url}/{phone(2)}")).status_code == 204
    assert (await client.delete(f"{url}/{phone(2)}")).status_code == 404

    contract = await new_contract(client, account_id, n=4)
    await client.post(f"/api/contracts/{contract}/start")
    processes("worker")
    await wait_until(lambda: contract_done(contract), what="the sandbox contract")
    rows = await Recipient.filter(contract_id=contract).order_by("position").values_list("status", flat=True)
    assert rows == [
        RecipientStatus.SENT,
        RecipientStatus.SKIPPED,
        RecipientStatus.SENT,
        RecipientStatus.SKIPPED,
    ]


async def _held(host: SessionHost, account_id: str) -> bool:
    return account_id in host.held


async def test_send_errors_are_retried_failed_or_rest_the_account(client, host, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_cooldown_s", 1.5)
    account_id = await linked_account(client)
    FakeClient.send_errors.update(
        {
            phone(0): ["websocket not connected"],  # transient: retried, then sent
            phone(1): ["invalid JID: bad user"],  # permanent
            phone(2): ["server returned error 429: rate-overlimit"],  # the account's own trouble
        }
    )
    contract = await new_contract(client, account_id, n=4)
    await client.post(f"/api/contracts/{contract}/start")

    async def resting() -> bool:
        return await Account.filter(id=account_id, paused_until__isnull=False).exists()

    await running(host, resting, "the account resting after the rate limit")
    account = (await client.get(f"/api/accounts/{account_id}")).json()
    assert account["status"] == "CONNECTED" and "paused by health rule" in account["statusReason"]
    assert "rate-limited by WhatsApp" in account["statusReason"]
    body = (await client.get(f"/api/contracts/{contract}")).json()
    assert body["status"] == "IN_PROGRESS" and body["pausedReason"] is None, "the contract keeps running"
    rows = await Recipient.filter(contract_id=contract).order_by("position").values("status", "attempts")
    assert rows[1] == {"status": RecipientStatus.FAILED, "attempts": 1}
    assert rows[2] == {"status": RecipientStatus.QUEUED, "attempts": 0}, "an account error costs no attempt"
    assert rows[3]["status"] == RecipientStatus.QUEUED

    await running(host, lambda: contract_done(contract), "the contract once the account rested")
    assert (await client.get(f"/api/accounts/{account_id}")).json()["statusReason"] is None
    rows = await Recipient.filter(contract_id=contract).order_by("position").values_list("status", "attempts")
    assert rows == [
        (RecipientStatus.SENT, 2),
        (RecipientStatus.FAILED, 1),
        (RecipientStatus.SENT, 1),
        (RecipientStatus.SENT, 1),
    ]


async def test_logging_out_from_the_phone_pauses_contracts_and_frees_the_session(client, host) -> None:
    account_id = await linked_account(client, useLimits=False)
    await running(host, lambda: _held(host, account_id), "the session")
    contract = await new_contract(client, account_id, n=2)
    await Contract.filter(id=contract).update(status=ContractStatus.QUEUED)
    fake = FakeClient.instances[account_id]
    await fake.emit(LoggedOutEv(OnConnect=False, Reason=ConnectFailureReason.LOGGED_OUT))

    account = (await client.get(f"/api/accounts/{account_id}")).json()
    assert (account["status"], account["statusReason"]) == ("LOGGED_OUT", "logged out")
    assert "logged out" in (await client.get(f"/api/contracts/{contract}")).json()["pausedReason"]
    await host.tick()
    assert account_id not in host.held and not fake.connected
    assert (await Account.get(id=account_id)).lease_owner is None
    refused = await client.post(f"/api/contracts/{contract}/start")
    assert refused.status_code == 409 and "LOGGED_OUT" in refused.json()["error"]

    r = await client.post(f"/api/accounts/{account_id}/pair")
    assert r.json()["status"] == "PAIRING"
    await running(host, lambda: _held(host, account_id), "pairing again")
    assert FakeClient.instances[account_id].new_device


async def test_a_session_that_cannot_connect_is_shown_and_retried_after_a_pause(client, host) -> None:
    account_id = await linked_account(client)
    FakeClient.connect_error = "dial tcp: lookup web.whatsapp.com: no such host"

    async def failed() -> bool:
        return await status_of(account_id) == AccountStatus.DISCONNECTED

    await running(host, failed, "the failure shown")
    reason = (await Account.get(id=account_id)).status_reason
    assert reason == "could not connect: dial tcp: lookup web.whatsapp.com: no such host"
    await host.tick()
    assert account_id not in host.held, "not tried again at once"
    assert (await Account.get(id=account_id)).lease_owner is None, "another worker may try meanwhile"

    FakeClient.connect_error = None
    host.retry_at.clear()  # the pause is over

    async def connected() -> bool:
        return await status_of(account_id) == AccountStatus.CONNECTED

    await running(host, connected, "connected on the next try")


async def test_logging_out_from_our_side_unlinks_the_device_and_only_then_allows_deleting(
    client, host
) -> None:
    account_id = await linked_account(client)
    await running(host, lambda: _held(host, account_id), "the session")
    refused = await client.delete(f"/api/accounts/{account_id}")
    assert refused.status_code == 409 and "log it out first" in refused.json()["error"]
    contract = await new_contract(client, account_id, n=2)
    await Contract.filter(id=contract).update(status=ContractStatus.QUEUED)

    r = await client.post(f"/api/accounts/{account_id}/logout")
    assert (r.json()["status"], r.json()["statusReason"]) == (
        "LOGGED_OUT",
        "logged out from the dashboard or API",
    )
    assert "logged out" in (await client.get(f"/api/contracts/{contract}")).json()["pausedReason"]
    await host.tick()
    fake = FakeClient.instances[account_id]
    assert fake.logged_out and account_id not in host.held
    assert (await Account.get(id=account_id)).lease_owner is None
    assert (await client.delete(f"/api/contracts/{contract}")).status_code == 204
    assert (await client.delete(f"/api/accounts/{account_id}")).status_code == 204


async def test_a_temporary_ban_is_shown_with_its_reason(client, host) -> None:
    account_id = await linked_account(client)
    await running(host, lambda: _held(host, account_id), "the session")
    ban = TemporaryBanEv(Code=TemporaryBan.SEND_TO_TOO_MANY_PEOPLE, Expire=1_900_000_000)
    await FakeClient.instances[account_id].emit(ban)
    account = (await client.get(f"/api/accounts/{account_id}")).json()
    assert account["status"] == "BANNED"
    assert "send to too many people" in account["statusReason"] and "2030-03-17" in account["statusReason"]


@pytest.mark.parametrize("resend", [True, False])
async def test_a_message_found_sending_after_a_crash_follows_resend_uncertain(client, host, resend) -> None:
    account_id = await linked_account(client, resendUncertain=resend)
    contract = await new_contract(client, account_id, n=3)
    await client.post(f"/api/contracts/{contract}/start")
    ids = await Recipient.filter(contract_id=contract).order_by("position").values_list("id", flat=True)
    # A worker died: one message had WhatsApp's id stored (it went out), one had not (unknown).
    await _sending(contract, ids[0], network_id="3EB0GONE")
    await _sending(contract, ids[1])
    await running(host, lambda: contract_done(contract), "the contract after the crash")

    rows = await Recipient.filter(contract_id=contract).order_by("position").values_list("status", flat=True)
    sent = [p for p, _, _ in FakeClient.instances[account_id].sent]
    assert rows[0] == RecipientStatus.SENT and phone(0) not in sent, "a message known to be out is not resent"
    assert rows[1] == (RecipientStatus.SENT if resend else RecipientStatus.FAILED)
    assert (phone(1) in sent) is resend
    assert (await client.get(f"/api/contracts/{contract}/stats")).json()["uncertain"] == 1


async def _sending(contract: str, recipient_id: int, network_id: str | None = None) -> None:
    """What a worker that died mid-send leaves: the row SENDING, taken by the contract's account."""
    from tortoise.transactions import in_transaction

    account_id = (await Contract.get(id=contract)).account_id
    async with in_transaction() as conn:
        await Recipient.change_status(
            contract,
            RecipientStatus.QUEUED,
            RecipientStatus.SENDING,
            conn,
            ids=[recipient_id],
            network_id=network_id,
            account_id=account_id,
        )
    await Contract.filter(id=contract).update(status=ContractStatus.IN_PROGRESS)


async def test_sandbox_settings_and_pairing_are_refused_where_they_do_not_apply(client) -> None:
    r = await client.post("/api/accounts", json={"transport": "whatsapp", "sandbox": {"latency_s": 1}})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "sandbox"
    sandbox = (await client.post("/api/accounts", json={"name": "s"})).json()["id"]
    assert (
        await client.post(f"/api/accounts/{sandbox}/pair-phone", json={"phone": LINKED})
    ).status_code == 409
    linked = await linked_account(client)
    assert (await client.post(f"/api/accounts/{linked}/pair")).status_code == 409


def test_a_worker_holds_more_sessions_than_the_default_thread_pool_has_threads() -> None:
    """neonize keeps one executor thread busy for each connected client's life (its Go `Neonize()`
    call); with the host's pool sized, other calls still run with 40 sessions held (the default
    pool has cores + 4 threads)."""

    async def forty_sessions_then_a_send() -> str:
        SessionHost.size_thread_pool(fast_settings(whatsapp_sessions_per_worker=40))
        release = threading.Event()
        sessions = [asyncio.ensure_future(asyncio.to_thread(release.wait)) for _ in range(40)]
        await asyncio.sleep(0.2)  # every session's call is now holding its thread
        try:
            async with asyncio.timeout(5):
                return await asyncio.to_thread(lambda: "sent")
        finally:
            release.set()
            await asyncio.gather(*sessions)

    with ThreadPoolExecutor(1) as own_loop:  # a loop of its own, leaving the suite's loop alone
        assert own_loop.submit(asyncio.run, forty_sessions_then_a_send()).result() == "sent"
