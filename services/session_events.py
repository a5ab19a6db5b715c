"""What a session tells us, written to the database: pairing and connection state, receipts, replies.
A session (wa/whatsapp/session.py) reports to this module, its `SessionEvents` (wa/transport.py); the
driver calls `account_lost` too; STOP replies go to services/optouts.py. Rate limits and disconnects
are counted for the health rules (services/account_signals.py) here, where they are reported."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import Account, AccountStatus, Contract, ContractStatus, Recipient, Signal
from models.enums import ACTIVE_CONTRACT
from services import account_signals, optouts, pools
from settings import get_settings
from texts import say

log = logging.getLogger(__name__)


async def set_status(
    account_id: str, status: AccountStatus, reason: str | None = None, **values: Any
) -> None:
    """Record the account's status and why; a change to DISCONNECTED counts as a disconnect. Without a
    reason (connected again) an account a health rule rests keeps saying why it rests."""
    now = datetime.now(UTC)
    changed = await Account.filter(id=account_id).exclude(status=status).update(status_since=now)
    account = Account.filter(id=account_id)
    if reason is None:
        await account.filter(paused_until__gt=now).update(status=status, **values)
        account = account.filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
    await account.update(status=status, status_reason=reason, **values)
    if changed and status == AccountStatus.DISCONNECTED:
        await account_signals.record(account_id, Signal.DISCONNECT, now)


async def qr_rotated(account_id: str, code: str) -> None:
    await Account.filter(id=account_id).update(
        status=AccountStatus.PAIRING, qr_code=code, qr_at=datetime.now(UTC), status_reason=None
    )


async def pair_code_issued(account_id: str, code: str) -> None:
    await Account.filter(id=account_id).update(pair_code=code, status_reason=None)


async def paired(account_id: str, device_jid: dict[str, Any], business_name: str) -> None:
    """The phone scanned the QR code (or entered the pair code): remember the device to resume."""
    await set_status(
        account_id,
        AccountStatus.CONNECTED,
        device_jid=device_jid,
        phone=device_jid.get("User"),
        push_name=business_name or None,
        qr_code=None,
        qr_at=None,
        pair_phone=None,
        pair_code=None,
    )


async def connected(account_id: str, push_name: str | None) -> None:
    values: dict[str, Any] = {"qr_code": None, "pair_code": None}
    if push_name:
        values["push_name"] = push_name
    await set_status(account_id, AccountStatus.CONNECTED, **values)


async def account_lost(account_id: str, status: AccountStatus, reason: str) -> int:
    """The account cannot send. Logged out or banned: record why on the account, give its unsent
    recipients to the other accounts of their pools, and pause the running contracts it leaves
    without any account that could send (so they do not burn retries). Disconnected: it says so and
    keeps its recipients for FAILOVER_GRACE_S (pools.fail_over_disconnected), until it is connected
    again (account_health.reconnect). Rate-limited (the status stays CONNECTED): it rests for
    rate_limit_cooldown_s. Returns how many contracts paused."""
    if status == AccountStatus.DISCONNECTED:
        await set_status(account_id, status, reason)
        return 0
    if status not in pools.LOST:
        await account_signals.record(account_id, Signal.RATE_LIMIT, datetime.now(UTC))
        await rest(account_id, reason, get_settings().rate_limit_cooldown_s)
        return 0
    values: dict[str, Any] = {}
    if status == AccountStatus.LOGGED_OUT:
        values["device_jid"] = None  # the stored device is dead; pairing again makes a new one
    await set_status(account_id, status, reason, **values)
    moved = await pools.release(account_id)
    if moved:
        log.info("%s is %s: %d unsent recipients go to the rest of their pools", account_id, status, moved)
    stranded = await pools.stranded(await pools.running_contracts_of(account_id))
    if status == AccountStatus.BANNED:
        lost = say("account banned: {reason}", reason=reason)
    else:
        lost = say("account logged out: {reason}", reason=reason)
    return await pause_contracts(stranded, lost)


async def rest(account_id: str, reason: str, seconds: float, **values: Any) -> None:
    """A health rule's pause (or the network's rate limit): the account sends nothing for `seconds`,
    then resumes by itself (the driver clears the pause); its contracts keep running, its unsent
    recipients on the pool's other accounts."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    why = say("paused by health rule until {until:time}: {reason}", until=until, reason=reason)
    await Account.filter(id=account_id).update(
        paused_until=until, next_due_at=until, status_reason=why, **values
    )
    await pools.release(account_id)


async def pause_contracts(contract_ids: list[str], reason: str) -> int:
    return await Contract.filter(id__in=contract_ids, status__in=ACTIVE_CONTRACT).update(
        status=ContractStatus.PAUSED, paused_reason=reason, updated_at=datetime.now(UTC)
    )


async def receipt(network_ids: list[str], kind: str, at: datetime) -> int:
    """A delivery or read receipt for messages we sent: stamp each recipient once and count it on its
    contract in the same transaction. `kind` is "delivered" or "read" (read implies delivered)."""
    rows = await Recipient.filter(network_id__in=network_ids).values_list("id", "contract_id")
    by_contract: dict[str, list[int]] = defaultdict(list)
    for rid, contract_id in rows:
        by_contract[contract_id].append(rid)
    stamped = 0
    stamps = ["delivered"] if kind == "delivered" else ["delivered", "read"]
    for contract_id, ids in by_contract.items():
        async with in_transaction() as conn:
            for stamp in stamps:
                n = await (
                    Recipient.filter(id__in=ids, **{f"{stamp}_at__isnull": True})
                    .using_db(conn)
                    .update(**{f"{stamp}_at": at})
                )
                if n:
                    counter = f"{stamp}_count"
                    await Contract.filter(id=contract_id).using_db(conn).update(**{counter: F(counter) + n})
                stamped += n if stamp == kind else 0
    return stamped


async def replied(account_id: str, sender_phone: str, text: str) -> None:
    """A reply to the account: a stop word puts the sender on the account's opt-out list."""
    if optouts.is_stop_word(text, get_settings().stop_words):
        await optouts.opt_out(account_id, sender_phone, f"replied {text.strip()!r}")
