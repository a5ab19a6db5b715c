"""Recipients from a CSV file, as marketing staff export them from a spreadsheet.

The first row names the columns. The phone number comes from a column (by default the first one
called phoneNumber, phone, number…); the message either from a column (message, text…) or from a
template whose {placeholders} are filled from the row's columns ("Hello {name}!").

This module reads the file; services.contracts.create_contract checks each recipient and creates
the contract, all or nothing. Rows are counted from 0 after the header, blank lines left out.

Reading stops at the contract size limit (settings.max_recipients): a file of more rows is refused as
soon as the first row past it is seen, and when the file may be that long it is first counted without
keeping anything, so that several oversized files at once cost no memory. A quote (") that is never
closed is refused naming its row: without `strict`, Python's csv module would read the rest of the
file into that one field, merging every following row into one message.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from typing import Any, BinaryIO

from services.errors import InvalidInput, Problem
from settings import get_settings

PHONE_COLUMNS = ("phonenumber", "phone_number", "phone", "number", "msisdn", "телефон", "номер")
MESSAGE_COLUMNS = ("message", "text", "body", "сообщение", "текст")
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SPOOL_BYTES = 1024 * 1024  # an uploaded file is kept in memory up to this size, on disk beyond
CHUNK_BYTES = 256 * 1024  # and written, or read again, this much at a time


@dataclass
class CsvRecipients:
    phone_numbers: list[str]
    messages: list[str]


def as_rows(exc: InvalidInput) -> InvalidInput:
    """A create_contract error about recipients[i], told as rows[i] of the CSV."""
    for p in exc.problems:
        if p.field.startswith("recipients["):
            p.field = "rows[" + p.field.removeprefix("recipients[")
    return exc


def guess_column(names: list[str], candidates: tuple[str, ...]) -> int | None:
    """Where the first of `candidates` (any case) stands among the column `names`, if anywhere."""
    folded = [n.casefold() for n in names]
    return next((folded.index(c) for c in candidates if c in folded), None)


def column_positions(names: list[str]) -> dict[str, int]:
    """Each column name's position; where a name repeats, the first column of that name."""
    return {name: at for at, name in reversed(list(enumerate(names)))}


def _pick(names: list[str], wanted: str | None, defaults: tuple[str, ...], what: str) -> int:
    if wanted is not None:
        if wanted not in names:
            raise InvalidInput(f"no column {wanted!r} in the CSV", [Problem(what, f"not among {names}")])
        return names.index(wanted)
    at = guess_column(names, defaults)
    if at is not None:
        return at
    raise InvalidInput(
        f"no {what} in the CSV header", [Problem(what, f"name it, or call a column one of {list(defaults)}")]
    )


def utf8_lines(file: BinaryIO, refusal: str = "the CSV is not valid UTF-8") -> Iterator[str]:
    """Lines of UTF-8 text (a byte-order mark from Excel is dropped); invalid UTF-8 is InvalidInput
    saying `refusal`. The file is left open (it may be read again): close this with contextlib.closing."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        for line in text:  # noqa: UP028 - `yield from` would close the file when this closes
            yield line
    except UnicodeDecodeError as exc:
        raise InvalidInput(refusal, [Problem("file", str(exc))]) from None
    finally:
        text.detach()


def too_many_rows(limit: int, field: str = "rows") -> InvalidInput:
    return InvalidInput(
        f"the file has more than {limit} rows, the most one contract may hold",
        [Problem(field, f"at most {limit} rows (one recipient each)")],
    )


def csv_fault(exc: csv.Error, line: int) -> str:
    """What a csv.Error means, for a row that starts on `line` (1 = the header)."""
    if "unexpected end of data" in str(exc):
        return (
            f'a quote (") opened in this row (line {line}) is never closed, so every row after it '
            'would become part of one field; close it, or write a quote inside a field as ""'
        )
    return f"line {line}: {exc}"


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV is empty", [Problem("file", "no header row")]) from None
    except csv.Error as exc:
        raise InvalidInput("the CSV cannot be read", [Problem("file", csv_fault(exc, 1))]) from None
    return [h.strip() for h in header]


def data_rows(
    reader: Any, refuse: Callable[[int, str], InvalidInput], first: int = 0
) -> Iterator[list[str]]:  # reader: a csv.reader (its type is private)
    """The non-blank rows after the header. A row that cannot be read raises refuse(at, why): `at`
    counts the non-blank rows before it from `first`, `why` is csv_fault's account of it."""
    at = first
    line = reader.line_num  # where the previous row ended
    try:
        for row in reader:
            if any(cell.strip() for cell in row):  # blank lines, as spreadsheets leave at the end
                yield row
                at += 1
            line = reader.line_num
    except csv.Error as exc:
        raise refuse(at, csv_fault(exc, line + 1)) from None


def _refuse_row(at: int, why: str) -> InvalidInput:
    """The API's way of naming a row: rows[i], 0 being the first after the header."""
    return InvalidInput("the CSV cannot be read", [Problem(f"rows[{at}]", why, at)])


def most_rows(file: BinaryIO) -> int:
    """At least as many as the file's rows after the header: its lines (LF, CRLF or CR) but one,
    found at the speed of reading it. The file is left at its start."""
    file.seek(0)
    breaks = 0
    last = b""
    while chunk := file.read(CHUNK_BYTES):
        breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if last.endswith(b"\r") and chunk.startswith(b"\n"):
            breaks -= 1  # a CRLF split between two chunks
        last = chunk
    file.seek(0)
    lines = breaks if last.endswith((b"\n", b"\r")) else breaks + 1
    return max(lines - 1, 0)


def check_row_count(file: BinaryIO, limit: int) -> None:
    """InvalidInput if the file has more than `limit` data rows, told as soon as row limit + 1 is
    seen; nothing is kept. A file with no more lines than the header and `limit` is not parsed."""
    if most_rows(file) <= limit:
        return
    with closing(utf8_lines(file)) as lines:
        reader = csv.reader(lines, strict=True)
        _header(reader)
        for n, _ in enumerate(data_rows(reader, _refuse_row), start=1):
            if n > limit:
                raise too_many_rows(limit)
    file.seek(0)


@asynccontextmanager
async def spooled(chunks: AsyncIterable[bytes]) -> AsyncIterator[BinaryIO]:
    """The chunks (a request body, an upload) in a temporary file: in memory up to SPOOL_BYTES, on
    disk beyond, written off the event loop CHUNK_BYTES at a time; deleted on exit. The caller bounds
    the total (api.app.BodyLimit for a request)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed below
    try:
        pending = bytearray()
        async for chunk in chunks:
            pending += chunk
            if len(pending) >= CHUNK_BYTES:
                await asyncio.to_thread(spool.write, pending)
                pending = bytearray()
        await asyncio.to_thread(spool.write, pending)
        del pending
        spool.seek(0)
        yield spool  # type: ignore[misc] - a SpooledTemporaryFile is a binary file
    finally:
        spool.close()


def read_recipients(
    file: BinaryIO,
    phone_column: str | None = None,
    message_column: str | None = None,
    template: str | None = None,
    limit: int | None = None,
) -> CsvRecipients:
    """Phone numbers and messages of every row, or InvalidInput if the file itself is unusable or
    has more than `limit` rows (default: settings.max_recipients)."""
    limit = get_settings().max_recipients if limit is None else limit
    if file.seekable():
        check_row_count(file, limit)  # before anything is kept
    with closing(utf8_lines(file)) as lines:  # the file is left as it was, whatever is raised
        return _read_rows(csv.reader(lines, strict=True), phone_column, message_column, template, limit)


def _read_rows(
    rows: Any, phone_column: str | None, message_column: str | None, template: str | None, limit: int
) -> CsvRecipients:
    names = _header(rows)
    phone_at = _pick(names, phone_column, PHONE_COLUMNS, "phoneColumn")
    column_at = column_positions(names)
    if template is not None:
        unknown = sorted({p for p in PLACEHOLDER.findall(template) if p not in names})
        if unknown:
            raise InvalidInput(
                "the template names columns the CSV does not have",
                [Problem("template", f"no column {p!r}") for p in unknown],
            )
        message_at = None
    else:
        message_at = _pick(names, message_column, MESSAGE_COLUMNS, "messageColumn")

    out = CsvRecipients([], [])
    for row in data_rows(rows, _refuse_row):
        if len(out.phone_numbers) == limit:
            raise too_many_rows(limit)
        phone = row[phone_at].strip() if phone_at < len(row) else ""
        if template is not None:
            message = fill(template, row, column_at)
        else:
            message = row[message_at] if message_at < len(row) else ""
        out.phone_numbers.append(phone)
        out.messages.append(message)
    return out


def fill(template: str, row: list[str], column_at: dict[str, int]) -> str:
    """The template with each {column} replaced by the row's cell (no format-string evaluation)."""

    def cell(match: re.Match[str]) -> str:
        at = column_at[match.group(1)]
        return row[at].strip() if at < len(row) else ""

    return PLACEHOLDER.sub(cell, template)
