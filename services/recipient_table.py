"""The new-contract wizard's recipients: a table read from an uploaded CSV or XLSX file or from pasted
text, a phone column and a message template mapped onto it, and the check before creating: invalid
numbers, repeated numbers and opted-out numbers, each named by its row (1 = the first data row).

A table keeps its rows as the UTF-8 bytes of CSV they came in (an XLSX sheet is turned into CSV once)
and reads them again for each step: a million rows as Python lists would take ten times the memory,
and reading them takes a second. Bytes, not str: a str of Cyrillic text takes 2 bytes a character
(4 inside a StringIO), and the bytes are kept as read, never copied again.

Reading stops at the recipient limit (settings.max_recipients): a file of more rows is refused when
the first row past it is seen; and at the size limits in settings.py (max_upload_bytes and the
max_xlsx_* ones), chosen so that reading any accepted file costs at most 300 MiB. An XLSX workbook is
a zip archive: its sizes are checked from the archive's directory before it is opened (a tiny file can
unpack to gigabytes, and openpyxl keeps its shared strings and styles whole), and its sheet is read
row by row up to the limit. A quote (") never closed is refused naming its row.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO

from openpyxl import load_workbook
from openpyxl.packaging.manifest import Manifest
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    ARC_THEME,
    SHARED_STRINGS,
    WORKSHEET_TYPE,
)
from openpyxl.xml.functions import fromstring

from models import OptOut
from services import openpyxl_sheet_size, phones
from services.contracts import message_fault
from services.csv_import import (
    MESSAGE_COLUMNS,
    PHONE_COLUMNS,
    PLACEHOLDER,
    column_positions,
    csv_fault,
    data_rows,
    fill,
    guess_column,
    too_many_rows,
    utf8_lines,
)
from services.errors import InvalidInput, Problem
from settings import Settings, get_settings

openpyxl_sheet_size.apply()


@dataclass(frozen=True)
class Table:
    columns: list[str]
    text: bytes  # CSV with `delimiter` in UTF-8: `skip` rows (the header), then the data rows
    delimiter: str
    count: int  # data rows, blank ones left out (blank lines may be among them in `text`)
    skip: int = 0

    def rows(self) -> Iterator[list[str]]:
        lines = io.TextIOWrapper(io.BytesIO(self.text), encoding="utf-8-sig", newline="")  # no copy
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


def _table(header: list[str], text: bytes, delimiter: str, count: int, skip: int) -> Table:
    if not count:
        raise InvalidInput("the file has no rows under its header", [Problem("file", "no data rows")])
    columns = [h.strip() or f"column {i + 1}" for i, h in enumerate(header)]
    return Table(columns, text, delimiter, count, skip)


def _too_large(what: str, most: int, advice: str = "") -> InvalidInput:
    return InvalidInput(
        f"{what} is larger than {most:,} bytes, the most the wizard reads{advice}",
        [Problem("file", f"at most {most:,} bytes")],
    )


def from_csv_text(text: str, limit: int | None = None, most: int | None = None) -> Table:
    """CSV with a header row; the delimiter (comma, semicolon, tab) is guessed from the first line.
    A list of bare phone numbers, one per line, is read as a single column "phone"."""
    return from_csv_file(io.BytesIO(text.encode("utf-8", "replace")), limit, most)


def from_csv_file(file: BinaryIO, limit: int | None = None, most: int | None = None) -> Table:
    """from_csv_text for a UTF-8 file, read once a block at a time and kept as its bytes: at most `most`
    bytes (default: settings.max_upload_bytes) and `limit` rows (default: settings.max_recipients),
    refused as soon as byte most + 1 or row limit + 1 is read."""
    s = get_settings()
    limit = s.max_recipients if limit is None else limit
    kept = _Kept(file, s.max_upload_bytes if most is None else most)
    refusal = "the file is not UTF-8 text (save it as CSV UTF-8)"
    with closing(utf8_lines(io.BufferedReader(kept), refusal)) as lines:
        first = next(lines, "")
        delimiter = max(",;\t", key=first.count)
        reader = csv.reader(chain((first,), lines), delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InvalidInput(
                "the text cannot be read as CSV", [Problem("file", csv_fault(exc, 1))]
            ) from None
        if not header:
            raise InvalidInput("nothing to read", [Problem("file", "empty")])
        skip, count = 1, 0
        if len(header) == 1 and _looks_like_a_number(header[0]):
            header, skip, count = ["phone"], 0, 1  # no header: the first line is the first row
        for _ in data_rows(reader, _refuse_row, first=count):
            count += 1
            if count > limit:
                raise too_many_rows(limit, "file")
    return _table(header, kept.value(), delimiter, count, skip)


def _refuse_row(at: int, why: str) -> InvalidInput:
    """The wizard's way of naming a row: row N, 1 being the first data row."""
    return InvalidInput(f"row {at + 1} cannot be read as CSV", [Problem(f"row {at + 1}", why)])


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
            raise _too_large("the file", self.most, ": save fewer or shorter rows in each file")
        self.kept.write(data)
        buffer[: len(data)] = data
        return len(data)

    def value(self) -> bytes:
        return self.kept.getvalue()


def _looks_like_a_number(cell: str) -> bool:
    digits = "".join(c for c in cell if c.isdigit())
    return len(digits) >= 7 and len(digits) >= len(cell.strip()) - 5


def from_xlsx(data: bytes | BinaryIO, limit: int | None = None) -> Table:
    """The first sheet of a workbook; numbers written as numbers by Excel become their digits.
    At most `limit` rows (default: settings.max_recipients), read until row limit + 1 is seen."""
    file = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    s = get_settings()
    limit = s.max_recipients if limit is None else limit
    _check_archive(file, s)
    out = io.BytesIO()  # the sheet as CSV in UTF-8, handed over by getvalue() without a copy
    writer = csv.writer(
        io.TextIOWrapper(out, encoding="utf-8", errors="replace", newline="", write_through=True)
    )
    count = seen = 0
    try:
        book = load_workbook(file, read_only=True, data_only=True, keep_links=False)
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
                if out.tell() > s.max_xlsx_text_bytes:  # wide rows
                    raise _too_large("the sheet as CSV text", s.max_xlsx_text_bytes, XLSX_ADVICE)
        finally:
            book.close()  # a read-only workbook keeps the archive open until closed
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    if header is None:
        raise InvalidInput("the workbook's first sheet is empty", [Problem("file", "empty")])
    return _table([_cell(v) for v in header], out.getvalue(), ",", count, 0)


XLSX_ADVICE = ": save the sheet as CSV UTF-8 and upload that"
# Parts openpyxl reads whole by their fixed names, whatever [Content_Types].xml declares them to be.
READ_WHOLE_BY_NAME = {ARC_CONTENT_TYPES, ARC_STYLE, ARC_THEME, ARC_CORE, ARC_CUSTOM}


# A cell longer than this cannot hold a message (65,536 characters, 4 bytes each at most) or a column
# a template could use; a sheet's cells are held whole by openpyxl.
MAX_CELL_BYTES = 1024 * 1024


def _check_archive(file: BinaryIO, s: Settings) -> None:
    """InvalidInput unless the archive's members, as its directory declares them (zipfile will not
    unpack a member past its declared size), unpack to at most s.max_xlsx_unzipped_bytes and
    s.max_xlsx_ratio times the file's size; its shared strings (the part [Content_Types].xml names,
    as openpyxl finds it) to at most s.max_xlsx_strings_bytes; and every other member but the
    worksheets (which are read as a stream) to at most s.max_xlsx_part_bytes together: openpyxl reads
    those whole, at up to 8 (strings) and 120 (styles) bytes of memory per byte. The file is left at
    its start."""
    try:
        with zipfile.ZipFile(file) as archive:
            sizes = {member.filename: member.file_size for member in archive.infolist()}
            _refuse_if_larger("[Content_Types].xml", sizes.get(ARC_CONTENT_TYPES, 0), s.max_xlsx_part_bytes)
            manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        size = file.seek(0, io.SEEK_END)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken archive or manifest raises many kinds
        raise InvalidInput("the file is not a readable XLSX workbook", [Problem("file", str(exc))]) from None
    file.seek(0)
    unzipped = sum(sizes.values())
    if unzipped > s.max_xlsx_unzipped_bytes or (
        unzipped > 16 * 1024 * 1024 and unzipped > s.max_xlsx_ratio * size
    ):
        raise InvalidInput(
            f"the workbook unpacks to {unzipped:,} bytes from {size:,}: too large to read",
            [
                Problem(
                    "file",
                    f"at most {s.max_xlsx_unzipped_bytes:,} bytes unpacked, and {s.max_xlsx_ratio:g} times "
                    "the file's size",
                )
            ],
        )
    declared: dict[str, set[str]] = {}
    for part in manifest.Override:
        declared.setdefault(part.PartName.removeprefix("/"), set()).add(part.ContentType)
    strings = {name for name, types in declared.items() if SHARED_STRINGS in types}
    for name in strings:
        _refuse_if_larger(f"its shared strings ({name})", sizes.get(name, 0), s.max_xlsx_strings_bytes)
    streamed = {
        name
        for name, types in declared.items()
        if types == {WORKSHEET_TYPE} and name not in READ_WHOLE_BY_NAME
    }
    whole = sum(n for name, n in sizes.items() if name not in streamed and name not in strings)
    _refuse_if_larger("its parts other than the sheets and shared strings", whole, s.max_xlsx_part_bytes)
    with zipfile.ZipFile(file) as archive:
        for name in streamed & sizes.keys():
            with archive.open(name) as sheet:
                _refuse_if_larger(f"a cell of {name}", _longest_text(sheet), MAX_CELL_BYTES)
    file.seek(0)


def _longest_text(xml: BinaryIO) -> int:
    """The longest run of the XML without markup: the largest cell (or attribute) openpyxl would
    hold whole while streaming the sheet. Read 1 MiB at a time, so a 400 MiB cell costs nothing."""
    longest = run = 0
    while chunk := xml.read(1 << 20):
        pieces = chunk.split(b"<")
        if len(pieces) == 1:
            run += len(chunk)
        else:
            longest = max(longest, run + len(pieces[0]), max(map(len, pieces[1:-1]), default=0))
            run = len(pieces[-1])
        longest = max(longest, run)
    return longest


def _refuse_if_larger(what: str, size: int, most: int) -> None:
    if size > most:
        raise InvalidInput(
            f"the workbook is too large to read: {what} unpack to {size:,} bytes{XLSX_ADVICE}",
            [Problem("file", f"{what}: at most {most:,} bytes unpacked")],
        )


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
