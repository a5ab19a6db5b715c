"""Account operations: create, list, read, update (useLimits, the transport's settings), pair, delete.

What differs between transports (settings, how an account pairs) is asked of its entry in
wa/registry.py; nothing here names a transport."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from models import Account, AccountStatus, PoolMember
from services import names, phones, session_events
from services.errors import Conflict, InvalidInput, NotFound, Problem, validate
from services.pacing import daily_cap
from services.queue import kick_account
from settings import get_settings
from texts import say
from wa import registry
from wa.transport import Pairing, TransportSpec

NAME_LENGTH = 200
# The API's field for a transport's own settings (only the sandbox has any).
SETTINGS_FIELD = "sandbox"
LINKED = (AccountStatus.CONNECTED, AccountStatus.DISCONNECTED)


def transport_of(name: str) -> TransportSpec:
    try:
        return registry.transport(name)
    except registry.UnknownTransport as exc:
        raise InvalidInput(str(exc), [Problem("transport", str(exc))]) from None


def installed(account: Account) -> TransportSpec | None:
    """The account's transport, or None when it is no longer installed (a plug-in taken out of
    TRANSPORT_PLUGINS): such an account is listed and can be deleted, nothing more."""
    try:
        return registry.transport(account.transport)
    except registry.UnknownTransport:
        return None


def _settings(spec: TransportSpec, given: dict[str, Any]) -> dict[str, Any]:
    if spec.config is None:
        why = f"not allowed with transport {spec.name!r}"
        raise InvalidInput(
            f"{spec.name} accounts take no {SETTINGS_FIELD} settings", [Problem(SETTINGS_FIELD, why)]
        )
    return validate(spec.config, given, SETTINGS_FIELD).model_dump()


async def create_account(
    name: str,
    transport: str,
    use_limits: bool = True,
    settings: dict[str, Any] | None = None,
    resend_uncertain: bool = True,
    warmup_plan: list[int] | None = None,
) -> Account:
    """An account of a transport that pairs a device (whatsapp) starts PAIRING: a worker connects a
    new device and its QR codes appear on the account (GET /api/accounts/:id/qr). Others are
    connected at once."""
    spec = transport_of(transport)
    config = _settings(spec, settings or {}) if settings is not None or spec.config else {}
    return await Account.create(
        name=_named(name, least=0),
        transport=spec.name,
        use_limits=use_limits,
        resend_uncertain=resend_uncertain,
        warmup_plan=warmup_plan or None,
        sandbox_config=config,
        status=AccountStatus.PAIRING if spec.pairing == Pairing.DEVICE else AccountStatus.CONNECTED,
    )


def _named(name: str, least: int = 1) -> str:
    """An account's name (services/names.py): the dashboard asks for one, the API may leave it empty."""
    return names.checked(name, "name", NAME_LENGTH, say("name the account"), least)


async def add_in_dashboard(name: str, transport: str, base_url: str) -> Account:
    """The dashboard's Add account: named; an account that pairs by link gets its link at once, so
    the pairing page can show it (the API creates such an account connected)."""
    account = await create_account(_named(name), transport)
    if transport_of(transport).pairing == Pairing.LINK:
        return await pair_by_link(account.id, base_url)
    return account


def cap_today(account: Account, now: datetime | None = None) -> int:
    """The account's daily cap today: by its warm-up plan, or by its age."""
    age_days = ((now or datetime.now(UTC)) - account.created_at).total_seconds() / 86400
    return daily_cap(age_days, get_settings(), account.warmup_plan)


async def get_account(account_id: str) -> Account:
    account = await Account.get_or_none(id=account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} not found")
    return account


async def list_accounts() -> list[Account]:
    return await Account.all().order_by("created_at", "id")


async def rename(account_id: str, name: str) -> Account:
    return await update_account(account_id, name=_named(name))


async def update_account(
    account_id: str,
    *,
    use_limits: bool | None = None,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    resend_uncertain: bool | None = None,
    warmup_plan: list[int] | None = None,
) -> Account:
    account = await get_account(account_id)
    values: dict[str, Any] = {}
    if warmup_plan is not None:
        values["warmup_plan"] = warmup_plan or None
    if use_limits is not None:
        values["use_limits"] = use_limits
    if resend_uncertain is not None:
        values["resend_uncertain"] = resend_uncertain
    if name is not None:
        values["name"] = _named(name, least=0)
    if settings is not None:
        values["sandbox_config"] = _settings(
            transport_of(account.transport), {**account.sandbox_config, **settings}
        )
    if values:
        await Account.filter(id=account_id).update(**values)
        await kick_account(account_id)
    return await get_account(account_id)


async def _device_account(account_id: str) -> Account:
    """An account whose transport pairs a device (whatsapp): only those pair by a code."""
    account = await get_account(account_id)
    if transport_of(account.transport).pairing != Pairing.DEVICE:
        raise Conflict(f"account {account_id!r} is a {account.transport} account; it pairs no device")
    return account


async def _paired_account(account_id: str) -> Account:
    """An account that pairs at all (whatsapp, sandbox): only those log out and pair again."""
    account = await get_account(account_id)
    if transport_of(account.transport).pairing == Pairing.NONE:
        raise Conflict(f"account {account_id!r} is a {account.transport} account; it needs no pairing")
    return account


async def pair_by_phone(account_id: str, phone: str) -> Account:
    """Ask for a code to type on the phone (WhatsApp → Linked devices → Link with phone number)
    instead of scanning the QR code; the code appears on the account's QR endpoint."""
    account = await _device_account(account_id)
    if account.status == AccountStatus.DISCONNECTED and account.device_jid is None:
        account = await pair_again(account_id)  # its pairing failed (WhatsApp could not be reached)
    if account.status != AccountStatus.PAIRING:
        why = say(
            "account is {status}; pairing by phone is for accounts PAIRING", status=account.status.value
        )
        raise Conflict(why)
    try:
        digits = phones.normalise(phone)
    except ValueError as exc:
        raise InvalidInput(say("phone: {why}", why=exc.args[0]), [Problem("phone", exc.args[0])]) from None
    await Account.filter(id=account_id).update(pair_phone=digits, pair_code=None)
    return await get_account(account_id)


async def pair_again(account_id: str) -> Account:
    """Start pairing a new device for an account that was logged out or banned (or never paired).
    A sandbox account is simply linked again, as it was when created."""
    account = await _paired_account(account_id)
    never_linked = (
        transport_of(account.transport).pairing == Pairing.DEVICE
        and account.status == AccountStatus.DISCONNECTED
        and account.device_jid is None
    )
    if account.status in LINKED and not never_linked:  # (a pairing that could not reach WhatsApp)
        raise Conflict(say("account is {status}; it is paired already", status=account.status.value))
    if transport_of(account.transport).pairing == Pairing.LINK:
        await session_events.set_status(account_id, AccountStatus.CONNECTED, paused_until=None)
        await kick_account(account_id)
        return await get_account(account_id)
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


async def open_pairing(account_id: str, base_url: str) -> Account:
    """What opening an account's pairing page does: an account that lost its device (logged out,
    banned) starts pairing a new one (a sandbox account gets a new link); any other is shown as is."""
    account = await get_account(account_id)
    pairing = transport_of(account.transport).pairing
    if account.status not in (AccountStatus.LOGGED_OUT, AccountStatus.BANNED):
        return account
    if pairing == Pairing.DEVICE:
        return await pair_again(account_id)
    if pairing == Pairing.LINK:
        return await pair_by_link(account_id, base_url)
    return account


async def pair_by_link(account_id: str, base_url: str) -> Account:
    """Let a sandbox account pair the way a phone does: its QR code is a link that completes the
    simulated pairing when opened (the dashboard's Add account flow, tried without a phone)."""
    account = await get_account(account_id)
    if transport_of(account.transport).pairing != Pairing.LINK:
        raise Conflict(f"{account.transport} accounts do not pair by link")
    link = f"{base_url.rstrip('/')}/sandbox/pair/{account_id}/{secrets.token_urlsafe(16)}"
    await Account.filter(id=account_id).update(
        status=AccountStatus.PAIRING, qr_code=link, qr_at=datetime.now(UTC)
    )
    return await get_account(account_id)


async def complete_pairing_by_link(account_id: str, token: str) -> Account:
    account = await Account.get_or_none(id=account_id, status=AccountStatus.PAIRING)
    if (
        account is None
        or transport_of(account.transport).pairing != Pairing.LINK
        or not account.qr_code
        or not hmac.compare_digest(account.qr_code.rsplit("/", 1)[-1], token)
    ):
        raise NotFound(say("this pairing link is not valid (any more)"))
    await Account.filter(id=account_id).update(
        status=AccountStatus.CONNECTED, qr_code=None, qr_at=None, phone="sandbox", push_name=account.name
    )
    await kick_account(account_id)
    return await get_account(account_id)


async def log_out(account_id: str) -> Account:
    """Unlink the device: the worker holding the session logs it out of WhatsApp (it leaves the phone's
    Linked devices) and lets it go (a sandbox account: its simulated phone unlinks it). Its unsent
    recipients go to the other accounts of their pools; contracts left without any pause. Pair
    again to use the account."""
    account = await _paired_account(account_id)
    if account.status in (AccountStatus.LOGGED_OUT, AccountStatus.BANNED):
        return account
    await session_events.account_lost(
        account_id, AccountStatus.LOGGED_OUT, "logged out from the dashboard or API"
    )
    return await get_account(account_id)


async def delete_account(account_id: str) -> None:
    account = await get_account(account_id)
    if await PoolMember.exists(account_id=account_id):
        raise Conflict(say("the account still has contracts; delete them first"))
    spec = installed(account)
    if spec is not None and spec.pairing == Pairing.DEVICE and account.status in LINKED:
        raise Conflict(say("the account is still linked to a phone; log it out first (POST …/logout)"))
    try:
        await Account.filter(id=account_id).delete()
    except IntegrityError:  # a contract for it was being created meanwhile
        raise Conflict(say("the account still has contracts; delete them first")) from None
