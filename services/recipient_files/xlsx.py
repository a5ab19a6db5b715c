"""An uploaded XLSX workbook's first sheet, read safely for the wizard's table.

A workbook is a zip archive: its sizes are checked from the archive's directory before it is opened
(a tiny file can unpack to gigabytes, and openpyxl keeps its shared strings and styles whole), and its
sheet is read row by row, as CSV in UTF-8, up to the recipient limit (settings.max_recipients) and the
max_xlsx_* limits in settings.py.

It also fixes openpyxl 3.1.5's read-only worksheets (see `_sheet_size`), once, as it is imported.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from typing import BinaryIO, NamedTuple

import openpyxl
from openpyxl import load_workbook
from openpyxl.packaging.manifest import Manifest
from openpyxl.utils import range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    ARC_THEME,
    SHARED_STRINGS,
    WORKSHEET_TYPE,
)
from openpyxl.xml.functions import fromstring, iterparse

from services.errors import InvalidInput, Problem
from services.recipient_files.csv_rows import too_large, too_many_rows
from settings import Settings, get_settings
from texts import say

XLSX_ADVICE = say(": save the sheet as CSV UTF-8 and upload that")
# Parts openpyxl reads whole by their fixed names, whatever [Content_Types].xml declares them to be.
READ_WHOLE_BY_NAME = {ARC_CONTENT_TYPES, ARC_STYLE, ARC_THEME, ARC_CORE, ARC_CUSTOM}
# A cell longer than this cannot hold a message (65,536 characters, 4 bytes each at most) or a column
# a template could use; a sheet's cells are held whole by openpyxl.
MAX_CELL_BYTES = 1024 * 1024
PINNED = "3.1.5"  # the openpyxl `_sheet_size` was written for
log = logging.getLogger(__name__)


class Sheet(NamedTuple):
    header: list[str]  # the first row's cells
    text: bytes  # the rows under it as CSV (comma-separated) in UTF-8
    count: int  # those rows, blank ones left out


def first_sheet(file: BinaryIO, limit: int | None = None) -> Sheet:
    """The first sheet of a workbook; numbers written as numbers by Excel become their digits.
    At most `limit` rows (default: settings.max_recipients), read until row limit + 1 is seen."""
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
                    raise too_large(say("the sheet as CSV text"), s.max_xlsx_text_bytes, XLSX_ADVICE)
        finally:
            book.close()  # a read-only workbook keeps the archive open until closed
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise _unreadable(exc) from None
    if header is None:
        raise InvalidInput(say("the workbook's first sheet is empty"), [Problem("file", say("empty"))])
    return Sheet([_cell(v) for v in header], out.getvalue(), count)


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
        raise _unreadable(exc) from None
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


def _sheet_size(self: ReadOnlyWorksheet) -> None:
    """ReadOnlyWorksheet._get_size, looking no further than where the rows start.

    openpyxl runs `_get_size` as `load_workbook` opens each sheet. It looks for a `<dimension>` element,
    but waits for the *end* of `<sheetData>` when the sheet has none before its rows (files written by
    hand, by openpyxl's own write-only mode, or by many libraries), so it parsed the whole sheet once
    more and kept an element per row: 3,000,000 rows took +300 MiB and doubled the time before a
    single row was read."""
    with self._get_source() as source:
        for _, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                ref = element.get("ref")
                if ref:
                    self._min_column, self._min_row, self._max_column, self._max_row = range_boundaries(ref)
                return
            if element.tag == DATA_TAG:
                return


def apply_sheet_size_fix() -> bool:
    """Whether `_sheet_size` is in place: True once applied, False (openpyxl's own kept) for another
    version. It replaces a private method, so it is applied only to the openpyxl it was written for
    (the version pinned in pyproject.toml); with any other the wizard's memory bounds
    (docs/BENCHMARKS.md) must be measured again. Called once, below; calling it again does nothing."""
    if ReadOnlyWorksheet._get_size is _sheet_size:
        return True
    if openpyxl.__version__ != PINNED:
        log.warning(
            "openpyxl %s is not %s: its own ReadOnlyWorksheet._get_size is kept, which reads a sheet "
            "without <dimension> whole when the workbook is opened",
            openpyxl.__version__,
            PINNED,
        )
        return False
    ReadOnlyWorksheet._get_size = _sheet_size  # type: ignore[method-assign]
    return True


apply_sheet_size_fix()


def _unreadable(exc: Exception) -> InvalidInput:
    return InvalidInput(say("the file is not a readable XLSX workbook"), [Problem("file", str(exc))])
