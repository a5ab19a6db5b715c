from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from api.deps import require_api_key
from api.json_body import CheckedJson
from api.schemas import (
    ERROR_RESPONSES,
    AccountId,
    AccountIn,
    AccountOut,
    AccountUpdate,
    After,
    OptOutOut,
    OptOutPage,
    OptOutsAdded,
    OptOutsIn,
    PairPhoneIn,
    QrOut,
)
from models import Account, AccountStatus
from services import account_health, accounts, optouts, qr_image

router = APIRouter(
    prefix="/api/accounts",
    route_class=CheckedJson,
    tags=["accounts"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def create_account(body: AccountIn) -> AccountOut:
    """`transport: "whatsapp"` starts pairing a real phone: follow `GET /api/accounts/:id/qr`.
    A `sandbox` account is connected at once."""
    sandbox = body.sandbox.model_dump() if body.sandbox else None
    account = await accounts.create_account(
        body.name, body.transport, body.useLimits, sandbox, body.resendUncertain, body.warmupPlan
    )
    return await _out(account)


async def _out(account: Account) -> AccountOut:
    return AccountOut.of(account, (await account_health.health_of([account]))[account.id])


@router.get("", response_model=list[AccountOut])
async def list_accounts() -> list[AccountOut]:
    listed = await accounts.list_accounts()
    health = await account_health.health_of(listed)
    return [AccountOut.of(a, health[a.id]) for a in listed]


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: AccountId) -> AccountOut:
    return await _out(await accounts.get_account(account_id))


@router.put("/{account_id}", response_model=AccountOut)
async def update_account(account_id: AccountId, body: AccountUpdate) -> AccountOut:
    """Change `useLimits` (the seed's switch, at your own risk), `resendUncertain`, the name, or
    sandbox behaviour."""
    account = await accounts.update_account(
        account_id,
        use_limits=body.useLimits,
        name=body.name,
        settings=body.sandbox,
        resend_uncertain=body.resendUncertain,
        warmup_plan=body.warmupPlan,
    )
    return await _out(account)


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(account_id: AccountId) -> Response:
    await accounts.delete_account(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{account_id}/qr", response_model=QrOut)
async def pairing_state(
    account_id: AccountId, format: Literal["json", "png", "svg"] = Query("json")
) -> QrOut | Response:
    """The pairing state: the QR code to scan now (`format=png|svg` for the image itself) or the
    code to type on the phone. WhatsApp rotates the QR code about every 20 s."""
    account = await accounts.get_account(account_id)
    if format == "json":
        return QrOut.of(account)
    image = qr_image.render(account, format)
    return Response(image.content, media_type=image.media_type, headers={"Cache-Control": "no-store"})


@router.get("/{account_id}/qr/stream", response_class=StreamingResponse)
async def pairing_stream(account_id: AccountId) -> StreamingResponse:
    """Server-sent events: a `pairing` event with the pairing state each time it changes (a new QR
    code, a pair code, the status); the stream ends once the account is paired, logged out or banned."""
    await accounts.get_account(account_id)

    async def events() -> AsyncIterator[str]:
        last = None
        for _ in range(PAIRING_STREAM_POLLS):
            state = QrOut.of(await accounts.get_account(account_id))
            if state != last:
                last = state
                yield f"event: pairing\ndata: {json.dumps(state.model_dump(mode='json'))}\n\n"
                if state.status in PAIRING_OVER:
                    return
            await asyncio.sleep(PAIRING_POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


PAIRING_POLL_S = 0.5
PAIRING_STREAM_POLLS = 1200  # ten minutes; a browser's EventSource reconnects by itself
PAIRING_OVER = (AccountStatus.CONNECTED, AccountStatus.LOGGED_OUT, AccountStatus.BANNED)


@router.post("/{account_id}/pair-phone", response_model=QrOut, status_code=status.HTTP_202_ACCEPTED)
async def pair_by_phone(account_id: AccountId, body: PairPhoneIn) -> QrOut:
    """Pair by a code typed on the phone instead of scanning; the code appears as `pairCode` on
    `GET /api/accounts/:id/qr` within a few seconds."""
    return QrOut.of(await accounts.pair_by_phone(account_id, body.phone))


@router.post("/{account_id}/pair", response_model=AccountOut)
async def pair_again(account_id: AccountId) -> AccountOut:
    """Start pairing a new device for a whatsapp account that was logged out or banned."""
    return await _out(await accounts.pair_again(account_id))


@router.post("/{account_id}/logout", response_model=AccountOut)
async def log_out(account_id: AccountId) -> AccountOut:
    """Unlink a whatsapp account's device from the phone; its running contracts pause."""
    return await _out(await accounts.log_out(account_id))


@router.get("/{account_id}/opt-outs", response_model=OptOutPage)
async def list_opt_outs(
    account_id: AccountId,
    limit: int = Query(1000, ge=1, le=10000),
    after: After = None,
) -> OptOutPage:
    """Numbers this account never sends to: those that replied STOP, and those added here."""
    rows, cursor = await optouts.list_opt_outs(account_id, limit, int(after) if after else None)
    return OptOutPage(items=[OptOutOut.of(o) for o in rows], next=str(cursor) if cursor else None)


@router.post("/{account_id}/opt-outs", response_model=OptOutsAdded)
async def add_opt_outs(account_id: AccountId, body: OptOutsIn) -> OptOutsAdded:
    return OptOutsAdded(added=await optouts.add_opt_outs(account_id, body.phoneNumbers, body.reason))


@router.delete("/{account_id}/opt-outs/{phone_number}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_opt_out(account_id: AccountId, phone_number: str) -> Response:
    """Take a number off the list (it asked to receive messages again)."""
    await optouts.remove_opt_out(account_id, phone_number)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
