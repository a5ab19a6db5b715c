from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime

from api.deps import require_api_key
from api.downloads import csv_download, xlsx_download
from api.json_body import CheckedJson
from api.schemas import (
    A_TIME,
    DEADLINE,
    ERROR_RESPONSES,
    START_AT,
    After,
    ContractCreated,
    ContractId,
    ContractIn,
    ContractOut,
    DeadlineIn,
    IdempotencyKeyHeader,
    ImportWindow,
    RecipientOut,
    RecipientPage,
    ScheduleIn,
    StatsOut,
    StatusOut,
    Text,
    chosen_pool,
)
from models import Contract, ContractStatus, RecipientStatus
from models.ids import ID_LENGTH
from services import contracts, exports, idempotency, pools, timezones, users, waiting
from services.errors import InvalidInput
from services.recipient_files import api_import, csv_rows, encoding

CSV_EXAMPLE = "phoneNumber,name\n79001234567,Anna\n79007654321,Boris\n"
MAX_OFFSET = 2**31 - 1  # what every database's integer takes

router = APIRouter(
    prefix="/api/contracts",
    route_class=CheckedJson,
    tags=["contracts"],
    dependencies=[Depends(require_api_key)],
    responses=ERROR_RESPONSES,
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ContractCreated)
async def create_contract(
    body: ContractIn, request: Request, idempotency_key: IdempotencyKeyHeader = None
) -> JSONResponse:
    """Create a contract (PENDING). All or nothing: any invalid recipient rejects the whole request."""

    async def create() -> dict:
        phone_numbers = [r.phoneNumber for r in body.recipients]
        messages = [r.message for r in body.recipients]
        window = body.sendWindow.model_dump() if body.sendWindow else None
        created = await contracts.create_contract(
            body.pool(),
            body.name,
            phone_numbers,
            messages,
            window,
            start_at=body.startAt,
            deadline=body.deadline,
            created_by=users.KEY_USER,
        )
        return ContractCreated.of(created).model_dump(mode="json")

    body_digest = hashlib.sha256(await request.body()).digest() if idempotency_key else b""
    return await _created(request, idempotency_key, body_digest, create)


async def _created(
    request: Request, key: str | None, body_digest: bytes, create: Callable[[], Awaitable[dict]]
) -> JSONResponse:
    """201 with the new contract; with an Idempotency-Key, the first answer to that key and request."""
    if key is None:
        return JSONResponse(await create(), status_code=status.HTTP_201_CREATED)
    fingerprint = hashlib.sha256(body_digest + request.url.query.encode()).hexdigest()
    answer, replayed = await idempotency.once(request.url.path, key, fingerprint, create)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(answer, status_code=status.HTTP_201_CREATED, headers=headers)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractCreated,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def import_contract(
    request: Request,
    accountId: Annotated[Text | None, Query(min_length=1, max_length=ID_LENGTH)] = None,
    accountIds: Annotated[
        list[Text] | None, Query(max_length=100, description="a pool: repeat the parameter per account")
    ] = None,
    name: Annotated[Text, Query(max_length=500)] = "",
    phoneColumn: str | None = Query(None, max_length=500, description="default: phoneNumber, phone…"),
    messageColumn: str | None = Query(None, max_length=500, description="default: message, text…"),
    template: Annotated[Text | None, Query(max_length=4000, description="e.g. `Hello {name}!`")] = None,
    window: ImportWindow = None,
    startAt: Annotated[AwareDatetime | None, Query(description=f"{START_AT} ({A_TIME})")] = None,
    deadline: Annotated[AwareDatetime | None, Query(description=f"{DEADLINE} ({A_TIME})")] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Create a contract from a CSV file (the request body, first row names the columns): UTF-8 with
    or without a byte-order mark, UTF-16, or Windows-1251 (as the Content-Type's `charset` says, else
    told from the bytes), its cells separated
    by `,`, `;` or tabs (the one the first row has most of).
    Each message is the row's message column, or `template` filled from the row. All or nothing;
    problems name the row as `rows[i]`, 0 being the first non-blank row after the header.
    Times take `Z` or an offset (its `+` sent as `%2B`)."""
    # The body goes to a temporary file as it arrives (api.app.BodyLimit bounds it), not into memory,
    # and is parsed from there off the event loop, stopping at the recipient limit.
    digest = hashlib.sha256()
    charset = encoding.declared_in(request.headers.get("content-type"))
    digest.update((charset or "").encode())  # the same bytes in another charset are another request

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            digest.update(chunk)
            yield chunk

    async with csv_rows.spooled(body()) as file:
        parsed = await asyncio.to_thread(
            api_import.read_recipients, file, phoneColumn, messageColumn, template, None, charset
        )

    async def create() -> dict:
        try:
            pool = chosen_pool(accountId, accountIds)
            created = await contracts.create_contract(
                pool,
                name,
                parsed.phone_numbers,
                parsed.messages,
                window,
                start_at=startAt,
                deadline=deadline,
                created_by=users.KEY_USER,
            )
        except InvalidInput as exc:
            raise api_import.as_rows(exc) from None
        return ContractCreated.of(created).model_dump(mode="json")

    return await _created(request, idempotency_key, digest.digest(), create)


@router.get("", response_model=list[ContractOut])
async def list_contracts(
    accountId: Annotated[Text | None, Query(max_length=ID_LENGTH)] = None,
    status: ContractStatus | None = None,
    limit: int = Query(1000, ge=1, le=10000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> list[ContractOut]:
    return await _shown(await contracts.list_contracts(accountId, status, limit, offset))


@router.get("/{contract_id}", response_model=ContractOut)
async def get_contract(contract_id: ContractId) -> ContractOut:
    return (await _shown([await contracts.get_contract(contract_id)]))[0]


async def _shown(listed: list[Contract]) -> list[ContractOut]:
    """Contracts with their pools, why any running one is waiting, and when each will finish."""
    members = await pools.members([c.id for c in listed])
    reasons = await waiting.waiting_reasons(listed)
    finishes = await contracts.estimated_finishes(listed)
    return [ContractOut.of(c, members[c.id], reasons[c.id], finishes[c.id]) for c in listed]


@router.get("/{contract_id}/stats", response_model=StatsOut)
async def contract_stats(
    contract_id: ContractId,
    limit: int | None = Query(
        None, ge=0, le=MAX_OFFSET, description="page size of each phone list; 0 for counts only"
    ),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> StatsOut:
    """The seed's statistics. Without `limit` the phone lists are complete, as in the seed."""
    return StatsOut.of(await contracts.contract_stats(contract_id, limit, offset))


@router.get("/{contract_id}/recipients", response_model=RecipientPage)
async def contract_recipients(
    contract_id: ContractId,
    status: RecipientStatus | None = None,
    limit: int = Query(100, ge=1, le=10000),
    after: After = None,
    phone: str | None = Query(
        None, pattern=r"^[0-9]{1,20}$", description="numbers starting with these digits"
    ),
) -> RecipientPage:
    """The contract's recipients in order, one page at a time, optionally of one status or phone prefix."""
    rows, cursor = await contracts.recipients_page(
        contract_id, status, limit, int(after) if after else None, phone_prefix=phone
    )
    return RecipientPage(
        items=[RecipientOut.of(r) for r in rows], next=None if cursor is None else str(cursor)
    )


ExportZone = Annotated[
    str | None,
    Query(max_length=64, description="the time zone of `sentAt` (an IANA name); UTC if not given"),
]


@router.get(
    "/{contract_id}/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export_contract(
    contract_id: ContractId,
    tz: ExportZone = None,
    excel: Annotated[
        bool, Query(description="for Excel set to Russian: a byte-order mark and `;` between cells")
    ] = False,
) -> StreamingResponse:
    """Every recipient with its status, as CSV: rows numbered from 1, cells that would run as
    spreadsheet formulas prefixed with a quote."""
    zone = timezones.shown_in(tz)
    contract = await contracts.get_contract(contract_id)
    return csv_download(contract.id, zone, for_excel=excel)


@router.get(
    "/{contract_id}/export.xlsx",
    response_class=StreamingResponse,
    responses={200: {"content": {exports.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def export_contract_xlsx(contract_id: ContractId, tz: ExportZone = None) -> StreamingResponse:
    """Every recipient with its status, as an Excel workbook: rows numbered from 1, times as dates."""
    zone = timezones.shown_in(tz)
    contract = await contracts.get_contract(contract_id)
    return await xlsx_download(contract.id, zone)


@router.post("/{contract_id}/start", response_model=StatusOut)
async def start_contract(contract_id: ContractId) -> StatusOut:
    """Start a PENDING contract, or resume a PAUSED one where it stopped."""
    c = await contracts.start_contract(contract_id)
    return StatusOut(id=c.id, status=c.status)


@router.post("/{contract_id}/schedule", response_model=ContractOut)
async def schedule_contract(contract_id: ContractId, body: ScheduleIn) -> ContractOut:
    """Have a PENDING contract start by itself at `startAt`, or (null) only when started."""
    return (await _shown([await contracts.schedule_contract(contract_id, body.startAt)]))[0]


@router.post("/{contract_id}/deadline", response_model=ContractOut)
async def set_deadline(contract_id: ContractId, body: DeadlineIn) -> ContractOut:
    """Change or (null) clear the deadline of a contract that is not over yet."""
    return (await _shown([await contracts.set_deadline(contract_id, body.deadline)]))[0]


@router.post("/{contract_id}/pause", response_model=StatusOut)
async def pause_contract(contract_id: ContractId) -> StatusOut:
    c = await contracts.pause_contract(contract_id)
    return StatusOut(id=c.id, status=c.status)


@router.post("/{contract_id}/cancel", response_model=StatusOut)
async def cancel_contract(contract_id: ContractId) -> StatusOut:
    """Stop a contract that is not over, for good (CANCELLED), keeping its stats and exports: its
    unsent recipients become SKIPPED ("not sent: the contract was cancelled"). Answers once
    messages a worker was sending right now are recorded (up to 30 s): nothing of it is sent after
    that. 409 when it is over already (COMPLETED, FAILED or CANCELLED)."""
    c = await contracts.cancel_contract(contract_id, users.KEY_USER)
    return StatusOut(id=c.id, status=c.status)


@router.delete("/{contract_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contract(contract_id: ContractId) -> Response:
    """Remove the contract with its recipients and report; a running one is cancelled first, as
    the seed's DELETE did (answered once nothing of it is sent any more). To stop a contract and
    keep its report, cancel it."""
    await contracts.delete_contract(contract_id, users.KEY_USER)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
