"""A contract's recipients as a CSV file, streamed page by page so a million rows never sit in memory.

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return) are
prefixed with a quote, as OWASP advises: messages and error texts come from users and networks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC

from services.contracts import recipients_page

HEADER = ("position", "phoneNumber", "status", "attempts", "sentAt", "errorMessage", "message")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PAGE = 5000


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


async def export_csv(contract_id: str) -> AsyncIterator[str]:
    """The header, then one chunk of CSV text per page of recipients, in contract order.
    (Call get_contract first: an unknown id must be a 404 before the response starts.)"""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    after = None
    while True:
        rows, after = await recipients_page(contract_id, None, PAGE, after)
        for r in rows:
            sent_at = r["sent_at"].astimezone(UTC).isoformat(timespec="seconds") if r["sent_at"] else None
            cells = (r["position"], r["phone_number"], r["status"], r["attempts"], sent_at)
            writer.writerow([*cells, safe_cell(r["error_message"]), safe_cell(r["message"])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if after is None:
            return
