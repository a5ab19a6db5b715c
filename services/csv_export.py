"""A contract's recipients as a CSV file, streamed page by page so a million rows never sit in memory.

Messages and error texts come from users and networks, so no cell may run as a spreadsheet formula
(OWASP's CSV-injection advice), whatever separator the spreadsheet splits on: Russian and German
Excel split on `;`, so `x;=1+1` would start a cell at `=`. Every cell is quoted; a cell starting
with = + - @ or with white space is prefixed with a quote; and so is every = + - @ that follows a
separator (, ; | tab, a line break) and any white space or quotes. So exported messages may differ
from the stored ones by such quotes ("- milk" after a line break becomes "'- milk").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC

from services.contracts import recipients_page

HEADER = ("position", "phoneNumber", "status", "attempts", "sentAt", "errorMessage", "message")
FORMULA = "=+-@＝＋－＠"  # and their full-width forms, which spreadsheets also accept
# A formula character at the start, after any white space or quotes (a spreadsheet strips both);
# or white space at the start at all.
_RISKY_START = re.compile(rf'[\s"]*[{re.escape(FORMULA)}]|\s')
_AFTER_SEPARATOR = re.compile(rf'([,;|\t\r\n][\s"]*)([{re.escape(FORMULA)}])')
PAGE = 5000


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if _RISKY_START.match(text):
        text = "'" + text
    return _AFTER_SEPARATOR.sub(r"\1'\2", text)


async def export_csv(contract_id: str) -> AsyncIterator[str]:
    """The header, then one chunk of CSV text per page of recipients, in contract order.
    (Call get_contract first: an unknown id must be a 404 before the response starts.)"""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(HEADER)
    after = None
    while True:
        rows, after = await recipients_page(contract_id, None, PAGE, after)
        for r in rows:
            sent_at = r["sent_at"].astimezone(UTC).isoformat(timespec="seconds") if r["sent_at"] else None
            cells = (r["position"], r["phone_number"], r["status"], r["attempts"], sent_at)
            writer.writerow([safe_cell(c) for c in (*cells, r["error_message"], r["message"])])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if after is None:
            return
