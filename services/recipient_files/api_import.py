"""The API's import (POST /api/contracts/import): phone numbers and messages from a CSV body.

This module reads the file (columns and template as in csv_rows); services.contracts.create_contract
checks each recipient and creates the contract, all or nothing. Rows are counted from 0 after the
header, blank lines left out.

Reading stops at the contract size limit (settings.max_recipients): a file of more rows is refused as
soon as the first row past it is seen, and when the file may be that long it is first counted without
keeping anything, so that several oversized files at once cost no memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, BinaryIO

from services.errors import InvalidInput, Problem
from services.recipient_files.csv_rows import (
    CHUNK_BYTES,
    MESSAGE_COLUMNS,
    PHONE_COLUMNS,
    PLACEHOLDER,
    column_positions,
    csv_fault,
    csv_reader,
    data_rows,
    fill,
    guess_column,
    too_many_rows,
)
from services.recipient_files.encoding import detect_in, text_lines
from settings import get_settings


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


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV is empty", [Problem("file", "no header row")]) from None
    except csv.Error as exc:
        raise InvalidInput("the CSV cannot be read", [Problem("file", csv_fault(exc, 1))]) from None
    return [h.strip() for h in header]


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


def check_row_count(file: BinaryIO, limit: int, codec: str) -> None:
    """InvalidInput if the file has more than `limit` data rows, told as soon as row limit + 1 is
    seen; nothing is kept. A file with no more lines than the header and `limit` is not parsed."""
    if most_rows(file) <= limit:
        return
    with closing(text_lines(file, codec)) as lines:
        reader, _ = csv_reader(lines)
        _header(reader)
        for n, _ in enumerate(data_rows(reader, _refuse_row), start=1):
            if n > limit:
                raise too_many_rows(limit)
    file.seek(0)


def read_recipients(
    file: BinaryIO,
    phone_column: str | None = None,
    message_column: str | None = None,
    template: str | None = None,
    limit: int | None = None,
    charset: str | None = None,
) -> CsvRecipients:
    """Phone numbers and messages of every row, or InvalidInput if the file itself is unusable or
    has more than `limit` rows (default: settings.max_recipients). `charset`: the codec the request
    declared (encoding.declared_in), else it is told from the bytes."""
    limit = get_settings().max_recipients if limit is None else limit
    codec = detect_in(file, charset)
    if file.seekable():
        check_row_count(file, limit, codec)  # before anything is kept
    with closing(text_lines(file, codec)) as lines:  # the file is left as it was, whatever is raised
        return _read_rows(csv_reader(lines)[0], phone_column, message_column, template, limit)


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
