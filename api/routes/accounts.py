from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from api.deps import require_api_key
from api.schemas import ERROR_RESPONSES, AccountId, AccountIn, AccountOut, AccountUpdate
from services import accounts

router = APIRouter(
    prefix="/api/accounts",
    tags=["accounts"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def create_account(body: AccountIn) -> AccountOut:
    sandbox = body.sandbox.model_dump() if body.sandbox else None
    return AccountOut.of(await accounts.create_account(body.name, body.transport, body.useLimits, sandbox))


@router.get("", response_model=list[AccountOut])
async def list_accounts() -> list[AccountOut]:
    return [AccountOut.of(a) for a in await accounts.list_accounts()]


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: AccountId) -> AccountOut:
    return AccountOut.of(await accounts.get_account(account_id))


@router.put("/{account_id}", response_model=AccountOut)
async def update_account(account_id: AccountId, body: AccountUpdate) -> AccountOut:
    """Change `useLimits` (the seed's switch, at your own risk), the name, or sandbox behaviour."""
    account = await accounts.update_account(
        account_id, use_limits=body.useLimits, name=body.name, sandbox=body.sandbox
    )
    return AccountOut.of(account)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(account_id: AccountId) -> Response:
    await accounts.delete_account(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
