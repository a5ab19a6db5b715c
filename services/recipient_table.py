"""The new-contract wizard's recipients: a table read from an uploaded CSV or XLSX file or from pasted
text, a phone column and a message template mapped onto it, and the check before creating: invalid
numbers, repeated numbers and opted-out numbers, each named by its row (1 = the first data row).

A table keeps its rows as the CSV text they came in (an XLSX sheet is turned into CSV once) and reads
them again for each step: a million rows as Python lists would take ten times the memory, and reading
them takes a second.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from openpyxl import load_workbook

from models import OptOut
from services import phones
from services.contracts import message_fault
from services.csv_import import (
    MESSAGE_COLUMNS,
    PHONE_COLUMNS,
    PLACEHOLDER,
    column_positions,
    fill,
    guess_column,
)
from services.errors import InvalidInput, Problem

MAX_ROWS = 1_000_000


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


def _table(header: list[str], text: str, delimiter: str) -> Table:
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    table = Table(columns, text, delimiter, 0)
    try:
        count = sum(1 for _ in table.rows())
    except csv.Error as exc:
        raise InvalidInput("the text cannot be read as CSV", [Problem("file", str(exc))]) from None
    if not count:
        raise InvalidInput("the file has no rows under its header", [Problem("file", "no data rows")])
    if count > MAX_ROWS:
        raise InvalidInput(f"{count} rows is too many", [Problem("file", f"at most {MAX_ROWS} rows")])
    return Table(columns, text, delimiter, count)


def from_csv_text(text: str) -> Table:
    """CSV with a header row; the delimiter (comma, semicolon, tab) is guessed from the first line.
    A list of bare phone numbers, one per line, is read as a single column "phone"."""
    text = text.removeprefix("\ufeff")
    delimiter = max(",;\t", key=text.split("\n", 1)[0].count)
    lines = io.StringIO(text)
    try:
        header = next(csv.reader(lines, delimiter=delimiter), None)
    except csv.Error as exc:
        raise InvalidInput("the text cannot be read as CSV", [Problem("file", str(exc))]) from None
    if not header:
        raise InvalidInput("nothing to read", [Problem("file", "empty")])
    if len(header) == 1 and _looks_like_a_number(header[0]):
        return _table(["phone"], text, delimiter)
    return _table(header, text[lines.tell() :], delimiter)


def _looks_like_a_number(cell: str) -> bool:
    digits = "".join(c for c in cell if c.isdigit())
    return len(digits) >= 7 and len(digits) >= len(cell.strip()) - 5


def from_xlsx(data: bytes) -> Table:
    """The first sheet of a workbook; numbers written as numbers by Excel become their digits."""
    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        out = io.StringIO()
        csv.writer(out).writerows([_cell(v) for v in row] for row in rows)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    if header is None:
        raise InvalidInput("the workbook's first sheet is empty", [Problem("file", "empty")])
    return _table([_cell(v) for v in header], out.getvalue(), ",")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def from_upload(filename: str, data: bytes) -> Table:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return from_xlsx(data)
    try:
        return from_csv_text(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "the file is not UTF-8 text (save it as CSV UTF-8)", [Problem("file", str(exc))]
        ) from None


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
