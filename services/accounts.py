"""Account operations: create, list, read, update (useLimits, sandbox behaviour), pair, delete."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from models import Account, AccountStatus, Contract, Transport
from services import phones, whatsapp
from services.errors import Conflict, InvalidInput, NotFound, Problem, validate
from services.queue import kick_account
from wa.sandbox import SandboxConfig


async def create_account(
    name: str,
    transport: Transport,
    use_limits: bool = True,
    sandbox: dict[str, Any] | None = None,
    resend_uncertain: bool = True,
) -> Account:
    """A sandbox account is connected at once; a whatsapp account starts PAIRING: a worker connects a
    new device and its QR codes appear on the account (GET /api/accounts/:id/qr)."""
    if transport == Transport.WHATSAPP:
        if sandbox is not None:
            raise InvalidInput(
                "sandbox settings apply to sandbox accounts only",
                [Problem("sandbox", "not allowed with transport 'whatsapp'")],
            )
        return await Account.create(
            name=name,
            transport=transport,
            use_limits=use_limits,
            resend_uncertain=resend_uncertain,
            status=AccountStatus.PAIRING,
        )
    config = validate(SandboxConfig, sandbox or {}, "sandbox").model_dump()
    return await Account.create(
        name=name,
        transport=transport,
        use_limits=use_limits,
        sandbox_config=config,
        resend_uncertain=resend_uncertain,
    )


async def get_account(account_id: str) -> Account:
    account = await Account.get_or_none(id=account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} not found")
    return account


async def list_accounts() -> list[Account]:
    return await Account.all().order_by("created_at", "id")


async def update_account(
    account_id: str,
    *,
    use_limits: bool | None = None,
    name: str | None = None,
    sandbox: dict[str, Any] | None = None,
    resend_uncertain: bool | None = None,
) -> Account:
    account = await get_account(account_id)
    values: dict[str, Any] = {}
    if use_limits is not None:
        values["use_limits"] = use_limits
    if resend_uncertain is not None:
        values["resend_uncertain"] = resend_uncertain
    if name is not None:
        values["name"] = name
    if sandbox is not None:
        if account.transport != Transport.SANDBOX:
            raise InvalidInput(
                "sandbox settings apply to sandbox accounts only",
                [Problem("sandbox", f"not allowed on a {account.transport!s} account")],
            )
        merged = {**account.sandbox_config, **sandbox}
        values["sandbox_config"] = validate(SandboxConfig, merged, "sandbox").model_dump()
    if values:
        await Account.filter(id=account_id).update(**values)
        await kick_account(account_id)
    return await get_account(account_id)


async def _whatsapp_account(account_id: str) -> Account:
    account = await get_account(account_id)
    if account.transport != Transport.WHATSAPP:
        raise Conflict(f"account {account_id!r} is a {account.transport!s} account; it needs no pairing")
    return account


async def pair_by_phone(account_id: str, phone: str) -> Account:
    """Ask for a code to type on the phone (WhatsApp → Linked devices → Link with phone number)
    instead of scanning the QR code; the code appears on the account's QR endpoint."""
    account = await _whatsapp_account(account_id)
    if account.status != AccountStatus.PAIRING:
        raise Conflict(f"account is {account.status}; pairing by phone is for accounts PAIRING")
    try:
        digits = phones.normalise(phone)
    except ValueError as exc:
        raise InvalidInput(f"phone: {exc}", [Problem("phone", str(exc))]) from None
    await Account.filter(id=account_id).update(pair_phone=digits, pair_code=None)
    return await get_account(account_id)


async def pair_again(account_id: str) -> Account:
    """Start pairing a new device for an account that was logged out or banned (or never paired)."""
    account = await _whatsapp_account(account_id)
    if account.status in (AccountStatus.CONNECTED, AccountStatus.DISCONNECTED):
        raise Conflict(f"account is {account.status}; it is paired already")
    await Account.filter(id=account_id).update(
        status=AccountStatus.PAIRING,
        status_reason=None,
        device_jid=None,
        qr_code=None,
        qr_at=None,
        pair_phone=None,
        pair_code=None,
    )
    return await get_account(account_id)


async def pair_sandbox_in_browser(account_id: str, base_url: str) -> Account:
    """Let a sandbox account pair the way a phone does: its QR code is a link that completes the
    simulated pairing when opened (the dashboard's Add account flow, tried without a phone)."""
    account = await get_account(account_id)
    if account.transport != Transport.SANDBOX:
        raise Conflict("only sandbox accounts pair by link")
    link = f"{base_url.rstrip('/')}/sandbox/pair/{account_id}/{secrets.token_urlsafe(16)}"
    await Account.filter(id=account_id).update(
        status=AccountStatus.PAIRING, qr_code=link, qr_at=datetime.now(UTC)
    )
    return await get_account(account_id)


async def complete_sandbox_pairing(account_id: str, token: str) -> Account:
    account = await Account.get_or_none(
        id=account_id, transport=Transport.SANDBOX, status=AccountStatus.PAIRING
    )
    if (
        account is None
        or not account.qr_code
        or not hmac.compare_digest(account.qr_code.rsplit("/", 1)[-1], token)
    ):
        raise NotFound("this pairing link is not valid (any more)")
    await Account.filter(id=account_id).update(
        status=AccountStatus.CONNECTED, qr_code=None, qr_at=None, phone="sandbox", push_name=account.name
    )
    await kick_account(account_id)
    return await get_account(account_id)


async def log_out(account_id: str) -> Account:
    """Unlink the device: the worker holding the session logs it out of WhatsApp (it leaves the phone's
    Linked devices) and lets it go; running contracts pause. Pair again to use the account."""
    account = await _whatsapp_account(account_id)
    if account.status in (AccountStatus.LOGGED_OUT, AccountStatus.BANNED):
        return account
    await whatsapp.account_lost(account_id, AccountStatus.LOGGED_OUT, "logged out from the dashboard or API")
    return await get_account(account_id)


async def delete_account(account_id: str) -> None:
    account = await get_account(account_id)
    if await Contract.exists(account_id=account_id):
        raise Conflict("the account still has contracts; delete them first")
    if account.transport == Transport.WHATSAPP and account.status in (
        AccountStatus.CONNECTED,
        AccountStatus.DISCONNECTED,
    ):
        raise Conflict("the account is still linked to a phone; log it out first (POST …/logout)")
    try:
        await Account.filter(id=account_id).delete()
    except IntegrityError:  # a contract for it was being created meanwhile
        raise Conflict("the account still has contracts; delete them first") from None
