"""A fix for openpyxl 3.1.5's read-only worksheets: finding a sheet's size no longer reads the sheet.

openpyxl runs `ReadOnlyWorksheet._get_size` as `load_workbook` opens each sheet. It looks for a
`<dimension>` element, but waits for the *end* of `<sheetData>` when the sheet has none before its
rows (files written by hand, by openpyxl's own write-only mode, or by many libraries), so it parsed
the whole sheet once more and kept an element per row: 3,000,000 rows took +300 MiB and doubled the
time before a single row was read. `_sheet_size` stops where the rows start.

It replaces a private method, so it is applied only to the openpyxl it was written for (the version
pinned in pyproject.toml); with any other, openpyxl's own is kept and the wizard's memory bounds
(docs/BENCHMARKS.md) must be measured again. `apply()` runs once, when services.recipient_table is
imported; calling it again does nothing.
"""

from __future__ import annotations

import logging

import openpyxl
from openpyxl.utils import range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
from openpyxl.xml.functions import iterparse

PINNED = "3.1.5"
log = logging.getLogger(__name__)


def _sheet_size(self: ReadOnlyWorksheet) -> None:
    """ReadOnlyWorksheet._get_size, looking no further than where the rows start."""
    with self._get_source() as source:
        for _, element in iterparse(source, events=("start",)):
            if element.tag == DIMENSION_TAG:
                ref = element.get("ref")
                if ref:
                    self._min_column, self._min_row, self._max_column, self._max_row = range_boundaries(ref)
                return
            if element.tag == DATA_TAG:
                return


def apply() -> bool:
    """Whether the fix is in place: True once applied, False (openpyxl's own kept) for another version."""
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
