"""The new-contract wizard's recipients: a table read from an uploaded CSV or XLSX file or from pasted
text, a phone column and a message template mapped onto it, and the check before creating: invalid
numbers, repeated numbers and opted-out numbers, each named by its row (1 = the first data row).

A table keeps its rows as the bytes of CSV they came in, in the file's encoding (UTF-8, UTF-16 or a
Windows code page, services.recipient_files.encoding; an XLSX sheet is turned into UTF-8 CSV once, by
services.recipient_files.xlsx) and reads them again for each step: a million rows as Python lists
would take ten times the memory, and reading them takes a second. Bytes, not str: a str of Cyrillic
text takes 2 bytes a character (4 inside a StringIO), and the bytes are kept as read, never copied
again.

Reading stops at the recipient limit (settings.max_recipients): a file of more rows is refused when
the first row past it is seen; and at the size limits in settings.py (max_upload_bytes, and the
max_xlsx_* ones for a workbook), chosen so that reading any accepted file costs at most 300 MiB.
A quote (") never closed is refused naming its row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from models import OptOut
from services import phones
from services.contracts import message_fault
from services.errors import InvalidInput, Problem
from services.recipient_files import encoding, xlsx
from services.recipient_files.csv_rows import (
    FEWER_ROWS,
    MESSAGE_COLUMNS,
    PHONE_COLUMNS,
    PLACEHOLDER,
    column_positions,
    csv_fault,
    csv_reader,
    data_rows,
    fill,
    guess_column,
    too_large,
    too_many_rows,
)
from settings import get_settings
from texts import Text, say


@dataclass(frozen=True)
class Table:
    columns: list[str]
    text: bytes  # CSV with `delimiter` in `codec`: `skip` rows (the header), then the data rows
    delimiter: str
    count: int  # data rows, blank ones left out (blank lines may be among them in `text`)
    skip: int
    codec: str

    def rows(self) -> Iterator[list[str]]:
        lines = io.TextIOWrapper(io.BytesIO(self.text), encoding=self.codec, newline="")  # no copy
        for row in islice(csv.reader(lines, delimiter=self.delimiter), self.skip, None):
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


def _table(header: list[str], text: bytes, delimiter: str, count: int, skip: int, codec: str) -> Table:
    if not count:
        raise InvalidInput(
            say("the file has no rows under its header"), [Problem("file", say("no data rows"))]
        )
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    return Table(columns, text, delimiter, count, skip, codec)


def from_csv_text(text: str, limit: int | None = None, most: int | None = None) -> Table:
    """CSV with a header row; the delimiter (comma, semicolon, tab) is guessed from the first line.
    Without a header (a list of bare phone numbers, one per line, or rows whose first one has a phone
    number in it) every line is a row, the column of numbers called "phone" (see `_no_header`)."""
    return from_csv_file(io.BytesIO(text.encode("utf-8", "replace")), limit, most)


def from_csv_file(file: BinaryIO, limit: int | None = None, most: int | None = None) -> Table:
    """from_csv_text for a file in any encoding `encoding.detect` knows, read once a block at a time
    and kept as its bytes: at most `most` bytes (default: settings.max_upload_bytes) and `limit` rows
    (default: settings.max_recipients), refused as soon as byte most + 1 or row limit + 1 is read."""
    s = get_settings()
    limit = s.max_recipients if limit is None else limit
    told = encoding.detect_in(file) if file.seekable() else None  # past a plain ASCII start too
    kept = _Kept(file, s.max_upload_bytes if most is None else most)
    buffered = io.BufferedReader(kept, buffer_size=encoding.HEAD_BYTES)
    codec = told or encoding.detect(encoding.head_of(buffered))
    with closing(encoding.text_lines(buffered, codec)) as lines:
        reader, delimiter = csv_reader(lines)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InvalidInput(
                say("the text cannot be read as CSV"), [Problem("file", csv_fault(exc, 1))]
            ) from None
        if not header:
            raise InvalidInput(say("nothing to read"), [Problem("file", say("empty"))])
        skip, count = 1, 0
        if (named := _no_header(header)) is not None:
            header, skip, count = named, 0, 1  # no header: the first line is the first row
        for _ in data_rows(reader, _refuse_row, first=count):
            count += 1
            if count > limit:
                raise too_many_rows(limit, "file")
    return _table(header, kept.value(), delimiter, count, skip, codec)


def _refuse_row(at: int, why: str) -> InvalidInput:
    """The wizard's way of naming a row: row N, 1 being the first data row."""
    return InvalidInput(say("row {n} cannot be read as CSV", n=at + 1), [Problem(f"row {at + 1}", why)])


class _Kept(io.RawIOBase):
    """A binary file read through once, every byte read kept (in a BytesIO, which grows in place and
    hands its bytes over without a copy); more than `most` bytes is InvalidInput."""

    def __init__(self, file: BinaryIO, most: int) -> None:
        self.file, self.most, self.kept = file, most, io.BytesIO()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.file.read(len(buffer))
        if self.kept.tell() + len(data) > self.most:
            raise too_large(say("the file"), self.most, FEWER_ROWS)
        self.kept.write(data)
        buffer[: len(data)] = data
        return len(data)

    def value(self) -> bytes:
        return self.kept.getvalue()


_A_NUMBER = re.compile(r"'?\+?[0-9\s()\-.]*")  # digits, as people space and bracket them


def _no_header(first: list[str]) -> list[str] | None:
    """Column names for a first line that is a row, not a header: one with a cell that is a phone
    number as people write it (7 digits or more, nothing but digits, spaces, brackets, dashes, dots
    and a leading + or '), which no column name is. That cell's column is "phone", the others
    "column N"; None when the first line is a header."""
    at = next((i for i, cell in enumerate(first) if _is_a_number(cell.strip())), None)
    if at is None:
        return None
    return ["phone" if i == at else f"column {i + 1}" for i in range(len(first))]


def _is_a_number(cell: str) -> bool:
    return _A_NUMBER.fullmatch(cell) is not None and sum(c.isdigit() for c in cell) >= 7


def from_upload(filename: str, data: bytes | BinaryIO, limit: int | None = None) -> Table:
    """An uploaded file (its bytes, or the file), by its name's extension an XLSX workbook or CSV."""
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    if filename.lower().endswith((".xlsx", ".xlsm")):
        sheet = xlsx.first_sheet(file, limit)
        return _table(sheet.header, sheet.text, ",", sheet.count, 0, "utf-8")
    return from_csv_file(file, limit)


def template_fault(table: Table, template: str) -> str | None:
    unknown = sorted({p for p in PLACEHOLDER.findall(template) if p not in table.columns})
    if unknown:
        return say("no column {names}", names=", ".join(repr(u) for u in unknown))
    if not template.strip():
        example = "{" + (table.columns[-1] if table.columns else "name") + "}"  # the phone is often first
        return say(
            "write the message; a column's name in braces, like {example}, puts in its cell", example=example
        )
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
    rewritten: int = 0  # numbers read as national ones of the region chosen
    example: tuple[str, str] | None = None  # the first of them, as written and normalised

    def problems(self) -> dict[int, list[Text]]:
        """What is wrong with each row left out, in words."""
        found: dict[int, list[Text]] = defaultdict(list)
        for row, _written, why in self.invalid:
            found[row].append(say("invalid number: {why}", why=why))
        for row, _number, first in self.duplicates:
            found[row].append(say("the same number as row {first}", first=first))
        for row, _number in self.opted_out:
            found[row].append(say("opted out of these accounts"))
        for row, why in self.bad_messages:
            found[row].append(say("the message cannot be sent: {why}", why=why))
        return dict(found)

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


async def check(
    table: Table, phone_column: str, template: str, account_ids: list[str], region: str = ""
) -> Report:
    """Every row checked, a number without a country code read as one of `region` (services.phones);
    the row-by-row work runs off the event loop (a million rows take seconds)."""
    report = Report(table, template)
    raw = await asyncio.to_thread(phone_cells, table, phone_column)
    first_row: dict[str, int] = {}
    async for chunk in phones.check_chunks(raw, region):
        for normalised, reason, rewritten in chunk:
            row = len(report.phone_numbers) + 1
            written = raw[row - 1]
            number = written if normalised == written else normalised  # one string, not two
            report.phone_numbers.append(number or "")
            if rewritten:
                report.rewritten += 1
                report.example = report.example or (written, number)
            if number is None:
                report.invalid.append((row, written, reason or "invalid"))
            elif number in first_row:
                report.duplicates.append((row, number, first_row[number]))
            else:
                first_row[number] = row
    del raw
    report.bad_messages = await asyncio.to_thread(_bad_messages, table, template)
    opted = set(await OptOut.filter(account_id__in=account_ids).values_list("phone_number", flat=True))
    report.opted_out = sorted((row, n) for n, row in first_row.items() if n in opted)
    return report


def _bad_messages(table: Table, template: str) -> list[tuple[int, str]]:
    return [
        (row, fault)
        for row, text in enumerate(messages(table, template), start=1)
        if (fault := message_fault(text))
    ]
