"""Recipients from a CSV file, as marketing staff export them from a spreadsheet.

The first row names the columns. The phone number comes from a column (by default the first one
called phoneNumber, phone, number…); the message either from a column (message, text…) or from a
template whose {placeholders} are filled from the row's columns ("Hello {name}!").

This module reads the file; services.contracts.create_contract checks each recipient and creates
the contract, all or nothing. Rows are counted from 0 after the header, blank lines left out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from services.errors import InvalidInput, Problem

PHONE_COLUMNS = ("phonenumber", "phone_number", "phone", "number", "msisdn", "телефон", "номер")
MESSAGE_COLUMNS = ("message", "text", "body", "сообщение", "текст")
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


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


def _lines(file: BinaryIO) -> Iterator[str]:
    """Lines of UTF-8 text (a byte-order mark from Excel is dropped); invalid UTF-8 is a 422."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from text
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV is not valid UTF-8", [Problem("file", str(exc))]) from None


def read_recipients(
    file: BinaryIO,
    phone_column: str | None = None,
    message_column: str | None = None,
    template: str | None = None,
) -> CsvRecipients:
    """Phone numbers and messages of every row, or InvalidInput if the file itself is unusable."""
    rows = csv.reader(_lines(file))
    try:
        header = next(rows)
    except StopIteration:
        raise InvalidInput("the CSV is empty", [Problem("file", "no header row")]) from None
    except csv.Error as exc:
        raise InvalidInput("the CSV cannot be read", [Problem("file", str(exc))]) from None
    names = [h.strip() for h in header]
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
    try:
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue  # blank lines, as spreadsheets leave at the end
            phone = row[phone_at].strip() if phone_at < len(row) else ""
            if template is not None:
                message = fill(template, row, column_at)
            else:
                message = row[message_at] if message_at < len(row) else ""
            out.phone_numbers.append(phone)
            out.messages.append(message)
    except csv.Error as exc:
        at = len(out.phone_numbers)
        raise InvalidInput("the CSV cannot be read", [Problem(f"rows[{at}]", str(exc), at)]) from None
    return out


def fill(template: str, row: list[str], column_at: dict[str, int]) -> str:
    """The template with each {column} replaced by the row's cell (no format-string evaluation)."""

    def cell(match: re.Match[str]) -> str:
        at = column_at[match.group(1)]
        return row[at].strip() if at < len(row) else ""

    return PLACEHOLDER.sub(cell, template)
