"""The new-contract wizard's recipients: a table read from an uploaded CSV or XLSX file or from pasted
text, a phone column and a message template mapped onto it, and the check before creating: invalid
numbers, repeated numbers and opted-out numbers, each named by its row (1 = the first data row).

A table keeps its rows as the CSV text they came in (an XLSX sheet is turned into CSV once) and reads
them again for each step: a million rows as Python lists would take ten times the memory, and reading
them takes a second.

Reading stops at the recipient limit (settings.max_recipients): a file of more rows is refused when
the first row past it is seen. An XLSX workbook is a zip archive: its unpacked size is checked from the
archive's directory before it is opened (a tiny file can unpack to gigabytes), and its sheet is read
row by row up to the limit. A quote (") never closed is refused naming its row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO, TextIO

from openpyxl import load_workbook
from openpyxl.utils import range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
from openpyxl.xml.functions import iterparse

from models import OptOut
from services import phones
from services.contracts import message_fault
from services.csv_import import (
    MESSAGE_COLUMNS,
    PHONE_COLUMNS,
    PLACEHOLDER,
    column_positions,
    csv_fault,
    fill,
    guess_column,
    too_many_rows,
)
from services.errors import InvalidInput, Problem
from settings import get_settings


@dataclass(frozen=True)
class Table:
    columns: list[str]
    text: str  # the data rows, as CSV with `delimiter` (blank lines may be among them)
    delimiter: str
    count: int  # data rows, blank ones left out

    def rows(self) -> Iterator[list[str]]:
        for row in csv.reader(io.StringIO(self.text), delimiter=self.delimiter):
            if any(cell.strip() for cell in row):
                yield row

    def head(self, n: int) -> list[list[str]]:
        return list(islice(self.rows(), n))

    def column_at(self) -> dict[str, int]:
        return column_positions(self.columns)

    def guess(self, candidates: tuple[str, ...]) -> str | None:
        at = guess_column(self.columns, candidates)
        return None if at is None else self.columns[at]

    def phone_column(self) -> str:
        return self.guess(PHONE_COLUMNS) or self.columns[0]

    def default_template(self) -> str:
        message = self.guess(MESSAGE_COLUMNS)
        return f"{{{message}}}" if message else ""


def _table(header: list[str], text: str, delimiter: str, count: int) -> Table:
    if not count:
        raise InvalidInput("the file has no rows under its header", [Problem("file", "no data rows")])
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    return Table(columns, text, delimiter, count)


def from_csv_text(text: str, limit: int | None = None) -> Table:
    """CSV with a header row; the delimiter (comma, semicolon, tab) is guessed from the first line.
    A list of bare phone numbers, one per line, is read as a single column "phone"."""
    return _from_lines(io.StringIO(text.removeprefix("\ufeff"), newline=""), limit)


def from_csv_file(file: BinaryIO, limit: int | None = None) -> Table:
    """from_csv_text for a UTF-8 file, read a line at a time: no more of it than `limit` rows is read."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        return _from_lines(text, limit)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "the file is not UTF-8 text (save it as CSV UTF-8)", [Problem("file", str(exc))]
        ) from None
    finally:
        text.detach()  # the caller's file stays open


def _from_lines(lines: TextIO, limit: int | None) -> Table:
    """The table of the CSV text `lines`, keeping the data rows' text; at most `limit` rows (default:
    settings.max_recipients), refused when row limit + 1 is seen."""
    limit = get_settings().max_recipients if limit is None else limit
    first = lines.readline()
    delimiter = max(",;\t", key=first.count)
    kept = [io.StringIO()]  # the text read so far; the header's is dropped once it is known

    def recorded() -> Iterator[str]:
        for line in chain((first,), lines):
            kept[0].write(line)
            yield line

    reader = csv.reader(recorded(), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidInput("the text cannot be read as CSV", [Problem("file", csv_fault(exc, 1))]) from None
    if not header:
        raise InvalidInput("nothing to read", [Problem("file", "empty")])
    count = 0
    if len(header) == 1 and _looks_like_a_number(header[0]):
        header, count = ["phone"], 1  # no header: the first line is the first row
    else:
        kept[0] = io.StringIO()
    line = reader.line_num  # where the previous row ended
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                count += 1
                if count > limit:
                    raise too_many_rows(limit, "file")
            line = reader.line_num
    except csv.Error as exc:
        row = count + 1
        raise InvalidInput(
            f"row {row} cannot be read as CSV", [Problem(f"row {row}", csv_fault(exc, line + 1))]
        ) from None
    return _table(header, kept[0].getvalue(), delimiter, count)


def _looks_like_a_number(cell: str) -> bool:
    digits = "".join(c for c in cell if c.isdigit())
    return len(digits) >= 7 and len(digits) >= len(cell.strip()) - 5


def from_xlsx(data: bytes | BinaryIO, limit: int | None = None) -> Table:
    """The first sheet of a workbook; numbers written as numbers by Excel become their digits.
    At most `limit` rows (default: settings.max_recipients), read until row limit + 1 is seen."""
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    s = get_settings()
    limit = s.max_recipients if limit is None else limit
    _check_unzipped_size(file, s.max_xlsx_unzipped_bytes, s.max_xlsx_ratio)
    out = io.StringIO()
    writer = csv.writer(out)
    count = seen = 0
    try:
        book = load_workbook(file, read_only=True, data_only=True)
        try:
            rows = book.worksheets[0].iter_rows(values_only=True)
            header = next(rows, None)
            for values in rows:
                row = [_cell(v) for v in values]
                seen += 1
                count += any(cell.strip() for cell in row)
                # Blank rows count too beyond twice the limit: a sheet can claim any row number,
                # and openpyxl fills the gap before it with empty rows.
                if count > limit or seen > 2 * limit:
                    raise too_many_rows(limit, "file")
                writer.writerow(row)
                if out.tell() > s.max_upload_bytes:  # wide rows: the sheet as CSV may not be larger
                    raise InvalidInput(  # than a CSV file may be
                        f"the sheet is larger than {s.max_upload_bytes} bytes as CSV",
                        [Problem("file", f"at most {s.max_upload_bytes} bytes of CSV text")],
                    )
        finally:
            book.close()  # a read-only workbook keeps the archive open until closed
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    if header is None:
        raise InvalidInput("the workbook's first sheet is empty", [Problem("file", "empty")])
    return _table([_cell(v) for v in header], out.getvalue(), ",", count)


def _check_unzipped_size(file: BinaryIO, most: int, ratio: float) -> None:
    """InvalidInput unless the archive's members, as its directory declares them, unpack to at most
    `most` bytes and at most `ratio` times the file's size (zipfile will not unpack a member past its
    declared size). The file is left at its start."""
    try:
        with zipfile.ZipFile(file) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
        size = file.seek(0, io.SEEK_END)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    file.seek(0)
    if unzipped > most or (unzipped > 16 * 1024 * 1024 and unzipped > ratio * size):
        raise InvalidInput(
            f"the workbook unpacks to {unzipped:,} bytes from {size:,}: too large to read",
            [Problem("file", f"at most {most:,} bytes unpacked, and {ratio:g} times the file's size")],
        )


def _sheet_size(self: ReadOnlyWorksheet) -> None:
    """ReadOnlyWorksheet._get_size, which openpyxl (3.1.5) runs as load_workbook opens each sheet, but
    looking no further than where the rows start. openpyxl's own waits for the *end* of <sheetData>
    when the sheet has no <dimension> before it (files written by hand, or by many libraries), so it
    parsed the whole sheet once more and kept an element per row: 3,000,000 rows took +300 MiB and
    doubled the time before a single row was read."""
    with self._get_source() as source:
        for _, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                ref = element.get("ref")
                if ref:
                    self._min_column, self._min_row, self._max_column, self._max_row = range_boundaries(ref)
                return
            if element.tag == DATA_TAG:
                return


ReadOnlyWorksheet._get_size = _sheet_size  # type: ignore[method-assign]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_upload(filename: str, data: bytes | BinaryIO, limit: int | None = None) -> Table:
    """An uploaded file (its bytes, or the file), by its name's extension an XLSX workbook or CSV."""
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return from_xlsx(file, limit)
    return from_csv_file(file, limit)


def template_fault(table: Table, template: str) -> str | None:
    unknown = sorted({p for p in PLACEHOLDER.findall(template) if p not in table.columns})
    if unknown:
        return "no column " + ", ".join(repr(u) for u in unknown)
    if not template.strip():
        return "write the message, or put a {column} in it"
    return None


def messages(table: Table, template: str, limit: int | None = None) -> Iterator[str]:
    column_at = table.column_at()
    for row in islice(table.rows(), limit):
        yield fill(template, row, column_at)


def phone_cells(table: Table, phone_column: str, limit: int | None = None) -> list[str]:
    at = table.column_at()[phone_column]
    return [row[at].strip() if at < len(row) else "" for row in islice(table.rows(), limit)]


@dataclass
class Report:
    """What is wrong with which row (1-based, as staff count rows under the header)."""

    table: Table
    template: str
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # row, as written, why
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # row, number, first row
    opted_out: list[tuple[int, str]] = field(default_factory=list)
    bad_messages: list[tuple[int, str]] = field(default_factory=list)  # row, why
    phone_numbers: list[str] = field(default_factory=list)  # normalised, or "" where invalid

    def dropped_rows(self) -> set[int]:
        return (
            {r for r, _, _ in self.invalid}
            | {r for r, _, _ in self.duplicates}
            | {r for r, _ in self.opted_out}
            | {r for r, _ in self.bad_messages}
        )

    @property
    def clean(self) -> bool:
        return not self.dropped_rows()

    def kept(self) -> tuple[list[str], list[str]]:
        """Phone numbers and messages of the rows that pass every check."""
        dropped = self.dropped_rows()
        out_phones, out_messages = [], []
        for row, message in enumerate(messages(self.table, self.template), start=1):
            if row not in dropped:
                out_phones.append(self.phone_numbers[row - 1])
                out_messages.append(message)
        return out_phones, out_messages


async def check(table: Table, phone_column: str, template: str, account_id: str) -> Report:
    """Every row checked; the row-by-row work runs off the event loop (a million rows take seconds)."""
    report = Report(table, template)
    raw = await asyncio.to_thread(phone_cells, table, phone_column)
    first_row: dict[str, int] = {}
    async for chunk in phones.check_chunks(raw):
        for normalised, reason in chunk:
            row = len(report.phone_numbers) + 1
            written = raw[row - 1]
            number = written if normalised == written else normalised  # one string, not two
            report.phone_numbers.append(number or "")
            if number is None:
                report.invalid.append((row, written, reason or "invalid"))
            elif number in first_row:
                report.duplicates.append((row, number, first_row[number]))
            else:
                first_row[number] = row
    del raw
    report.bad_messages = await asyncio.to_thread(_bad_messages, table, template)
    opted = set(await OptOut.filter(account_id=account_id).values_list("phone_number", flat=True))
    report.opted_out = sorted((row, n) for n, row in first_row.items() if n in opted)
    return report


def _bad_messages(table: Table, template: str) -> list[tuple[int, str]]:
    return [
        (row, fault)
        for row, text in enumerate(messages(table, template), start=1)
        if (fault := message_fault(text))
    ]
