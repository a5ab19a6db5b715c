"""The new-contract wizard's recipients: a table read from an uploaded CSV or XLSX file or from pasted
text, a phone column and a message template mapped onto it, and the check before creating: invalid
numbers, repeated numbers and opted-out numbers, each named by its row (1 = the first data row)."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field

from openpyxl import load_workbook

from models import OptOut
from services import phones
from services.contracts import message_fault
from services.csv_import import MESSAGE_COLUMNS, PHONE_COLUMNS, PLACEHOLDER, fill
from services.errors import InvalidInput, Problem

MAX_ROWS = 1_000_000


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]

    def column_at(self) -> dict[str, int]:
        return {name: at for at, name in reversed(list(enumerate(self.columns)))}  # the first of a name

    def guess(self, names: tuple[str, ...]) -> str | None:
        folded = [c.casefold() for c in self.columns]
        return next((self.columns[folded.index(n)] for n in names if n in folded), None)

    def phone_column(self) -> str:
        return self.guess(PHONE_COLUMNS) or self.columns[0]

    def default_template(self) -> str:
        message = self.guess(MESSAGE_COLUMNS)
        return f"{{{message}}}" if message else ""


def _table(header: list[str], rows: list[list[str]]) -> Table:
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    kept = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines, as spreadsheets leave
    if not kept:
        raise InvalidInput("the file has no rows under its header", [Problem("file", "no data rows")])
    if len(kept) > MAX_ROWS:
        raise InvalidInput(f"{len(kept)} rows is too many", [Problem("file", f"at most {MAX_ROWS} rows")])
    return Table(columns, kept)


def from_csv_text(text: str) -> Table:
    """CSV with a header row; the delimiter (comma, semicolon, tab) is guessed from the first line.
    A list of bare phone numbers, one per line, is read as a single column "phone"."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))
    except csv.Error as exc:
        raise InvalidInput("the text cannot be read as CSV", [Problem("file", str(exc))]) from None
    if not rows:
        raise InvalidInput("nothing to read", [Problem("file", "empty")])
    if len(rows[0]) == 1 and _looks_like_a_number(rows[0][0]):
        return _table(["phone"], rows)
    return _table(rows[0], rows[1:])


def _looks_like_a_number(cell: str) -> bool:
    digits = "".join(c for c in cell if c.isdigit())
    return len(digits) >= 7 and len(digits) >= len(cell.strip()) - 5


def from_xlsx(data: bytes) -> Table:
    """The first sheet of a workbook; numbers written as numbers by Excel become their digits."""
    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    if not rows:
        raise InvalidInput("the workbook's first sheet is empty", [Problem("file", "empty")])
    return _table(rows[0], rows[1:])


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


def messages(table: Table, template: str, rows: range | None = None) -> list[str]:
    column_at = table.column_at()
    picked = table.rows if rows is None else table.rows[rows.start : rows.stop]
    return [fill(template, row, column_at) for row in picked]


def phone_cells(table: Table, phone_column: str) -> list[str]:
    at = table.column_at()[phone_column]
    return [row[at].strip() if at < len(row) else "" for row in table.rows]


@dataclass
class Report:
    """What is wrong with which row (1-based, as staff count rows under the header)."""

    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # row, as written, why
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # row, number, first row
    opted_out: list[tuple[int, str]] = field(default_factory=list)
    bad_messages: list[tuple[int, str]] = field(default_factory=list)  # row, why
    phone_numbers: list[str] = field(default_factory=list)  # normalised, or "" where invalid
    messages: list[str] = field(default_factory=list)

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
        keep = [i for i in range(len(self.messages)) if i + 1 not in dropped]
        return [self.phone_numbers[i] for i in keep], [self.messages[i] for i in keep]


async def check(table: Table, phone_column: str, template: str, account_id: str) -> Report:
    """Every row checked; the row-by-row work runs off the event loop (a million rows take seconds)."""
    report = Report(messages=await asyncio.to_thread(messages, table, template))
    raw = await asyncio.to_thread(phone_cells, table, phone_column)
    first_row: dict[str, int] = {}
    async for chunk in phones.check_chunks(raw):
        for normalised, reason in chunk:
            row = len(report.phone_numbers) + 1
            report.phone_numbers.append(normalised or "")
            if normalised is None:
                report.invalid.append((row, raw[row - 1], reason or "invalid"))
            elif normalised in first_row:
                report.duplicates.append((row, normalised, first_row[normalised]))
            else:
                first_row[normalised] = row
    report.bad_messages = await asyncio.to_thread(_bad_messages, report.messages)
    opted = set(await OptOut.filter(account_id=account_id).values_list("phone_number", flat=True))
    report.opted_out = [(row, n) for n, row in first_row.items() if n in opted]
    report.opted_out.sort()
    return report


def _bad_messages(texts: list[str]) -> list[tuple[int, str]]:
    return [(i + 1, fault) for i, text in enumerate(texts) if (fault := message_fault(text))]
