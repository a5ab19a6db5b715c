"""Account operations: create, list, read, update (useLimits, sandbox behaviour), delete."""

from __future__ import annotations

from typing import Any

from models import Account, Contract, Transport
from services.errors import Conflict, InvalidInput, NotFound, Problem, validate
from tasks.drive import kick_account
from wa.sandbox import SandboxConfig


async def create_account(
    name: str, transport: Transport, use_limits: bool = True, sandbox: dict[str, Any] | None = None
) -> Account:
    if transport != Transport.SANDBOX:
        raise InvalidInput(
            f"transport {transport!s} cannot be created in this build; use 'sandbox'",
            [Problem("transport", "only 'sandbox' is available")],
        )
    config = validate(SandboxConfig, sandbox or {}, "sandbox").model_dump()
    return await Account.create(name=name, transport=transport, use_limits=use_limits, sandbox_config=config)


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
) -> Account:
    account = await get_account(account_id)
    values: dict[str, Any] = {}
    if use_limits is not None:
        values["use_limits"] = use_limits
    if name is not None:
        values["name"] = name
    if sandbox is not None:
        merged = {**account.sandbox_config, **sandbox}
        values["sandbox_config"] = validate(SandboxConfig, merged, "sandbox").model_dump()
    if values:
        await Account.filter(id=account_id).update(**values)
        await kick_account(account_id)
    return await get_account(account_id)


async def delete_account(account_id: str) -> None:
    await get_account(account_id)
    if await Contract.exists(account_id=account_id):
        raise Conflict("the account still has contracts; delete them first")
    await Account.filter(id=account_id).delete()
