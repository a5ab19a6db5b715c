"""A contract's export as a download, for the API's routes and the dashboard's alike."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi.responses import StreamingResponse

from services import exports


def csv_download(contract_id: str, zone: ZoneInfo, for_excel: bool) -> StreamingResponse:
    return StreamingResponse(
        exports.as_csv(contract_id, zone, for_excel=for_excel),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{contract_id}.csv"'},
    )


async def xlsx_download(contract_id: str, zone: ZoneInfo) -> StreamingResponse:
    return StreamingResponse(
        exports.chunks(await exports.as_xlsx(contract_id, zone)),
        media_type=exports.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{contract_id}.xlsx"'},
    )
