"""A contract's recipients as a file: CSV, plain or as Russian Excel opens it, or an XLSX workbook;
read page by page, so a million rows never sit in memory. Rows are numbered from 1, as on screen and
in the wizard's checks; times are in the zone asked for, which the header names.

Messages and error texts come from users and networks, so no cell may run as a spreadsheet formula
(OWASP's CSV-injection advice), whatever separator the spreadsheet splits on: Russian and German
Excel split on `;`, so `x;=1+1` would start a cell at `=`. In CSV every cell is quoted; a cell
starting with = + - @ or with white space is prefixed with a quote; and so is every = + - @ that
follows a separator (, ; | tab, a line break) and any white space or quotes. So exported messages may
differ from the stored ones by such quotes ("- milk" after a line break becomes "'- milk"). In XLSX
every text cell is written as text, which Excel never evaluates, so it is exported as stored (but
for characters XML cannot hold, and past the 32,767 characters a cell holds: use the CSV for
longer messages).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, TextIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from services.contracts import recipients_page
from services.errors import Busy
from texts import say

COLUMNS = ("row", "phoneNumber", "status", "attempts", "sentAt", "errorMessage", "message")
FORMULA = "=+-@＝＋－＠"  # and their full-width forms, which spreadsheets also accept
# A formula character at the start, after any white space or quotes (a spreadsheet strips both);
# or white space at the start at all.
_RISKY_START = re.compile(rf'[\s"]*[{re.escape(FORMULA)}]|\s')
_AFTER_SEPARATOR = re.compile(rf'([,;|\t\r\n][\s"]*)([{re.escape(FORMULA)}])')
PAGE = 5000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_BYTES = 256 * 1024
EXCEL_CELL_CHARS = 32_767  # the most text an Excel cell holds; a message may be longer (the CSV has it all)
_building = asyncio.Semaphore(2)  # workbooks built at once: each takes a core while it is built
BUILD_WAIT_S = 10  # how long a request waits for its turn before it is told to come back (503)
Row = tuple[int, str, str, int, datetime | None, str | None, str]


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if _RISKY_START.match(text):
        text = "'" + text
    return _AFTER_SEPARATOR.sub(r"\1'\2", text)


def header(zone: ZoneInfo) -> list[str]:
    """The columns, the time's named with its zone ("sentAt (Europe/Moscow)")."""
    return [f"{c} ({zone.key})" if c == "sentAt" else c for c in COLUMNS]


async def pages(contract_id: str, zone: ZoneInfo) -> AsyncIterator[list[Row]]:
    """The recipients in contract order, a page at a time; times in `zone`.
    (Call get_contract first: an unknown id must be a 404 before a response starts.)"""
    after = None
    while True:
        rows, after = await recipients_page(contract_id, None, PAGE, after)
        yield [
            (
                r["position"] + 1,
                r["phone_number"],
                r["status"].value,
                r["attempts"],
                r["sent_at"].astimezone(zone) if r["sent_at"] else None,
                r["error_message"],
                r["message"],
            )
            for r in rows
        ]
        if after is None:
            return


async def as_csv(contract_id: str, zone: ZoneInfo, *, for_excel: bool = False) -> AsyncIterator[str]:
    """The header, then one chunk of CSV text per page. `for_excel`: a byte-order mark and `;`
    between cells, which Excel set to Russian (or German, French…) opens as columns; else `,`."""
    buffer = io.StringIO()
    writer = _writer(buffer, for_excel)
    writer.writerow(header(zone))
    async for page in pages(contract_id, zone):
        for *cells, sent_at, error, message in page:
            when = sent_at.isoformat(timespec="seconds") if sent_at else None
            writer.writerow([safe_cell(c) for c in (*cells, when, error, message)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def csv_for_excel(rows: Iterable[Sequence[object]], out: TextIO) -> None:
    """Write rows as CSV that Excel set to Russian opens as columns (a byte-order mark, `;`),
    formulas defused as in an export."""
    _writer(out, for_excel=True).writerows([safe_cell(c) for c in row] for row in rows)


def _writer(buffer: TextIO, for_excel: bool) -> Any:  # a csv.writer (its type is private)
    """Every cell quoted; for Excel, after a byte-order mark, `;` between cells."""
    if for_excel:
        buffer.write(codecs.BOM_UTF8.decode())
    return csv.writer(buffer, delimiter=";" if for_excel else ",", quoting=csv.QUOTE_ALL)


async def as_xlsx(contract_id: str, zone: ZoneInfo) -> IO[bytes]:
    """An XLSX workbook of one sheet, in a temporary file (deleted when closed) read from its start.
    Times are Excel dates in `zone`; the workbook is built off the event loop, a page at a time."""
    try:
        async with asyncio.timeout(BUILD_WAIT_S):
            await _building.acquire()
    except TimeoutError:
        busy = say("other workbooks are being built; try again in a minute, or take the CSV")
        raise Busy(busy, 60) from None
    try:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("recipients")
        sheet.append(header(zone))
        async for page in pages(contract_id, zone):
            await asyncio.to_thread(_append, sheet, page)
        out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, which closes it
        await asyncio.to_thread(book.save, out)
    finally:
        _building.release()
    out.seek(0)
    return out


async def chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """A file's bytes, read off the event loop; the file is closed after (or if the client leaves)."""
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


def _append(sheet, page: list[Row]) -> None:
    for row in page:
        sheet.append(list(_cells(sheet, row)))


def _cells(sheet, row: Row) -> Iterator[object]:
    for value in row:
        if isinstance(value, datetime):
            cell = WriteOnlyCell(sheet, value.replace(tzinfo=None))  # Excel has no zones
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
            yield cell
        elif isinstance(value, str):
            text = ILLEGAL_CHARACTERS_RE.sub("", value)  # XML cannot hold them
            cell = WriteOnlyCell(sheet, _fits_a_cell(text))
            cell.data_type = "s"  # text, never a formula, whatever it starts with
            yield cell
        else:
            yield value


def _fits_a_cell(text: str) -> str:
    """At most EXCEL_CELL_CHARS, counted as Excel does (UTF-16 code units: an emoji is two); a longer
    cell makes Excel call the workbook damaged. Cut, it ends with "…"."""
    if len(text) <= EXCEL_CELL_CHARS // 2:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * EXCEL_CELL_CHARS:
        return text
    return units[: 2 * (EXCEL_CELL_CHARS - 1)].decode("utf-16-le", errors="ignore") + "…"
