"""The CSV reading that the API's import and the wizard's table share, as marketing staff export
recipients from a spreadsheet.

The first row names the columns. The phone number comes from a column (by default the first one
called phoneNumber, phone, number…); the message either from a column (message, text…) or from a
template whose {placeholders} are filled from the row's columns ("Hello {name}!").

A quote (") that is never closed is refused naming its row: without `strict`, Python's csv module
would read the rest of the file into that one field, merging every following row into one message.
An upload (a request body, a file in the wizard) is first spooled to a temporary file.
"""

from __future__ import annotations

import asyncio
import csv
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from itertools import chain
from typing import Any, BinaryIO

from services.errors import InvalidInput, Problem
from texts import say

PHONE_COLUMNS = ("phonenumber", "phone_number", "phone", "number", "msisdn", "телефон", "номер")
MESSAGE_COLUMNS = ("message", "text", "body", "сообщение", "текст")
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SPOOL_BYTES = 1024 * 1024  # an uploaded file is kept in memory up to this size, on disk beyond
CHUNK_BYTES = 256 * 1024  # and written, or read again, this much at a time


def guess_column(names: list[str], candidates: tuple[str, ...]) -> int | None:
    """Where the first of `candidates` (any case) stands among the column `names`, if anywhere."""
    folded = [n.casefold() for n in names]
    return next((folded.index(c) for c in candidates if c in folded), None)


def column_positions(names: list[str]) -> dict[str, int]:
    """Each column name's position; where a name repeats, the first column of that name."""
    return {name: at for at, name in reversed(list(enumerate(names)))}


def csv_reader(lines: Iterator[str]) -> tuple[Any, str]:
    """A strict csv.reader of `lines` (see the module's docstring) and its delimiter: a comma, a
    semicolon (Russian Excel's) or a tab (Excel's "Unicode text"), whichever the first line has
    most of."""
    first = next(lines, "")
    delimiter = max(",;\t", key=first.count)
    return csv.reader(chain([first] if first else [], lines), delimiter=delimiter, strict=True), delimiter


def too_many_rows(limit: int, field: str = "rows") -> InvalidInput:
    return InvalidInput(
        say("the file has more than {limit} rows, the most one contract may hold", limit=limit),
        [Problem(field, say("at most {limit} rows (one recipient each)", limit=limit))],
    )


FEWER_ROWS = say(": save fewer or shorter rows in each file")


def too_large(what: str, most: int, advice: str = "") -> InvalidInput:
    """The wizard's refusal of a file, or the CSV text read from it, past a size limit (`what`
    and `advice` said with texts.say, for the dashboard to translate)."""
    return InvalidInput(
        say(
            "{what} is larger than {most:,} bytes, the most the wizard reads{advice}",
            what=what,
            most=most,
            advice=advice,
        ),
        [Problem("file", say("at most {most:,} bytes", most=most))],
    )


def csv_fault(exc: csv.Error, line: int) -> str:
    """What a csv.Error means, for a row that starts on `line` (1 = the header)."""
    if "unexpected end of data" in str(exc):
        return (
            f'a quote (") opened in this row (line {line}) is never closed, so every row after it '
            'would become part of one field; close it, or write a quote inside a field as ""'
        )
    return f"line {line}: {exc}"


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


def fill(template: str, row: list[str], column_at: dict[str, int]) -> str:
    """The template with each {column} replaced by the row's cell (no format-string evaluation)."""

    def cell(match: re.Match[str]) -> str:
        at = column_at[match.group(1)]
        return row[at].strip() if at < len(row) else ""

    return PLACEHOLDER.sub(cell, template)


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
